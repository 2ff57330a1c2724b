"""The batch's HTTP client, sized for its concurrency and the strategy's fan-out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Mapping

if TYPE_CHECKING:
    import httpx


def batch_client(concurrency: int, environ: Mapping[str, str]) -> Callable[[], httpx.AsyncClient]:
    """httpx over aiohttp (``mmo.providers.fast_client``), or plain httpx where that module is
    absent."""
    try:
        from mmo.providers.fast_client import batch_client_factory
    except ModuleNotFoundError as missing:
        if missing.name != "mmo.providers.fast_client":
            raise
        from mmo.providers.http import make_client

        return lambda: make_client(max_connections=concurrency)
    return batch_client_factory(concurrency, environ)
