"""Replaying HTTP answers to the provider adapters, with no network: recorded cassettes
(``tests/data/recorded-http``, VCR.py YAML) and hand-written answers, both through
``httpx.MockTransport``.

Two cassette shapes exist (see the data's README): simonw's stock VCR.py files keep the raw body
under ``body.string`` (``!!binary`` gzip bytes when the server compressed it, with
``Content-Encoding: gzip`` kept, so httpx decompresses it as it would live); pydantic-ai's keep
JSON bodies parsed under ``parsed_body`` (re-serialised here) and SSE bodies under ``body.string``.
Bodies are served in small chunks so that event separators (Gemini's ``\\r\\n\\r\\n``) fall across
reads, as they do on a real socket.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import httpx
import yaml

from mmo.catalog.endpoints import ProviderSettings
from mmo.core.types import Completion, Delta
from mmo.providers.anthropic import AnthropicProvider
from mmo.providers.gemini import GeminiProvider
from mmo.providers.openai import OpenAIProvider

RECORDED = Path(__file__).parent.parent / "data" / "recorded-http"
TEST_KEY = "sk-test-0123456789-SECRET"

# Recomputed (or meaningless) once a body is re-served from memory.
_DROPPED_HEADERS = {"content-length", "transfer-encoding"}


@dataclass(frozen=True)
class Interaction:
    """One recorded request and the answer the real server gave."""

    cassette: str  # path relative to RECORDED, e.g. "openai/pydantic-ai__test_openai_instructions.yaml"
    index: int
    method: str
    uri: str
    request_body: Any
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes  # as it went over the wire (still gzip-compressed when the headers say so)

    @property
    def id(self) -> str:
        return f"{self.cassette}#{self.index}"

    @property
    def vendor(self) -> str:
        return self.cassette.split("/", 1)[0]

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def response(self, chunk_size: int = 7) -> httpx.Response:
        return httpx.Response(self.status, headers=list(self.headers), stream=ChunkedStream(self.body, chunk_size))


class ChunkedStream(httpx.AsyncByteStream):
    """A body served a few bytes at a time; ``fail_with`` is raised after the last chunk (a
    connection dropped mid-answer)."""

    def __init__(self, body: bytes, chunk_size: int = 7, fail_with: Exception | None = None) -> None:
        self._body, self._size, self._fail = body, chunk_size, fail_with
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self._body), self._size):
            yield self._body[start : start + self._size]
        if self._fail is not None:
            raise self._fail

    async def aclose(self) -> None:
        self.closed = True


def cassette_paths(root: Path = RECORDED) -> list[Path]:
    return sorted(root.rglob("*.yaml"))


def load_cassette(path: Path, root: Path = RECORDED) -> list[Interaction]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    name = path.relative_to(root).as_posix()
    return [_interaction(name, i, item) for i, item in enumerate(data["interactions"])]


def all_interactions(root: Path = RECORDED) -> list[Interaction]:
    return [i for path in cassette_paths(root) for i in load_cassette(path, root)]


def _interaction(cassette: str, index: int, item: dict[str, Any]) -> Interaction:
    request, response = item["request"], item["response"]
    body, raw = _response_body(response)
    headers = tuple(
        (name, str(value))
        for name, values in (response.get("headers") or {}).items()
        for value in (values if isinstance(values, list) else [values])
        if name.lower() not in _DROPPED_HEADERS and (raw or name.lower() != "content-encoding")
    )
    return Interaction(
        cassette=cassette,
        index=index,
        method=request["method"],
        uri=request["uri"],
        request_body=_request_body(request),
        status=int(response["status"]["code"]),
        headers=headers,
        body=body,
    )


def _request_body(request: dict[str, Any]) -> Any:
    if "parsed_body" in request:
        return request["parsed_body"]
    body = request.get("body")
    if isinstance(body, dict):
        body = body.get("string")
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    return json.loads(body) if body else None


def _response_body(response: dict[str, Any]) -> tuple[bytes, bool]:
    """The body bytes, and whether they are the raw wire bytes (so Content-Encoding applies)."""
    if "parsed_body" in response:
        return json.dumps(response["parsed_body"]).encode("utf-8"), False
    body = (response.get("body") or {}).get("string", "")
    if isinstance(body, bytes):
        return body, True
    return body.encode("utf-8"), False


# ---------------------------------------------------------------------------------------------
# Adapters over a mock transport

Handler = Callable[[httpx.Request], "httpx.Response | Awaitable[httpx.Response]"]

_ADAPTERS = {"openai": OpenAIProvider, "anthropic": AnthropicProvider, "gemini": GeminiProvider}
_BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
}


def make_provider(
    kind: str,
    handler: Handler,
    *,
    name: str | None = None,
    base_url: str | None = None,
    key: str | None = TEST_KEY,
    warnings: list[str] | None = None,
) -> Any:
    """An adapter of wire ``kind`` whose every request goes to ``handler``."""
    settings = ProviderSettings(name or kind, kind, base_url or _BASE_URLS[kind])  # type: ignore[arg-type]
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    on_warning = warnings.append if warnings is not None else None
    return _ADAPTERS[kind](settings, key, client, on_warning=on_warning)


async def collect(stream: AsyncIterator[Delta]) -> tuple[list[str], Completion]:
    """The text deltas of a stream, and its final completion (checked to come once, last)."""
    texts: list[str] = []
    final: Completion | None = None
    async for delta in stream:
        assert final is None, "nothing may follow the final delta"
        if delta.final is not None:
            final = delta.final
        else:
            texts.append(delta.text)
    assert final is not None, "a stream must end with a final delta"
    return texts, final


def sse(*events: str, separator: str = "\n\n") -> bytes:
    """An event-stream body from ``data:`` payloads (or whole ``event:``/``data:`` blocks)."""
    blocks = [e if e.startswith(("event:", "data:", ":")) else f"data: {e}" for e in events]
    return "".join(b + separator for b in blocks).encode("utf-8")


def json_answer(status: int, payload: Any, headers: dict[str, str] | None = None) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, json=payload, headers=headers or {})


def stream_answer(body: bytes, *, status: int = 200, fail_with: Exception | None = None, chunk_size: int = 5) -> Handler:
    headers = {"content-type": "text/event-stream; charset=utf-8"}
    return lambda request: httpx.Response(status, headers=headers, stream=ChunkedStream(body, chunk_size, fail_with))


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]
