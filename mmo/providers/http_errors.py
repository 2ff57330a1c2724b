"""Turning a failed call into the error tree: who it is about (``CallTarget``, which also scrubs
the call's API key out of anything a server echoes back and escapes the control characters in
it, so a hostile server can neither show the key nor drive the terminal), what an HTTP status means, what a
vendor's error body says (``ErrorDetails``), and what a transport failure means
(``transport_error``). Which body code means what is vendor knowledge and lives in the adapters."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

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
)
from mmo.core.shown import shown, shown_line
from mmo.core.transport_limits import DEFAULT_MAX_JSON_DEPTH, TransportLimits
from mmo.providers.rate_limits import parse_retry_after
from mmo.providers.wire_json import nested_deeper_than

if TYPE_CHECKING:
    import httpx

    from mmo.providers.light_http import LightHttpError

MIN_SECRET_CHARS = 4  # a shorter "key" would redact ordinary words
REDACTED = "[redacted]"


@dataclass(frozen=True, slots=True)
class CallTarget:
    """Who a failure is about. ``secret`` is the API key of this call, kept only to scrub it out of
    anything a server echoes back (some echo request headers in error bodies); it is excluded from
    ``repr`` and comparisons."""

    provider: str
    model: str
    secret: str | None = field(default=None, repr=False, compare=False)

    def scrub(self, text: str) -> str:
        if self.secret and len(self.secret) >= MIN_SECRET_CHARS:
            return text.replace(self.secret, REDACTED)
        return text

    def shown(self, text: str) -> str:
        """Server text as mmo shows, logs and caches it: the key scrubbed out, control characters
        escaped (line breaks kept)."""
        return shown(self.scrub(text))

    def shown_line(self, text: str | None) -> str | None:
        """A one-line server value (a model id, a code, a finish reason), scrubbed and escaped."""
        return None if text is None else shown_line(self.scrub(text))

    def stream_scrubber(self) -> StreamScrubber:
        return StreamScrubber(self.secret if self.secret and len(self.secret) >= MIN_SECRET_CHARS else None)

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
            self.shown(message) or "(no message)",
            provider=self.provider,
            model=self.model,
            status=status,
            retry_after=retry_after,
            code=self.shown_line(code) if code else None,
            **extra,
        )


class StreamScrubber:
    """The key scrubbed out of streamed text even when a server splits it across events: text that
    could be the start of the key is held back until the next piece shows whether it is."""

    __slots__ = ("_secret", "_held")

    def __init__(self, secret: str | None) -> None:
        self._secret = secret
        self._held = ""

    def feed(self, piece: str) -> str:
        """What of ``piece`` (with any text held back before it) can be shown now."""
        secret = self._secret
        if secret is None:
            return piece
        text = (self._held + piece).replace(secret, REDACTED)
        keep = _key_start_at_end(text, secret)
        self._held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def flush(self) -> str:
        """The text held back at the end of the stream (it was not the key)."""
        held, self._held = self._held, ""
        return held


def _key_start_at_end(text: str, secret: str) -> int:
    """The length of the longest end of ``text`` that is a start of ``secret`` (shorter than it)."""
    start = max(0, len(text) - len(secret) + 1)
    while (start := text.find(secret[0], start)) != -1:
        if secret.startswith(text[start:]):
            return len(text) - start
        start += 1
    return 0


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
    """An error body as JSON when it is JSON, else the text itself (proxies answer with HTML).
    A body nested deeper than any error object (``DEFAULT_MAX_JSON_DEPTH``) stays text, so
    reading its message never recurses that deep."""
    if nested_deeper_than(text, DEFAULT_MAX_JSON_DEPTH):
        return text
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


def snippet(text: str, limit: int = 300) -> str:
    """A short, one-line excerpt of a body that was not the JSON we expected."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def as_text(value: Any) -> str | None:
    """A code that may be a string or a number (OpenRouter, vLLM) as text."""
    return None if value is None else str(value)


def transport_error(
    exc: httpx.HTTPError, target: CallTarget, *, partial_text: str | None = None, limits: TransportLimits | None = None
) -> MmoError:
    """An httpx failure in the error tree. ``partial_text`` is given once a stream has delivered
    events: a failure then is a cut stream, whatever the socket said, so the text is not lost.
    With ``limits``, a timeout names the bound that fired."""
    import httpx

    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, httpx.TransportError):
        detail += _where(exc)
    if isinstance(exc, httpx.TimeoutException) and limits is not None:
        detail += _bound_that_fired(exc, limits)
    if partial_text is not None:
        return target.error(StreamCut, f"stream broken after it started: {detail}", partial_text=partial_text)
    if isinstance(exc, httpx.TimeoutException):
        return target.error(Timeout, f"no answer in time ({detail})")
    if isinstance(exc, httpx.UnsupportedProtocol):
        return ConfigError(target.shown(f"provider {target.provider!r} has an unusable base URL: {detail}"))
    if isinstance(exc, (httpx.DecodingError, httpx.TooManyRedirects)):
        return target.error(MalformedResponse, f"unreadable answer: {detail}")
    return target.error(ConnectionFailed, detail)


def light_transport_error(exc: LightHttpError, target: CallTarget, limits: TransportLimits | None = None, *, partial_text: str | None = None) -> MmoError:
    """A failure of the single-call client (``light_http``) as ``transport_error`` words httpx's:
    after a stream's first event a ``StreamCut`` keeping its text, else a timeout is a ``Timeout``
    naming the bound that fired and anything else a ``ConnectionFailed``, each saying the URL tried."""
    detail = f"{exc.detail} (trying {exc.url})"
    if partial_text is not None:
        return target.error(StreamCut, f"stream broken after it started: {detail}", partial_text=partial_text)
    if exc.kind.endswith("timeout"):
        if limits is not None:
            detail += (f"; no connection within {limits.connect_timeout_s:g} s (connect_timeout_s)" if exc.kind == "connect_timeout"
                       else f"; the connection was silent for {limits.read_idle_timeout_s:g} s (read_idle_timeout_s)")
        return target.error(Timeout, f"no answer in time ({detail})")
    return target.error(ConnectionFailed, detail)


def _where(exc: httpx.TransportError) -> str:
    """`` (trying http://localhost:11434/v1/chat/completions)``: the URL a failed connection went
    to, without its query (a key some gateways take as a parameter stays out of messages)."""
    try:
        url = exc.request.url
    except RuntimeError:  # an error raised without its request
        return ""
    return f" (trying {url.copy_with(query=None, fragment=None)})"


def _bound_that_fired(exc: httpx.TimeoutException, limits: TransportLimits) -> str:
    import httpx

    if isinstance(exc, httpx.ConnectTimeout):
        return f"; no connection within {limits.connect_timeout_s:g} s (connect_timeout_s)"
    if isinstance(exc, (httpx.ReadTimeout, httpx.WriteTimeout)):
        return f"; the connection was silent for {limits.read_idle_timeout_s:g} s (read_idle_timeout_s)"
    return ""


ErrorClassifier = Callable[[int | None, Mapping[str, str], str], ProviderError]
"""(status or None for an error inside a 200 answer, response headers, body text) -> the error."""
