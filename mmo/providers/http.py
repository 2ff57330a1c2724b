"""What the three wire adapters share: the HTTP client, reading rate-limit hints, turning transport
failures and error bodies into the error tree, and reading a server-sent-event stream.

Vendor specifics (body shapes, which code means what) live in ``openai.py``, ``anthropic.py`` and
``gemini.py``; this module only knows HTTP. Sections, top to bottom:

* the client (``make_client``) and the per-call target (``CallTarget``: who an error is about,
  and the one secret it must never repeat);
* durations: ``parse_retry_after``, ``parse_go_duration``, ``RateLimitInfo``;
* errors: ``status_error_class``, ``ErrorDetails``, ``transport_error``, ``snippet``;
* answers: ``WireAnswer`` (a parsed vendor answer, turned into a ``Completion``);
* calls: ``post_json`` (one JSON answer) and ``open_event_stream`` (SSE) with ``StreamProgress``;
* ``WireProvider``: construction, identity and the parameter rules, shared by the adapters.

Timeouts: ``Params.timeout_s`` bounds a whole non-streaming attempt; for a stream it bounds each
wait (connecting, then every gap between chunks), since a long answer that keeps arriving is
healthy. A failure after the first event of a stream is a ``StreamCut`` carrying the text so far.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from contextlib import aclosing, asynccontextmanager
from functools import partial
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from time import perf_counter
from typing import Any, AsyncIterator, Callable, Mapping, Protocol

import httpx
from httpx_sse import EventSource, ServerSentEvent, aconnect_sse

from mmo._version import __version__
from mmo.core.errors import (
    AuthFailed,
    BadRequest,
    ConfigError,
    ConnectionFailed,
    MalformedResponse,
    MmoError,
    ModelNotFound,
    Overloaded,
    ProviderError,
    QuotaExhausted,
    RateLimited,
    ServerError,
    StreamCut,
    Timeout,
    TransientError,
)
from mmo.core.types import Completion, Delta, FinishReason, Request, ToolCall, Usage
from mmo.providers.catalogue import ProviderSettings
from mmo.runtime.capabilities import apply_parameter_rules

# ---------------------------------------------------------------------------------------------
# The client and the call target


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


@dataclass(frozen=True, slots=True)
class CallTarget:
    """Who a failure is about. ``secret`` is the API key of this call, kept only to scrub it out of
    anything a server echoes back (some echo request headers in error bodies); it is excluded from
    ``repr`` and comparisons."""

    provider: str
    model: str
    secret: str | None = field(default=None, repr=False, compare=False)

    def scrub(self, text: str) -> str:
        if self.secret and len(self.secret) >= 4:
            return text.replace(self.secret, "[redacted]")
        return text

    def error(
        self,
        cls: type[ProviderError],
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        code: str | None = None,
        **extra: Any,
    ) -> ProviderError:
        return cls(
            self.scrub(message) or "(no message)",
            provider=self.provider,
            model=self.model,
            status=status,
            retry_after=retry_after,
            code=self.scrub(code) if code else None,
            **extra,
        )


def plain_json(value: Any) -> Any:
    """Mappings and tuples (as frozen params hold them) to dicts and lists, for ``json=``."""
    if isinstance(value, Mapping):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json(v) for v in value]
    return value


def merge_extra(body: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``Params.extra`` merged into a request body. Objects present on both sides are merged key by
    key (so ``{"generationConfig": {"topK": 40}}`` adds to the config instead of replacing it);
    anything else in ``extra`` wins, verbatim."""
    merged = dict(body)
    for key, value in plain_json(extra).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_extra(merged[key], value)
        else:
            merged[key] = value
    return merged


# ---------------------------------------------------------------------------------------------
# Durations and rate-limit hints

_GO_DURATION = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:h|ms|m|s|us|µs|μs|ns)")
_GO_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ns": 1e-9}


