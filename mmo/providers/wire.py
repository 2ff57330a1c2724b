"""The call skeleton the three wire adapters share (``WireProvider``), and what each adapter
hands it: a parsed answer (``WireAnswer``) and the state its stream events add up to
(``StreamState``). Vendor specifics (body shapes, which code means what) live in ``openai.py``,
``anthropic.py`` and ``gemini.py``. Every call is held to the provider's transport limits
(``settings.transport``, with the request's ``timeout_s`` as its deadline: ``mmo.providers.http``)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Mapping, Protocol

from mmo.catalog.endpoints import ProviderSettings
from mmo.catalog.rules import apply_parameter_rules
from mmo.core.errors import AnswerOverLimit, ConfigError, ProviderError
from mmo.core.types import Completion, Delta, FinishReason, RateLimitInfo, Request, ToolCall, Usage, frozen_mapping
from mmo.providers.call_progress import Stopwatch, StreamProgress
from mmo.providers.http import WHOLE_ANSWER_EVENT, event_json, open_event_stream, post_json
from mmo.providers.http_errors import CallTarget
from mmo.providers.rate_limits import parse_rate_limits
from mmo.providers.sse import ServerSentEvent

if TYPE_CHECKING:
    import httpx

    from mmo.providers.batch_http import BatchWire


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

    def shown(self, target: CallTarget) -> WireAnswer:
        """This answer as mmo may show, log and cache it: the call's key scrubbed out of every
        field (a server may echo it, even in ``model``) and control characters escaped in the
        one-line fields. The text keeps its control characters: it is the user's data (a
        terminal shows it escaped, ``mmo.cli.render``)."""
        calls = tuple(ToolCall(target.scrub(c.id), target.scrub(c.name), target.scrub(c.arguments)) for c in self.tool_calls)
        return replace(
            self,
            text=target.scrub(self.text),
            tool_calls=calls,
            reported_model=target.shown_line(self.reported_model),
            raw_finish_reason=target.shown_line(self.raw_finish_reason),
        )

    def completion(self, model_id: str, clock: Stopwatch, rate_limits: RateLimitInfo | None = None) -> Completion:
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
            rate_limits=rate_limits,
        )


def headers_digest(headers: Mapping[str, str]) -> str:
    """SHA-256 of the headers, names case-folded (HTTP does not tell ``X-Team`` from ``x-team``)."""
    canonical = json.dumps(sorted((name.lower(), value) for name, value in headers.items()), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _check_base_url(settings: ProviderSettings) -> None:
    """A base URL httpx can call, checked once, so a typo is a config error and not a failed call."""
    problem = "is missing"
    if settings.base_url:
        if _callable_url(settings.base_url):
            return
        problem = f"{settings.base_url!r} must be an http:// or https:// URL"
    raise ConfigError(f"provider {settings.name!r}: base_url {problem}")


def _callable_url(url: str) -> bool:
    """An http or https URL with a host and, if any, a valid port, and no character a request
    line cannot carry (what httpx would refuse to send)."""
    from urllib.parse import urlsplit

    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises for a port that is not a number in range)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _too_deep(target: CallTarget, progress: StreamProgress | None = None) -> ProviderError:
    """The last net under answer parsing, for a ``RecursionError``: JSON is depth-checked before
    it is parsed, but should an adapter still recurse too deep, that is a failed call (it fails
    over), not a crash."""
    error = target.error(AnswerOverLimit, "answer nested too deeply to read")
    return progress.failed(error, target) if progress is not None else error


class StreamState(Protocol):
    """What one adapter's stream events add up to."""

    @property
    def complete(self) -> bool:
        """Whether the stream reached its documented end."""
        ...

    @property
    def end_marker(self) -> str:
        """What a complete stream ends with, for the StreamCut message."""
        ...

    def feed(self, event: ServerSentEvent, target: CallTarget, progress: StreamProgress) -> str:
        """Take one event; return its answer text. Raises the error an event carries."""
        ...

    def answer(self, text: str) -> WireAnswer: ...


