"""The whole exception tree of mmo, in one place.

::

    MmoError                         every error mmo raises on purpose
    ├── ConfigError                  a profile, flag or setting is wrong (the message names the fix)
    │   ├── UnknownName              unknown profile / model / provider (with close matches)
    │   └── MissingKey               no API key: names `mmo keys set PROVIDER` and the env variable
    ├── BudgetExceeded               a cost cap would be passed; nothing more is spent
    │   └── CostCapReached           a batch's --max-cost leaves no room for another call
    ├── StrategyFailed               models answered, but no answer met the strategy's bar
    │   ├── NoConsensus              an ensemble's vote reached no majority / min_votes
    │   └── CheckFailed              a pipeline step's answer failed its check
    └── ProviderError                a call to a model failed          (provider, model, status)
        ├── TransientError           the same call may succeed later   retryable=True
        │   ├── RateLimited          429 (retry_after from headers or body)
        │   ├── Overloaded           503, Anthropic 529, an overloaded_error event
        │   ├── ServerError          other 5xx, 408, 409
        │   ├── Timeout              no answer in time
        │   ├── ConnectionFailed     could not connect, or the connection dropped
        │   ├── StreamCut            a stream ended early or carried an error after a 200
        │   └── AnswerOverLimit      an answer broke a transport limit: too big, an event too big,
        │                            JSON nested too deep
        └── PermanentError           the same call will fail again     retryable=False
            ├── AuthFailed           401/403, Gemini API_KEY_INVALID
            ├── QuotaExhausted       insufficient_quota, billing_error, a per-day quota
            ├── ModelNotFound        404 / unknown model
            ├── ContextTooLong       the prompt exceeds the model's context window
            ├── ContentFiltered      the provider refused or blocked the content
            ├── BadRequest           any other 4xx: the request itself is wrong
            ├── PolicyBlocked        a profile policy forbids this target (PII to a non-local model)
            ├── QualityGateFailed    every cascade answer failed its gates (on_exhausted: error)
            ├── MalformedResponse    a body we cannot parse
            └── EmptyAnswer          a 200 with no text and no tool call (paid for, still no answer)

    AllAttemptsFailed(ExceptionGroup) every alternative failed; holds each child's error

Two flags drive strategies: ``retryable`` (try the same target again, after ``retry_after``) and
``failover`` (another model or vendor may succeed). Every transient error fails over; of the
permanent ones, a missing model, a bad or missing key, an exhausted quota, a too-long context and
a content block do too, because a different target can answer them. A ``BadRequest`` does not:
the request itself is wrong and every target would reject it. ``MalformedResponse`` does, since
it says something about that server, not about the request. ``AnswerOverLimit`` is transient:
an endpoint (or a proxy) that sends a gigabyte or a thousand nested brackets is broken now, another
target can answer, and a batch row that met it may be run again later (``--retry-errors``).

No error ever carries an API key: adapters build messages from response bodies, and keys travel
only in request headers, which are never copied into an error.
"""

from __future__ import annotations

from typing import Any


class MmoError(Exception):
    """Base of every error mmo raises on purpose."""

    retryable: bool = False
    failover: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "message": self.message}


class ConfigError(MmoError):
    """A profile, a command-line flag or a setting is wrong; the message names the fix.
    ``source`` is the file (and line) it comes from when there is one."""

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(f"{source}: {message}" if source else message)
        self.source = source


class UnknownName(ConfigError):
    """An unknown profile, model alias or provider name. ``suggestions`` are close matches."""

    def __init__(self, kind: str, name: str, known: list[str] | tuple[str, ...]) -> None:
        import difflib

        self.kind, self.name = kind, name
        self.suggestions = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(s) for s in self.suggestions)}?" if self.suggestions else ""
        listing = f" Known: {', '.join(sorted(known))}." if known and not self.suggestions else ""
        super().__init__(f"unknown {kind} {name!r}{hint}{listing}")


class MissingKey(ConfigError):
    """No API key for a provider. Failover may move on to another vendor that has one."""

    failover = True

    def __init__(self, provider: str, env_var: str | None, detail: str = "", *, keyring: bool = True) -> None:
        self.provider, self.env_var, self.detail = provider, env_var, detail
        if not keyring:  # the key may come only from the variable the profile names
            where = f"set {env_var}"
        else:
            where = f"set {env_var} or run `mmo keys set {provider}`" if env_var else f"run `mmo keys set {provider}`"
        super().__init__(f"no API key for provider {provider!r}: {where}{detail}")


