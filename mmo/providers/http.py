"""The HTTP side of a wire call: the shared client (``make_client``), one JSON answer
(``post_json``) and a server-sent-event stream (``open_event_stream``, ``event_json``).

Timeouts: ``Params.timeout_s`` bounds a whole non-streaming attempt; for a stream it bounds each
wait (connecting, then every gap between chunks), since a long answer that keeps arriving is
healthy. A failure after the first event of a stream is a ``StreamCut`` carrying the text so far.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import aclosing, asynccontextmanager
from typing import Any, AsyncGenerator, AsyncIterator, Mapping

import httpx
from httpx_sse import EventSource, ServerSentEvent, aconnect_sse

from mmo._version import __version__
from mmo.core.errors import MalformedResponse, Timeout
from mmo.providers.call_progress import StreamProgress
from mmo.providers.http_errors import CallTarget, ErrorClassifier, decode_error_body, snippet, transport_error


def make_client(*, max_connections: int = 100, timeout_s: float = 60.0) -> httpx.AsyncClient:
    """The one client every adapter shares. ``trust_env`` stays on, so ``HTTP(S)_PROXY`` and
    ``NO_PROXY`` work as users expect; redirects are not followed (an API that redirects a POST
    is misconfigured, and following it could send the key to another host)."""
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    return httpx.AsyncClient(
        limits=limits,
        timeout=httpx.Timeout(timeout_s),
        headers={"user-agent": f"mmo/{__version__}"},
        follow_redirects=False,
    )


def request_timeout(timeout_s: float | None) -> Any:
    """``Params.timeout_s`` as an httpx timeout for every phase, or the client's default."""
    return httpx.Timeout(timeout_s) if timeout_s is not None else httpx.USE_CLIENT_DEFAULT


async def post_json(
    client: httpx.AsyncClient,
    url: str,
    *,
    headers: Mapping[str, str],
    body: Mapping[str, Any],
    timeout_s: float | None,
    target: CallTarget,
    classify: ErrorClassifier,
) -> tuple[Any, httpx.Headers]:
    """One non-streaming POST. Returns the parsed JSON of a 2xx answer and its headers; raises
    the mapped error otherwise. ``timeout_s`` bounds the whole attempt, body included.

    A client with ``post_json_answer`` (the batch client) hands back the raw answer instead of an
    ``httpx.Response``; a 2xx plain body is then decoded here exactly as ``Response.json()`` does
    (``json.loads`` of the bytes), and any other answer is made an ``httpx.Response`` as before."""
    try:
        if timeout_s is None:  # no deadline: an ``asyncio.timeout(None)`` would only cost time
            answer, response = await _send_json(client, url, headers, body, timeout_s)
        else:
            async with asyncio.timeout(timeout_s):
                answer, response = await _send_json(client, url, headers, body, timeout_s)
    except TimeoutError:
        raise target.error(Timeout, f"no complete answer within {timeout_s:g} s") from None
    except httpx.HTTPError as exc:
        raise transport_error(exc, target) from exc
    if answer is not None:
        status, answer_headers, content = answer
        if 200 <= status < 300 and "content-encoding" not in answer_headers:
            try:
                return json.loads(content), answer_headers
            except ValueError:
                pass  # reported below, from the response's text
        response = httpx.Response(status, headers=answer_headers, content=content)
    assert response is not None
    if not 200 <= response.status_code < 300:
        raise classify(response.status_code, response.headers, response.text)
    try:
        return response.json(), response.headers
    except ValueError:
        raise target.error(MalformedResponse, f"answer is not JSON: {snippet(response.text)}", status=response.status_code) from None


async def _send_json(
    client: httpx.AsyncClient, url: str, headers: Mapping[str, str], body: Mapping[str, Any], timeout_s: float | None
) -> tuple[tuple[int, httpx.Headers, bytes] | None, httpx.Response | None]:
    """The raw answer through the client's ``post_json_answer`` when it has one (and it is on),
    else ``(None, response)`` from ``client.post``."""
    direct = getattr(client, "post_json_answer", None)
    if direct is not None:
        answer = await direct(url, json=body, headers=dict(headers), timeout=request_timeout(timeout_s))
        if answer is not None:
            return answer, None
    return None, await client.post(url, json=body, headers=dict(headers), timeout=request_timeout(timeout_s))


@asynccontextmanager
async def open_event_stream(
    client: httpx.AsyncClient,
    url: str,
    *,
    headers: Mapping[str, str],
    body: Mapping[str, Any],
    timeout_s: float | None,
    target: CallTarget,
    classify: ErrorClassifier,
    progress: StreamProgress,
) -> AsyncIterator[AsyncIterator[ServerSentEvent]]:
    """POST and read the answer as server-sent events (httpx-sse: ``\\r\\n\\r\\n`` separators,
    multi-line data). Events with empty data are skipped. An error status, or a 200 that is not an
    event stream, raises the mapped error. ``timeout_s`` bounds each wait (connecting, and each gap
    between chunks), not the whole stream: a long answer that keeps arriving is healthy."""
    try:
        async with aconnect_sse(client, "POST", url, json=body, headers=dict(headers), timeout=request_timeout(timeout_s)) as source:
            await _ensure_event_stream(source.response, target, classify)
            progress.headers = source.response.headers
            async with aclosing(_events(source, progress)) as events:
                yield events
    except httpx.HTTPError as exc:
        raise transport_error(exc, target, partial_text=progress.text if progress.started else None) from exc


async def _ensure_event_stream(response: httpx.Response, target: CallTarget, classify: ErrorClassifier) -> None:
    status = response.status_code
    if not 200 <= status < 300:
        await response.aread()
        raise classify(status, response.headers, response.text)
    content_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type != "text/event-stream":
        await response.aread()
        if _is_error_payload(decode_error_body(response.text)):
            raise classify(None, response.headers, response.text)
        raise target.error(
            MalformedResponse,
            f"expected an event stream, got {content_type or 'no content type'}: {snippet(response.text)}",
            status=status,
        )


def _is_error_payload(payload: Any) -> bool:
    """A JSON error object (or a one-element array of one, as Gemini sends without ``alt=sse``)."""
    if isinstance(payload, list) and payload:
        payload = payload[0]
    return isinstance(payload, dict) and ("error" in payload or payload.get("object") == "error")


async def _events(source: EventSource, progress: StreamProgress) -> AsyncGenerator[ServerSentEvent, None]:
    async with aclosing(source.aiter_sse()) as events:
        async for event in events:
            progress.started = True
            if event.data:  # httpx-sse emits empty events after comments once an id was seen
                yield event


def event_json(event: ServerSentEvent, target: CallTarget) -> Any:
    """The JSON payload of one event; a malformed event is a malformed answer."""
    try:
        return json.loads(event.data)
    except ValueError:
        raise target.error(MalformedResponse, f"stream event is not JSON: {snippet(event.data)}") from None