class WireProvider:
    """The call skeleton the three wire adapters share; each fills in its vendor's URL, auth,
    body, answer parser, error classifier and stream state. The API key lives only in
    ``_api_key``: never in ``identity()``, ``repr`` or an error, and ``CallTarget`` scrubs it out
    of anything a server echoes (errors, every field of an answer, streamed text)."""

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
        self._fixed_headers: dict[str, str] | None = None
        self._identity: Mapping[str, Any] | None = None

    def identity(self) -> Mapping[str, Any]:
        """What makes this provider's answers differ from another's, for the response cache: its
        kind, base URL and profile headers (a header may choose a deployment or a tenant). Header
        values may be secrets, so they appear only as a hash; the key never appears."""
        if self._identity is None:  # built once: a batch asks for it on every call
            identity = {"kind": self.kind, "base_url": self.base_url}
            if self.settings.headers:
                identity["headers"] = headers_digest(self.settings.headers)
            self._identity = frozen_mapping(identity)
        return self._identity

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, base_url={self.base_url!r})"

    async def complete(self, request: Request, model: str) -> Completion:
        request = self._prepare(request, model)
        target, clock = self._target(model), Stopwatch()
        data, headers = await post_json(
            self._client,
            self._url(model, stream=False),
            headers=self._headers(),
            body=self._body(request, model, stream=False),
            limits=self.settings.transport.for_attempt(request.params.timeout_s),
            target=target,
            classify=partial(self._classify, target),
        )
        try:
            answer = self._parse(data, target)
        except RecursionError:
            raise _too_deep(target) from None
        return answer.shown(target).completion(self._model_id(model), clock, parse_rate_limits(headers))

    async def stream(self, request: Request, model: str) -> AsyncIterator[Delta]:
        request = self._prepare(request, model)
        target, progress, state = self._target(model), StreamProgress(), self._stream_state()
        scrubber = target.stream_scrubber()
        async with open_event_stream(
            self._client,
            self._url(model, stream=True),
            headers=self._headers(),
            body=self._body(request, model, stream=True),
            limits=self.settings.transport.for_attempt(request.params.timeout_s),
            target=target,
            classify=partial(self._classify, target),
            progress=progress,
        ) as events:
            async for event in events:
                if event.event == WHOLE_ANSWER_EVENT:  # the server ignored `stream`: one whole answer
                    async for delta in self._whole_answer(event, target, progress, model):
                        yield delta
                    return
                try:
                    piece = scrubber.feed(state.feed(event, target, progress))
                except RecursionError:
                    raise _too_deep(target, progress) from None
                if piece:
                    progress.add_text(piece)
                    yield Delta(text=piece)
        if not state.complete:
            raise progress.ended_early(target, state.end_marker)
        if rest := scrubber.flush():
            progress.add_text(rest)
            yield Delta(text=rest)
        try:
            answer = state.answer(progress.text).shown(target)
        except RecursionError:
            raise _too_deep(target, progress) from None
        yield Delta(final=answer.completion(self._model_id(model), progress.clock, parse_rate_limits(progress.headers)))

    async def _whole_answer(self, event: ServerSentEvent, target: CallTarget, progress: StreamProgress, model: str) -> AsyncIterator[Delta]:
        """A whole completion where a stream was asked for: its text as one delta, then the final."""
        try:
            answer = self._parse(event_json(event, target), target).shown(target)
        except RecursionError:
            raise _too_deep(target, progress) from None
        completion = answer.completion(self._model_id(model), progress.clock, parse_rate_limits(progress.headers))
        if completion.text:
            yield Delta(text=completion.text)
        yield Delta(final=completion)

    def batch_wire(self) -> BatchWire:
        """What this provider's batch endpoint needs of it: its client, base URL, headers, key,
        transport limits, error classifier and parameter rules (``mmo.providers.batch_http``)."""
        from mmo.providers.batch_http import BatchWire  # provider batch jobs only

        return BatchWire(
            provider=self.name,
            base_url=self.base_url,
            client=self._client,
            headers=self._headers(),
            limits=self.settings.transport,
            classify=self._classify,
            prepare=self._prepare,
            warn=self._warn,
            secret=self._api_key,
        )

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
        """Profile headers, then the vendor's auth and version headers (which win). The same on
        every call (settings and key are fixed for a provider's life): built once, a copy handed out."""
        headers = self._fixed_headers
        if headers is None:
            headers = self._fixed_headers = {**dict(self.settings.headers), "content-type": "application/json", **self._auth()}
        return dict(headers)