class StateServerFailed(ConfigError):
    """The shared-state server (``MMO_STATE_URL``) cannot be reached or refused a command: the
    limits, budgets and runs shared through it cannot be kept, so nothing more is sent."""


class BudgetExceeded(MmoError):
    """Starting another call could take spending past a cap; nothing more was spent. ``scope``
    names the cap: ``request`` (one request's budget), ``day`` (the profile's daily budget) or
    ``run`` (a batch's ``--max-cost``). ``failover`` is set when a cheaper target may still fit."""

    def __init__(
        self,
        message: str,
        *,
        limit_usd: float | None = None,
        spent_usd: float | None = None,
        scope: str | None = None,
        failover: bool = False,
    ) -> None:
        super().__init__(message)
        self.limit_usd, self.spent_usd, self.scope = limit_usd, spent_usd, scope
        self.failover = failover


class CostCapReached(BudgetExceeded):
    """A batch's ``--max-cost`` leaves no room for another call. Never a failover: a cheaper model
    must not silently answer the rest of a batch."""

    def __init__(self, message: str, *, limit_usd: float | None = None, spent_usd: float | None = None) -> None:
        super().__init__(message, limit_usd=limit_usd, spent_usd=spent_usd, scope="run", failover=False)


class StrategyFailed(MmoError):
    """The models answered, but no answer met the strategy's bar. Another target (a stronger
    model in a fallback above) may do better, so it fails over."""

    failover = True


class NoConsensus(StrategyFailed):
    """Ensemble members answered, but no value got enough votes. ``votes`` describes them."""

    def __init__(self, message: str, *, votes: str = "") -> None:
        super().__init__(message)
        self.votes = votes


class CheckFailed(StrategyFailed):
    """A pipeline step's answer failed its check (after one repair, when repairs are allowed)."""

    def __init__(self, step: str, gate: str, reason: str, *, repaired: bool = False) -> None:
        after = " (also after one repair)" if repaired else ""
        super().__init__(f"pipeline step {step!r} failed its check {gate!r}{after}: {reason}")
        self.step, self.gate, self.reason = step, gate, reason


class ProviderError(MmoError):
    """A call to one model failed. ``provider_message`` is the provider's own words."""

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        model: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.provider_message = message
        self.provider, self.model, self.status = provider, model, status
        self.retry_after, self.code = retry_after, code

    @property
    def target(self) -> str:
        return f"{self.provider}:{self.model}" if self.provider and self.model else (self.provider or "?")

    def one_line(self) -> str:
        status = f" HTTP {self.status}" if self.status else ""
        return f"{type(self).__name__} from {self.target}{status}: {self.provider_message}"

    def __str__(self) -> str:
        return self.one_line()

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": type(self).__name__,
            "message": self.provider_message,
            "provider": self.provider,
            "model": self.model,
            "status": self.status,
            "retry_after": self.retry_after,
            "code": self.code,
        }


class TransientError(ProviderError):
    """The same call may succeed if tried again later."""

    retryable = True
    failover = True


class RateLimited(TransientError):
    """HTTP 429 (or a provider's rate-limit error); ``retry_after`` in seconds when the provider
    said so (Retry-After, retry-after-ms, Gemini RetryInfo)."""


class Overloaded(TransientError):
    """The provider is overloaded: HTTP 503, Anthropic 529 or an ``overloaded_error`` event."""


class ServerError(TransientError):
    """HTTP 5xx (other than overloaded), 408 or 409."""


class Timeout(TransientError):
    """No (complete) answer within the time allowed."""


class ConnectionFailed(TransientError):
    """Could not connect, or the connection dropped before a response."""


class StreamCut(TransientError):
    """A stream stopped early, or reported an error after HTTP 200. ``partial_text`` is what had
    arrived, so a renderer can say what was abandoned."""

    def __init__(self, message: str, *, partial_text: str = "", **kw: Any) -> None:
        super().__init__(message, **kw)
        self.partial_text = partial_text


class AnswerOverLimit(TransientError):
    """An answer broke one of the provider's transport limits (``mmo.core.transport_limits``):
    more decoded bytes than ``max_response_bytes``, an event over ``max_event_bytes``, or JSON
    nested deeper than ``max_json_depth``. The message names the limit; reading stopped at it."""


class PermanentError(ProviderError):
    """The same call will fail again; only another target (or a changed request) can succeed."""

    retryable = False
    failover = True


class AuthFailed(PermanentError):
    """The key was refused (401/403, Gemini ``API_KEY_INVALID``)."""


