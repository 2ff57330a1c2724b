"""The HTTP side of a wire call: the shared client (``make_client``), one JSON answer
(``post_json``) and a server-sent-event stream (``open_event_stream``, ``event_json``), each held
to the provider's transport limits (``mmo.core.transport_limits``), whatever the endpoint or a
proxy in front of it sends.

* Time: connecting is bounded by ``connect_timeout_s`` and every silence, the wait for the first
  byte included, by ``read_idle_timeout_s`` (the client's own timeouts); the whole attempt, a
  stream's too, by its deadline: the request's ``timeout_s``, else ``attempt_deadline_s``. In a
  stream the deadline bounds each wait for the network, never the consumer's own work between
  events (so it cannot cancel the consumer), and the time the consumer takes counts against it.
* Size: bodies are read raw and decoded by ``bounded_body`` (never past ``max_response_bytes``,
  however well they compress), events by ``sse`` (never past ``max_event_bytes``), JSON by
  ``parse_json`` (never deeper than ``max_json_depth``); error bodies are held to the same bounds.

A deadline or a silence is a ``Timeout``, a broken size or depth bound an ``AnswerOverLimit``;
after a stream has shown text, either becomes a ``StreamCut`` carrying that text, as does any
failure after its first event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from contextlib import aclosing, asynccontextmanager
from typing import TYPE_CHECKING, Any, AsyncGenerator, AsyncIterator, Iterator, Mapping

from mmo._version import __version__
from mmo.core.errors import AnswerOverLimit, MalformedResponse, ProviderError, Timeout
from mmo.core.transport_limits import TransportLimits
from mmo.providers.bounded_body import (
    ACCEPT_ENCODING,
    BoundedDecoder,
    LimitExceeded,
    UnreadableBody,
    bounded_chunks,
    check_declared_length,
    content_encoding,
    read_bounded,
)
from mmo.providers.call_progress import StreamProgress
from mmo.providers.http_errors import CallTarget, ErrorClassifier, decode_error_body, light_transport_error, snippet, status_error_class, transport_error
from mmo.providers.light_http import LightHttpError
from mmo.providers.sse import EventParser, ServerSentEvent
from mmo.providers.wire_json import nested_deeper_than, parse_json

if TYPE_CHECKING:
    import httpx

CLIENT_HEADERS = {"user-agent": f"mmo/{__version__}", "accept-encoding": ACCEPT_ENCODING}
WHOLE_ANSWER_EVENT = "mmo-whole-answer"  # a whole completion where an event stream was asked for
_STREAM_HEADERS = {"accept": "text/event-stream", "cache-control": "no-store"}


def make_client(*, max_connections: int = 100, timeout_s: float = 60.0) -> httpx.AsyncClient:
    """The one client every adapter shares. ``trust_env`` stays on, so ``HTTP(S)_PROXY`` and
    ``NO_PROXY`` work as users expect; redirects are not followed (an API that redirects a POST
    is misconfigured, and following it could send the key to another host). It asks only for the
    encodings ``bounded_body`` undoes. Each call sets its own timeouts (``call_timeout``). TLS is
    httpx's, with its trusted roots loaded at the first TLS connection (``mmo.providers.tls``)."""
    import httpx

    from mmo.providers.tls import deferred_trust_context

    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    return httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(timeout_s), headers=CLIENT_HEADERS, follow_redirects=False,
                             verify=deferred_trust_context())


def call_timeout(limits: TransportLimits) -> httpx.Timeout:
    """The client-side timeouts of one call: connect, and the idle bound for every read and
    write. The wait for a pooled connection is bounded by the attempt's deadline alone."""
    import httpx

    idle = limits.read_idle_timeout_s
    return httpx.Timeout(connect=limits.connect_timeout_s, read=idle, write=idle, pool=None)


async def post_json(
    client: httpx.AsyncClient,
    url: str,
    *,
    headers: Mapping[str, str],
    body: Mapping[str, Any],
    limits: TransportLimits,
    target: CallTarget,
    classify: ErrorClassifier,
) -> tuple[Any, Mapping[str, str]]:
    """One non-streaming POST. Returns the parsed JSON of a 2xx answer and its headers; raises
    the mapped error otherwise.

    A client with ``post_json_answer`` sends it itself, held to the same limits (the batch client
    through aiohttp, the single-call client on its own connections: ``light_http``); otherwise
    httpx sends it and ``bounded_body`` reads it."""
    with failures_as_errors(target, limits):
        async with asyncio.timeout(limits.attempt_deadline_s):
            status, answer_headers, content = await _send_json(client, url, headers, body, limits)
    if not 200 <= status < 300:
        raise classified(classify, target, status, answer_headers, body_text(answer_headers, content))
    try:
        return parse_json(content, limits.max_json_depth), answer_headers
    except LimitExceeded as exc:
        raise target.error(AnswerOverLimit, str(exc), status=status) from None
    except ValueError:
        text = body_text(answer_headers, content)
        raise target.error(MalformedResponse, f"answer is not JSON: {snippet(text)}", status=status) from None