def parse_go_duration(text: str | None) -> float | None:
    """Seconds in a Go duration string (``6m0s``, ``1h2m3.5s``, ``2ms``, ``0``) as OpenAI sends in
    ``x-ratelimit-reset-*``; also reads protobuf durations (Gemini's ``"37s"``). ``None`` when the
    text is not one, or is negative."""
    text = (text or "").strip()
    if text == "0":
        return 0.0
    if not text or _GO_DURATION.sub("", text):
        return None
    total = 0.0
    for piece in _GO_DURATION.findall(text):
        unit = piece.lstrip("0123456789.")
        total += float(piece[: len(piece) - len(unit)]) * _GO_UNITS[unit]
    return total


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` first, then ``retry-after`` (seconds or an HTTP
    date). Never negative; ``None`` when absent or unreadable."""
    millis = _finite(headers.get("retry-after-ms"))
    if millis is not None:
        return max(0.0, millis / 1000.0)
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _finite(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def _finite(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """The rate-limit headers of one answer. Resets are seconds from the answer's arrival.
    Placeholders some gateways send (``-1``) read as unknown."""

    limit_requests: int | None = None
    remaining_requests: int | None = None
    reset_requests_s: float | None = None
    limit_tokens: int | None = None
    remaining_tokens: int | None = None
    reset_tokens_s: float | None = None


def parse_rate_limits(headers: Mapping[str, str], *, now: datetime | None = None) -> RateLimitInfo | None:
    """OpenAI-style ``x-ratelimit-*`` (Go-duration resets) or Anthropic ``anthropic-ratelimit-*``
    (RFC 3339 resets); ``None`` when the answer carries neither."""
    if any(k.lower().startswith("anthropic-ratelimit-") for k in headers):
        at = now or datetime.now(timezone.utc)
        read = lambda kind, part: headers.get(f"anthropic-ratelimit-{kind}-{part}")  # noqa: E731
        return RateLimitInfo(
            _count(read("requests", "limit")), _count(read("requests", "remaining")), _until(read("requests", "reset"), at),
            _count(read("tokens", "limit")), _count(read("tokens", "remaining")), _until(read("tokens", "reset"), at),
        )
    if any(k.lower().startswith("x-ratelimit-") for k in headers):
        read = lambda part: headers.get(f"x-ratelimit-{part}")  # noqa: E731
        return RateLimitInfo(
            _count(read("limit-requests")), _count(read("remaining-requests")), parse_go_duration(read("reset-requests")),
            _count(read("limit-tokens")), _count(read("remaining-tokens")), parse_go_duration(read("reset-tokens")),
        )
    return None


def _count(text: str | None) -> int | None:
    try:
        value = int(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and value >= 0 else None


def _until(text: str | None, now: datetime) -> float | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now).total_seconds())


# ---------------------------------------------------------------------------------------------
# Errors

_CONTEXT_OVERFLOW = re.compile(
    r"context[_ ]length[_ ]exceeded|maximum context length|prompt is too long|context window"
    r"|input token count.*exceeds|exceeds the maximum number of tokens",
    re.IGNORECASE | re.DOTALL,
)


def is_context_overflow(status: int | None, text: str | None) -> bool:
    """Whether a refusal says the prompt did not fit the context window. Only a 4xx other than
    429 (or an in-stream error) counts: a rate-limit message about tokens per minute must not."""
    if status is not None and (status == 429 or not 400 <= status < 500):
        return False
    return bool(text) and bool(_CONTEXT_OVERFLOW.search(text or ""))


def status_error_class(status: int | None) -> type[ProviderError]:
    """The error class an HTTP status means when the body says nothing more specific.
    ``None`` is an error reported inside an accepted (HTTP 200) answer: most often trouble
    upstream of the API, so a transient server error."""
    if status is None:
        return ServerError
    if status == 429:
        return RateLimited
    if status in (503, 529):
        return Overloaded
    if status in (408, 409) or status >= 500:
        return ServerError
    if status in (401, 403):
        return AuthFailed
    if status == 402:
        return QuotaExhausted
    if status == 404:
        return ModelNotFound
    if status >= 400:
        return BadRequest
    return MalformedResponse  # a redirect or an informational status: not an answer


@dataclass(frozen=True, slots=True)
class ErrorDetails:
    """A failure as the provider described it. ``cls`` is set when the body decides the class
    (an ``insufficient_quota`` code, an ``API_KEY_INVALID`` reason ...); otherwise the status does."""

    message: str
    code: str | None = None
    cls: type[ProviderError] | None = None
    retry_after: float | None = None

    def to_error(self, target: CallTarget, status: int | None, headers: Mapping[str, str]) -> ProviderError:
        cls = self.cls or status_error_class(status)
        retry_after = self.retry_after if self.retry_after is not None else parse_retry_after(headers)
        return target.error(cls, self.message, status=status, retry_after=retry_after, code=self.code)


def decode_error_body(text: str) -> Any:
    """An error body as JSON when it is JSON, else the text itself (proxies answer with HTML)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def snippet(text: str, limit: int = 300) -> str:
    """A short, one-line excerpt of a body that was not the JSON we expected."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def as_text(value: Any) -> str | None:
    """A code that may be a string or a number (OpenRouter, vLLM) as text."""
    return None if value is None else str(value)


def transport_error(exc: httpx.HTTPError, target: CallTarget, *, partial_text: str | None = None) -> MmoError:
    """An httpx failure in the error tree. ``partial_text`` is given once a stream has delivered
    events: a failure then is a cut stream, whatever the socket said, so the text is not lost."""
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if partial_text is not None:
        return target.error(StreamCut, f"stream broken after it started: {detail}", partial_text=partial_text)
    if isinstance(exc, httpx.TimeoutException):
        return target.error(Timeout, f"no answer in time ({detail})")
    if isinstance(exc, httpx.UnsupportedProtocol):
        return ConfigError(target.scrub(f"provider {target.provider!r} has an unusable base URL: {detail}"))
    if isinstance(exc, (httpx.DecodingError, httpx.TooManyRedirects)):
        return target.error(MalformedResponse, f"unreadable answer: {detail}")
    return target.error(ConnectionFailed, detail)


ErrorClassifier = Callable[[int | None, Mapping[str, str], str], ProviderError]
"""(status or None for an error inside a 200 answer, response headers, body text) -> the error."""


# ---------------------------------------------------------------------------------------------
# Answers


@dataclass(frozen=True, slots=True)
class WireAnswer:
    """One vendor answer, parsed: what every adapter hands to ``completion``."""

    text: str
    usage: Usage
    finish_reason: FinishReason
    raw_finish_reason: str | None
    tool_calls: tuple[ToolCall, ...] = ()
    reported_model: str | None = None
    avg_logprob: float | None = None

    def completion(self, model_id: str, clock: Stopwatch) -> Completion:
        # Some servers finish a tool-calling turn with a plain "stop" (Gemini always does).
        finish: FinishReason = "tool_calls" if self.tool_calls and self.finish_reason == "stop" else self.finish_reason
        return Completion(
            text=self.text,
            model_id=model_id,
            usage=self.usage,
            finish_reason=finish,
            tool_calls=self.tool_calls,
            reported_model=self.reported_model,
            latency_ms=clock.elapsed_ms(),
            ttft_ms=clock.ttft_ms,
            avg_logprob=self.avg_logprob,
            raw_finish_reason=self.raw_finish_reason,
        )


def count(value: Any) -> int:
    """A token count from a vendor body: missing, null or junk is 0."""
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


def json_text(value: Any) -> str:
    """Tool-call arguments that arrived as an object, as the JSON text ``ToolCall`` keeps."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------------------------------------
# Calls


class Stopwatch:
    """Latency and time to first token of one call, on ``time.perf_counter``."""

    __slots__ = ("_start", "_first")

    def __init__(self) -> None:
        self._start = perf_counter()
        self._first: float | None = None

    def first_token(self) -> None:
        if self._first is None:
            self._first = perf_counter()

    @property
    def ttft_ms(self) -> float | None:
        return None if self._first is None else (self._first - self._start) * 1000.0

    def elapsed_ms(self) -> float:
        return (perf_counter() - self._start) * 1000.0


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
) -> Any:
    """One non-streaming POST. Returns the parsed JSON of a 2xx answer; raises the mapped error
    otherwise. ``timeout_s`` bounds the whole attempt, body included."""
    try:
        async with asyncio.timeout(timeout_s):
            response = await client.post(url, json=body, headers=dict(headers), timeout=request_timeout(timeout_s))
    except TimeoutError:
        raise target.error(Timeout, f"no complete answer within {timeout_s:g} s") from None
    except httpx.HTTPError as exc:
        raise transport_error(exc, target) from exc
    if not 200 <= response.status_code < 300:
        raise classify(response.status_code, response.headers, response.text)
    try:
        return response.json()
    except ValueError:
        raise target.error(MalformedResponse, f"answer is not JSON: {snippet(response.text)}", status=response.status_code) from None


class StreamProgress:
    """What a stream has delivered so far. Decides whether a failure is a cut stream (after the
    first event) or a plain connection error, and keeps the partial text for ``StreamCut``."""

    __slots__ = ("started", "_parts", "clock")

    def __init__(self) -> None:
        self.started = False
        self._parts: list[str] = []
        self.clock = Stopwatch()

    def add_text(self, text: str) -> None:
        if text:
            self.clock.first_token()
            self._parts.append(text)

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def failed(self, error: ProviderError, target: CallTarget) -> ProviderError:
        """An error event inside the stream. Once text has been shown, a transient error becomes a
        ``StreamCut`` carrying that text (the cause stays chained); a permanent one is raised as
        is, since retrying the same call would fail again."""
        if not self._parts or not isinstance(error, TransientError):
            return error
        cut = target.error(
            StreamCut,
            f"stream cut after {len(self.text)} characters: {error.provider_message}",
            code=error.code,
            retry_after=error.retry_after,
            partial_text=self.text,
        )
        cut.__cause__ = error
        return cut

    def ended_early(self, target: CallTarget, what: str) -> ProviderError:
        return target.error(StreamCut, f"stream ended before {what}", partial_text=self.text)


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


async def _events(source: EventSource, progress: StreamProgress) -> AsyncIterator[ServerSentEvent]:
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


# ---------------------------------------------------------------------------------------------
# The adapters' common base


def _check_base_url(settings: ProviderSettings) -> None:
    """A base URL httpx can call, checked once, so a typo is a config error and not a failed call."""
    problem = "is missing"
    if settings.base_url:
        try:
            url = httpx.URL(settings.base_url)
            ok = url.scheme in ("http", "https") and bool(url.host)
        except httpx.InvalidURL:
            ok = False
        if ok:
            return
        problem = f"{settings.base_url!r} must be an http:// or https:// URL"
    raise ConfigError(f"provider {settings.name!r}: base_url {problem}")


class StreamState(Protocol):
    """What one adapter's stream events add up to."""

    complete: bool  # the stream reached its documented end
    end_marker: str  # what a complete stream ends with, for the StreamCut message

    def feed(self, event: ServerSentEvent, target: CallTarget, progress: StreamProgress) -> str:
        """Take one event; return its answer text. Raises the error an event carries."""
        ...

    def answer(self, text: str) -> WireAnswer: ...


class WireProvider:
    """The call skeleton the three wire adapters share; each fills in its vendor's URL, auth,
    body, answer parser, error classifier and stream state. The API key lives only in
    ``_api_key``: never in ``identity()``, ``repr`` or an error (``CallTarget`` scrubs it out of
    anything a server echoes)."""

    kind: str = ""

    def __init__(
        self,
        settings: ProviderSettings,
        api_key: str | None,
        client: httpx.AsyncClient,
        *,
        on_warning: Callable[[str], None] | None = None,
    ) -> None:
        _check_base_url(settings)
        self.name = settings.name
        self.settings = settings
        self.base_url = (settings.base_url or "").rstrip("/")
        self._api_key = api_key or None
        self._client = client
        self._on_warning = on_warning

    def identity(self) -> Mapping[str, Any]:
        return {"kind": self.kind, "base_url": self.base_url}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, base_url={self.base_url!r})"

    async def complete(self, request: Request, model: str) -> Completion:
        request = self._prepare(request, model)
        target, clock = self._target(model), Stopwatch()
        data = await post_json(
            self._client,
            self._url(model, stream=False),
            headers=self._headers(),
            body=self._body(request, model, stream=False),
            timeout_s=request.params.timeout_s,
            target=target,
            classify=partial(self._classify, target),
        )
        return self._parse(data, target).completion(self._model_id(model), clock)

    async def stream(self, request: Request, model: str) -> AsyncIterator[Delta]:
        request = self._prepare(request, model)
        target, progress, state = self._target(model), StreamProgress(), self._stream_state()
        async with open_event_stream(
            self._client,
            self._url(model, stream=True),
            headers=self._headers(),
            body=self._body(request, model, stream=True),
            timeout_s=request.params.timeout_s,
            target=target,
            classify=partial(self._classify, target),
            progress=progress,
        ) as events:
            async for event in events:
                piece = state.feed(event, target, progress)
                if piece:
                    progress.add_text(piece)
                    yield Delta(text=piece)
        if not state.complete:
            raise progress.ended_early(target, state.end_marker)
        yield Delta(final=state.answer(progress.text).completion(self._model_id(model), progress.clock))

    # --- what each adapter provides --------------------------------------------------------

    def _url(self, model: str, *, stream: bool) -> str:
        raise NotImplementedError

    def _auth(self) -> dict[str, str]:
        raise NotImplementedError

    def _body(self, request: Request, model: str, *, stream: bool) -> dict[str, Any]:
        raise NotImplementedError

    @staticmethod
    def _parse(data: Any, target: CallTarget) -> WireAnswer:
        raise NotImplementedError

    @staticmethod
    def _classify(target: CallTarget, status: int | None, headers: Mapping[str, str], text: str) -> ProviderError:
        raise NotImplementedError

    @staticmethod
    def _stream_state() -> StreamState:
        raise NotImplementedError

    # --- shared helpers --------------------------------------------------------------------

    def _prepare(self, request: Request, model: str) -> Request:
        """The request as this model accepts it; each change is reported through ``on_warning``."""
        request, warnings = apply_parameter_rules(self.kind, model, request)
        for warning in warnings:
            self._warn(warning)
        return request

    def _warn(self, warning: str) -> None:
        if self._on_warning is not None:
            self._on_warning(warning)

    def _target(self, model: str) -> CallTarget:
        return CallTarget(self.name, model, self._api_key)

    def _model_id(self, model: str) -> str:
        return f"{self.name}:{model}"

    def _headers(self) -> dict[str, str]:
        """Profile headers, then the vendor's auth and version headers (which win)."""
        return {**dict(self.settings.headers), "content-type": "application/json", **self._auth()}