class QuotaExhausted(PermanentError):
    """Billing or quota stop (``insufficient_quota``, ``billing_error``, a per-day quota):
    retrying soon will not help."""


class ModelNotFound(PermanentError):
    """The provider does not know this model (404)."""


class ContextTooLong(PermanentError):
    """The prompt is longer than the model's context window; a bigger-context model may answer."""


class MissingCapability(PermanentError):
    """The model is known to lack what the request needs (images in, tool calls, ...), so nothing
    was sent to it. It fails over: a fallback or cascade moves on to a model that can."""

    def __init__(self, message: str, *, capability: str, provider: str | None = None, model: str | None = None) -> None:
        super().__init__(message, provider=provider, model=model, code=f"missing_{capability}")
        self.capability = capability


class SchemaMismatch(PermanentError):
    """The answer is not JSON matching the request's schema (``--schema``). It was paid for and
    recorded; ``problems`` say what is wrong, ``answer`` holds the text (never in the message,
    which reaches the run log). It fails over: a fallback moves on, a cascade escalates."""

    def __init__(self, problems: tuple[str, ...], answer: str, *, provider: str | None = None, model: str | None = None) -> None:
        super().__init__("the answer does not match the JSON Schema: " + "; ".join(problems), provider=provider, model=model, code="schema_mismatch")
        self.problems, self.answer = problems, answer


class Unservable(ConfigError):
    """No model the profile can call is able to serve this request (each lacks a capability it
    needs, or its context window is too small): refused before anything is sent. ``reasons``
    maps each model considered to why it cannot."""

    def __init__(self, message: str, reasons: dict[str, str]) -> None:
        listed = "; ".join(f"{model}: {why}" for model, why in reasons.items())
        super().__init__(f"{message}. Models considered: {listed}")
        self.reasons = reasons


class ContentFiltered(PermanentError):
    """The provider refused or blocked the prompt or the answer."""


class BadRequest(PermanentError):
    """The request is invalid for this provider; sending it elsewhere would fail the same way."""

    failover = False


class PolicyBlocked(PermanentError):
    """The profile's policy forbids sending this request to this target, so nothing was sent:
    with ``privacy: {pii: local_only}``, a request holding personal data and a model not marked
    ``local``. It fails over, so a fallback moves on to a local model; the message names the kinds
    of data found, never the data itself."""


class QualityGateFailed(PermanentError):
    """Every answer a cascade got failed its quality gates, and ``on_exhausted`` is ``error``.
    ``gate`` and ``reason`` are those of the answer named by ``provider``/``model``; the trace
    holds every tier's verdict. The answer text is never part of the message (messages reach
    the run log)."""

    def __init__(self, message: str, *, gate: str, reason: str, provider: str | None = None, model: str | None = None) -> None:
        super().__init__(message, provider=provider, model=model)
        self.gate, self.reason = gate, reason


class MalformedResponse(PermanentError):
    """The provider answered with something we cannot parse."""


class EmptyAnswer(PermanentError):
    """The server answered (and billed) without any text or tool call: ``content: null``, or a
    reasoning model that spent ``max_tokens`` before writing. Not an answer: a fallback moves on,
    a single model fails, and it is never cached."""


class AllAttemptsFailed(ExceptionGroup):
    """Every alternative failed. ``exceptions`` holds each attempt's error, in order."""

    retryable = False

    def __new__(cls, message: str, exceptions: Any) -> AllAttemptsFailed:
        return super().__new__(cls, message, list(exceptions))

    @property
    def failover(self) -> bool:
        # A nested group (a fallback inside a cascade) may still fail over if any child could.
        return any(getattr(e, "failover", False) for e in self.exceptions)

    def derive(self, excs: Any) -> AllAttemptsFailed:  # type: ignore[override]  # ExceptionGroup's overloads
        return AllAttemptsFailed(self.message, excs)

    def one_line(self) -> str:
        parts = [e.one_line() if isinstance(e, (ProviderError, AllAttemptsFailed)) else f"{type(e).__name__}: {e}" for e in self.exceptions]
        return f"{self.message}: " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": "AllAttemptsFailed",
            "message": self.message,
            "attempts": [e.to_dict() if hasattr(e, "to_dict") else {"error": type(e).__name__, "message": str(e)} for e in self.exceptions],
        }


def one_line(error: BaseException) -> str:
    """An error as one line for notes, tables and logs: mmo's own summary when it has one
    (class, target, status, the provider's words), else the class and message."""
    summary = getattr(error, "one_line", None)
    return summary() if callable(summary) else f"{type(error).__name__}: {error}"
