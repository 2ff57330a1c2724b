"""The batch's HTTP client, sized for its concurrency and the strategy's fan-out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Mapping

if TYPE_CHECKING:
    import httpx


def batch_client(connections: int, environ: Mapping[str, str]) -> Callable[[], httpx.AsyncClient]:
    """httpx over aiohttp (``mmo.providers.fast_client``), or plain httpx where that module is
    absent, with room for ``connections`` at once: the batch's concurrency times the calls one
    row may have in flight together (``concurrent_calls``: a hedge's branches, an ensemble's
    members), so a row's second call never waits for a connection its own first call holds."""
    try:
        from mmo.providers.fast_client import batch_client_factory
    except ModuleNotFoundError as missing:
        if missing.name != "mmo.providers.fast_client":
            raise
        from mmo.providers.http import make_client

        return lambda: make_client(max_connections=connections)
    return batch_client_factory(connections, environ)