async def _send_json(
    client: httpx.AsyncClient, url: str, headers: Mapping[str, str], body: Mapping[str, Any], limits: TransportLimits
) -> tuple[int, Mapping[str, str], bytes]:
    """The status, headers and decoded body of the answer: through the client's
    ``post_json_answer`` when it has one (and it is on), else through httpx."""
    direct = getattr(client, "post_json_answer", None)
    if direct is not None:
        answer = await direct(url, json=body, headers=dict(headers), limits=limits)
        if answer is not None:
            return answer  # type: ignore[no-any-return]
    request = client.build_request("POST", url, json=body, headers=headers, timeout=call_timeout(limits))
    response = await client.send(request, stream=True)
    try:
        return response.status_code, response.headers, await _read_whole(response, limits)
    finally:
        await response.aclose()


async def _read_whole(response: httpx.Response, limits: TransportLimits) -> bytes:
    check_declared_length(response.headers, limits.max_response_bytes)
    return await read_bounded(_raw_body(response), response.headers, limits.max_response_bytes)


def _raw_body(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body as received. A response made in memory (by a mock transport, respx ...) was read
    by httpx when it was built; its stream still holds the bytes as given."""
    if getattr(response, "is_stream_consumed", False):  # an httpx answer (the single-call client's has no such flag)
        import httpx

        if isinstance(response.stream, httpx.AsyncByteStream):
            return response.stream.__aiter__()
    return response.aiter_raw()


@asynccontextmanager
async def open_event_stream(
    client: httpx.AsyncClient,
    url: str,
    *,
    headers: Mapping[str, str],
    body: Mapping[str, Any],
    limits: TransportLimits,
    target: CallTarget,
    classify: ErrorClassifier,
    progress: StreamProgress,
) -> AsyncIterator[AsyncIterator[ServerSentEvent]]:
    """POST and read the answer as server-sent events. Events with empty data are skipped. An
    error status raises the mapped error. A 200 whose body is JSON instead of an event stream is
    read whole, within the same limits (``json_stream_events``): a gateway that drops Gemini's
    ``alt=sse`` gets Gemini's chunks as one JSON array, and a server that ignores ``stream``
    answers with its whole completion. Any other content type is a malformed answer."""
    deadline_at = asyncio.get_running_loop().time() + limits.attempt_deadline_s
    with failures_as_errors(target, limits):
        async with asyncio.timeout_at(deadline_at):
            response = await _send_for_events(client, url, {**headers, **_STREAM_HEADERS}, body, limits)
    try:
        with failures_as_errors(target, limits):
            async with asyncio.timeout_at(deadline_at):
                whole = await _json_instead_of_events(response, limits, target, classify)
        progress.headers = response.headers
        if whole is not None:
            yield json_stream_events(whole)
            return
        async with aclosing(_events(response, limits, deadline_at, target, progress)) as events:
            yield events
    finally:
        try:
            await response.aclose()
        except Exception as error:  # an httpx failure while closing: the answer's own outcome is what counts
            if not _is_httpx_error(error):
                raise


async def _send_for_events(client: httpx.AsyncClient, url: str, headers: Mapping[str, str], body: Mapping[str, Any], limits: TransportLimits) -> Any:
    """The answer, its head read and its body not yet: through the client's ``open_json_stream``
    when it has one (the single-call client, ``light_http``), else through httpx."""
    direct = getattr(client, "open_json_stream", None)
    if direct is not None:
        answer = await direct(url, json=body, headers=headers, limits=limits)
        if answer is not None:
            return answer
    request = client.build_request("POST", url, json=body, headers=headers, timeout=call_timeout(limits))
    return await client.send(request, stream=True)


async def _json_instead_of_events(
    response: httpx.Response, limits: TransportLimits, target: CallTarget, classify: ErrorClassifier
) -> Any | None:
    """``None`` for an event stream (read it as one); the parsed body of a 200 that answered with
    JSON instead. An error status, an error object, or any other content type raises."""
    status = response.status_code
    if not 200 <= status < 300:
        raise classified(classify, target, status, response.headers, body_text(response.headers, await _read_whole(response, limits)))
    content_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type == "text/event-stream":
        return None
    content = await _read_whole(response, limits)
    text = body_text(response.headers, content)
    if content_type != "application/json" and not content_type.endswith("+json"):
        if _is_error_payload(decode_error_body(text)):
            raise classified(classify, target, None, response.headers, text)
        raise target.error(MalformedResponse, f"expected an event stream or JSON, got {content_type or 'no content type'}: {snippet(text)}", status=status)
    try:
        payload = parse_json(content, limits.max_json_depth)
    except LimitExceeded as exc:
        raise target.error(AnswerOverLimit, str(exc), status=status) from None
    except ValueError:
        raise target.error(MalformedResponse, f"answer is not JSON: {snippet(text)}", status=status) from None
    if _is_error_payload(payload) and not (isinstance(payload, list) and len(payload) > 1):
        raise classified(classify, target, None, response.headers, text)
    return payload


def json_stream_events(payload: Any) -> AsyncIterator[ServerSentEvent]:
    """A JSON answer to a stream request as the events an event stream would have carried: each
    element of an array (Gemini's chunks; an error object among them is read as an error event
    is), or one ``WHOLE_ANSWER_EVENT`` holding a whole completion for the adapter's own parser."""
    events = [ServerSentEvent(data=json.dumps(item)) for item in payload] if isinstance(payload, list) else [
        ServerSentEvent(event=WHOLE_ANSWER_EVENT, data=json.dumps(payload))]

    async def replay() -> AsyncGenerator[ServerSentEvent, None]:
        for event in events:
            yield event

    return replay()


def _is_error_payload(payload: Any) -> bool:
    """A JSON error object (or a one-element array of one, as Gemini sends without ``alt=sse``)."""
    if isinstance(payload, list) and payload:
        payload = payload[0]
    return isinstance(payload, dict) and ("error" in payload or payload.get("object") == "error")


async def _events(
    response: httpx.Response, limits: TransportLimits, deadline_at: float, target: CallTarget, progress: StreamProgress
) -> AsyncGenerator[ServerSentEvent, None]:
    """The events of the body, each wait for bytes bounded by the deadline; every failure of the
    reading (not of the consumer) already in the error tree."""
    parser = EventParser(limits.max_event_bytes)
    decoder = BoundedDecoder(content_encoding(response.headers), limits.max_response_bytes)
    with failures_as_errors(target, limits, progress):
        async with aclosing(bounded_chunks(_raw_body(response), decoder, deadline_at)) as chunks:
            async for chunk in chunks:
                for event in parser.feed(chunk):
                    progress.started = True
                    if not event.data:  # as httpx-sse: empty events follow comments once an id was seen
                        continue
                    if nested_deeper_than(event.data, limits.max_json_depth):
                        raise LimitExceeded(f"stream event JSON nested deeper than {limits.max_json_depth} levels (max_json_depth)")
                    yield event


def event_json(event: ServerSentEvent, target: CallTarget) -> Any:
    """The JSON payload of one event (its depth already checked); a malformed event is a
    malformed answer."""
    try:
        return json.loads(event.data)
    except ValueError:
        raise target.error(MalformedResponse, f"stream event is not JSON: {snippet(event.data)}") from None
    except RecursionError:
        raise target.error(AnswerOverLimit, "stream event JSON nested too deeply to read") from None


@contextlib.contextmanager
def failures_as_errors(target: CallTarget, limits: TransportLimits, progress: StreamProgress | None = None) -> Iterator[None]:
    """What went wrong while sending or reading, in the error tree. In a stream (``progress``),
    a bound broken after text was shown is a ``StreamCut`` carrying it, and any transport failure
    after the first event is one too."""
    try:
        yield
    except TimeoutError:
        error = target.error(Timeout, f"no complete answer within {limits.attempt_deadline_s:g} s ({limits.deadline_name})")
        raise (progress.failed(error, target) if progress is not None else error) from None
    except LimitExceeded as exc:
        error = target.error(AnswerOverLimit, str(exc))
        raise (progress.failed(error, target) if progress is not None else error) from None
    except UnreadableBody as exc:
        raise target.error(MalformedResponse, str(exc)) from None
    except LightHttpError as exc:
        partial = progress.text if progress is not None and progress.started else None
        raise light_transport_error(exc, target, limits, partial_text=partial) from None
    except Exception as exc:
        if not _is_httpx_error(exc):
            raise
        partial = progress.text if progress is not None and progress.started else None
        raise transport_error(exc, target, partial_text=partial, limits=limits) from exc  # type: ignore[arg-type]  # an httpx.HTTPError


def _is_httpx_error(error: BaseException) -> bool:
    """An httpx failure (httpx is imported only once a call needed it: none before that)."""
    httpx = sys.modules.get("httpx")
    return httpx is not None and isinstance(error, httpx.HTTPError)


def classified(classify: ErrorClassifier, target: CallTarget, status: int | None, headers: Mapping[str, str], text: str) -> ProviderError:
    """``classify`` of an error answer; a body too deep to walk is judged by its status alone."""
    try:
        return classify(status, headers, text)
    except RecursionError:
        return target.error(status_error_class(status), f"HTTP {status} with a body nested too deeply to read", status=status)


def body_text(headers: Mapping[str, str], content: bytes) -> str:
    """A decoded body as text, in its declared charset (UTF-8 when none or an unknown one)."""
    charset = "utf-8"
    for part in headers.get("content-type", "").split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            charset = value.strip("\"' ")
    try:
        return content.decode(charset, "replace")
    except LookupError:
        return content.decode("utf-8", "replace")

