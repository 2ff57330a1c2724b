"""Per-model rate limits, a concurrency cap and a circuit breaker, around every real model call
(cache hits pass freely). Keyed by model id (``provider:model``): two aliases of one model share
its limits, as they share the provider's.

* ``rpm``: a token bucket of ``rpm`` requests, refilled continuously (``rpm / 60`` per second). It
  starts full, so a burst of up to ``rpm`` calls passes at once, as the providers' own per-minute
  limits allow.
* ``tpm``: a bucket of ``tpm`` tokens. A call reserves its worst case (estimated prompt tokens +
  ``max_tokens``, see ``call_estimate``) before it starts; when it ends the reservation is
  corrected to the real usage (input + output tokens). A call that failed before anything was
  generated gives its reservation back; a cut stream and a cancelled call keep it (they were
  billed). A reservation larger than the whole bucket takes the whole bucket instead of never
  starting.
* ``concurrency``: at most that many calls to the model in flight.
* A circuit breaker per model (see ``breaker``), for every model, with or without ``limits:``.
* Provider signals: a ``RateLimited`` error with ``retry_after`` pauses the model until then, for
  every later call of the session; ``observe_rate_limits`` does the same for rate-limit headers
  that report nothing remaining (until their reset).

Other calls' failures never fail a call by themselves: a paused model, full buckets, busy slots
and an open circuit make the call wait (for an open circuit, until the cooldown ends and then for
the outcome of the one half-open trial call, which probes the model for everyone). Waiting is
bounded: at most ``max_wait_s`` in total, the profile's ``retry.max_retry_after_s`` (the patience
a fallback has for a Retry-After), and 0 with ``--fail-fast``. When the wait would be longer, the
call fails at once, retryable, with ``RateLimited`` (``retry_after`` = the wait) or, for the
circuit, ``Overloaded``; both fail over. One exception: a call whose strategy can move on to
another target (a fallback's entry that is not its last, ``may_move_on``) is refused at once by
an open circuit, with ``Overloaded`` marked not retryable, so the fallback moves on instead of
waiting for the cooldown. Waits are ``asyncio`` sleeps: cancelling the call cancels the wait and
gives back what it held.

State lives in the guard, one per session (so per process), unless shared state is configured
(``MMO_STATE_URL``, ``mmo config set state``): then the rpm / tpm buckets and the pauses of every
model with rpm or tpm limits live on a Redis server, shared by every process and machine
(``shared_limits``), and a circuit that opens in one process opens in all (``shared_circuits``);
concurrency caps stay per process. ``clock`` and ``sleep`` are injectable dependencies (monotonic time and
``asyncio.sleep`` by default).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping

from mmo.core.errors import (
    ConfigError,
    MmoError,
    Overloaded,
    PermanentError,
    ProviderError,
    RateLimited,
    StreamCut,
    TransientError,
    UnknownName,
)
from mmo.core.target import ModelTarget
from mmo.core.types import Completion, ModelRef, RateLimitInfo, Request
from mmo.runtime.background import BackgroundWrites
from mmo.runtime.breaker import CircuitBreaker, Clock, Outcome
from mmo.runtime.call_estimate import estimate_call
from mmo.runtime.guard import Guard, GuardContext
from mmo.runtime.input_tokens import provider_kind
from mmo.runtime.shared_circuits import SharedCircuits
from mmo.runtime.shared_limits import SharedLimits
from mmo.spec.portfolio import LimitSpec, ModelsSpec, model_entry

Sleep = Callable[[float], Awaitable[Any]]
Note = Callable[..., None]
DEFAULT_MAX_WAIT_S = 30.0
_EPSILON = 1e-9


class TokenBucket:
    """``capacity`` tokens, refilled at ``capacity`` per minute. The level may go below zero
    when a call turns out to have used more than it reserved: later calls then wait longer."""

    __slots__ = ("capacity", "per_second", "_level", "_updated", "_clock")

    def __init__(self, per_minute: int, clock: Clock) -> None:
        self.capacity = float(per_minute)
        self.per_second = per_minute / 60.0
        self._clock = clock
        self._level = self.capacity
        self._updated = clock()

    @property
    def level(self) -> float:
        self._refill()
        return self._level

    def _refill(self) -> None:
        now = self._clock()
        self._level = min(self.capacity, self._level + (now - self._updated) * self.per_second)
        self._updated = now

    def clamp(self, amount: float) -> float:
        return min(amount, self.capacity)

    def wait_s(self, amount: float) -> float:
        """Seconds until ``amount`` (at most the capacity) tokens are there; 0 when they are."""
        missing = self.clamp(amount) - self.level
        return 0.0 if missing <= _EPSILON else missing / self.per_second

    def take(self, amount: float) -> None:
        self._refill()
        self._level -= self.clamp(amount)

    def adjust(self, delta: float) -> None:
        """Give back (``delta > 0``) or take more (``delta < 0``) after the fact."""
        self._refill()
        self._level = min(self.capacity, self._level + delta)


@dataclass(frozen=True, slots=True)
class Permit:
    """What one call holds: a slot, reserved tokens, and whether it is the breaker's trial."""

    limiter: ModelLimiter
    tokens: float
    slot: bool
    trial: bool


class ModelLimiter:
    """The limits, pause and breaker of one model."""

    def __init__(
        self, model_id: str, spec: LimitSpec | None, clock: Clock, sleep: Sleep, shared: SharedLimits | None = None,
        circuits: SharedCircuits | None = None,
    ) -> None:
        self.model_id = model_id
        self._circuits = circuits  # openings told to every process
        self.spec = spec or LimitSpec()
        self._clock, self._sleep = clock, sleep
        # With shared state the buckets live on the Redis server (``shared_limits``), not here.
        self._shared = shared if (self.spec.rpm or self.spec.tpm) else None
        self._writes = BackgroundWrites()  # shared-state writes from release
        local = self._shared is None
        self.rpm = TokenBucket(self.spec.rpm, clock) if self.spec.rpm and local else None
        self.tpm = TokenBucket(self.spec.tpm, clock) if self.spec.tpm and local else None
        self._slots = asyncio.Semaphore(self.spec.concurrency) if self.spec.concurrency else None
        self.breaker = CircuitBreaker(self.spec.breaker, clock)
        self._paused_until = 0.0
        self._pause_reason = ""
        self._trial_settled = asyncio.Event()  # set (then replaced) when a half-open trial ends
        # No concurrency slots and no buckets: a call waits only for a pause or the breaker.
        self._unlimited = self._slots is None and self.rpm is None and self.tpm is None and self._shared is None
        self._free = Permit(self, 0.0, False, False)  # the permit such a call holds (Permit is frozen)

    @property
    def counts_tokens(self) -> bool:
        return bool(self.spec.tpm)

    def pause(self, seconds: float, reason: str) -> None:
        """No call to this model starts for ``seconds`` (a longer pause already set stays), in
        every process when the limits are shared."""
        until = self._clock() + seconds
        if until > self._paused_until:
            self._paused_until, self._pause_reason = until, reason
        if self._shared is not None:
            self._writes.start(self._shared.pause(self.model_id, seconds))

    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self._clock())

    async def acquire(self, tokens: int, patience: float, note: Note, *, may_move_on: bool = False) -> Permit:
        """Wait (at most ``patience`` seconds in all) until this model may be called, and take
        what the call needs. ``may_move_on``: the caller has another target, so an open circuit
        refuses at once instead of being waited for."""
        if self._unlimited and self.breaker.state_is_closed() and self._paused_until <= self._clock():
            return self._free  # what the full path below returns here, without its awaits
        waited = await self._await_circuit(patience, note, may_move_on)
        trial = self.breaker.admit()
        if trial:
            note(f"limits: circuit of {self.model_id} half-open: this call is the trial")
        slot = False
        try:
            waited += await self._take_slot(patience - waited, note)
            slot = self._slots is not None
            taken = await self._take_rate(tokens, patience - waited, note)
        except BaseException:
            if slot:
                self._slots.release()  # type: ignore[union-attr]
            if trial:
                self._settle_trial("neutral")
            raise
        return Permit(self, taken, slot, trial)

    def release(self, permit: Permit, completion: Completion | None, error: BaseException | None) -> None:
        if permit.slot:
            self._slots.release()  # type: ignore[union-attr]
        self._settle_tokens(permit, completion, error)
        if isinstance(error, RateLimited) and error.retry_after:
            self.pause(error.retry_after, f"{self.model_id} asked to wait {error.retry_after:g} s (Retry-After)")
        if completion is not None and completion.rate_limits is not None:
            self.observe_rate_limits(completion.rate_limits)
        if permit.trial:
            self._settle_trial(_breaker_outcome(error))
        elif self.breaker.record(_breaker_outcome(error), trial=False):
            self._tell_opened()

    def _settle_trial(self, outcome: Outcome) -> None:
        """Record the half-open trial's outcome and wake the calls waiting for it."""
        if self.breaker.record(outcome, trial=True):
            self._tell_opened()
        self._trial_settled.set()
        self._trial_settled = asyncio.Event()

    def _tell_opened(self) -> None:
        if self._circuits is not None:
            self._writes.start(self._circuits.opened(self.model_id, self.spec.breaker.cooldown_s, self.breaker.failures_in_row))

    def observe_rate_limits(self, info: RateLimitInfo) -> None:
        """Pause until the reset when a provider's rate-limit headers say nothing is left."""
        waits = []
        if info.remaining_requests == 0 and info.reset_requests_s:
            waits.append((info.reset_requests_s, "requests"))
        if info.remaining_tokens == 0 and info.reset_tokens_s:
            waits.append((info.reset_tokens_s, "tokens"))
        if waits:
            seconds, what = max(waits)
            self.pause(seconds, f"{self.model_id} reported 0 {what} remaining, reset in {seconds:g} s")

    async def _await_circuit(self, patience: float, note: Note, may_move_on: bool) -> float:
        """Seconds waited until the circuit lets a call through: to the end of the cooldown, or
        for the half-open trial's outcome. Other calls' failures opened it, so a call waits
        rather than fails, unless its caller can move on, or the wait is past ``patience``."""
        waited = 0.0
        while (refusal := self.breaker.refusal()) is not None:
            left = patience - waited
            wait = refusal.retry_after
            if may_move_on or left <= 0 or (wait is not None and wait > left):
                raise self._circuit_refusal(refusal.message, refusal.retry_after, note, retryable=not may_move_on)
            note(f"limits: waiting for {self.model_id}: {refusal.message}", wait_s=round(wait or 0.0, 3))
            started = self._clock()
            if wait is None:
                await self._await_trial(left, refusal.message, note)
            else:
                await self._sleep(wait)
            waited += self._clock() - started
        return waited

    async def _await_trial(self, patience: float, message: str, note: Note) -> None:
        try:
            async with asyncio.timeout(patience):
                await self._trial_settled.wait()
        except TimeoutError:
            raise self._circuit_refusal(message, None, note, retryable=True) from None

    def _circuit_refusal(self, message: str, retry_after: float | None, note: Note, *, retryable: bool) -> Overloaded:
        """An open circuit as an error: not retryable when the caller moves on (trying the same
        model again now only meets the open circuit), retryable once a waiting call gave up."""
        note(f"limits: {self.model_id} not called: {message}")
        ref = ModelRef.parse(self.model_id)
        error = Overloaded(message, provider=ref.provider, model=ref.name, retry_after=retry_after)
        error.retryable = retryable
        return error

    async def _take_slot(self, patience: float, note: Note) -> float:
        """Seconds waited for a concurrency slot."""
        slots = self._slots
        if slots is None:
            return 0.0
        if not slots.locked():
            await slots.acquire()
            return 0.0
        limit = self.spec.concurrency
        if patience <= 0:
            raise self._too_long(None, f"all {limit} concurrent slots are busy", patience)
        started = self._clock()
        try:
            async with asyncio.timeout(patience):
                await slots.acquire()
        except TimeoutError:
            raise self._too_long(None, f"all {limit} concurrent slots stayed busy", patience) from None
        waited = self._clock() - started
        note(f"limits: waited {waited:.2f} s for one of {limit} concurrent slots of {self.model_id}", wait_s=round(waited, 3))
        return waited

    async def _take_rate(self, tokens: int, patience: float, note: Note) -> float:
        """Wait for the pause to end and for a request and ``tokens`` in the buckets; take them."""
        while True:
            wait, reason = self._rate_wait(tokens)
            if wait <= 0:
                break
            if wait > patience:
                raise self._too_long(wait, reason, max(patience, 0.0))
            note(f"limits: waiting {wait:.2f} s for {self.model_id}: {reason}", wait_s=round(wait, 3))
            started = self._clock()
            await self._sleep(wait)
            patience -= self._clock() - started
        if self._shared is not None:
            return await self._take_shared(tokens, patience, note)
        if self.rpm is not None:
            self.rpm.take(1)
        if self.tpm is None:
            return 0.0
        self.tpm.take(tokens)
        return self.tpm.clamp(tokens)

    async def _take_shared(self, tokens: int, patience: float, note: Note) -> float:
        """The buckets on the Redis server: reserved in one atomic script, then waited for (a
        reservation cancelled while it waits is given back)."""
        assert self._shared is not None
        wanted = [(name, float(cap), float(amount)) for name, cap, amount in (("rpm", self.spec.rpm, 1), ("tpm", self.spec.tpm, tokens)) if cap]
        while True:
            wait, reserved = await self._shared.reserve(self.model_id, wanted, patience)
            if not reserved and wait > patience:
                raise self._too_long(wait, "the shared limits (rpm/tpm across every process, or a shared pause)", max(patience, 0.0))
            if wait > 0:
                note(f"limits: waiting {wait:.2f} s for {self.model_id}: shared limits", wait_s=round(wait, 3))
                started = self._clock()
                try:
                    await self._sleep(wait)
                except BaseException:
                    if reserved:
                        self._give_back(wanted)
                    raise
                patience -= self._clock() - started
            if reserved:
                return float(min(tokens, self.spec.tpm)) if self.spec.tpm else 0.0

    def _give_back(self, taken: list[tuple[str, float, float]]) -> None:
        assert self._shared is not None
        for name, capacity, amount in taken:
            self._writes.start(self._shared.adjust(self.model_id, name, capacity, min(amount, capacity)))

    def _rate_wait(self, tokens: int) -> tuple[float, str]:
        """The longest of the waits (the pause, rpm, tpm; the first on a tie) and its reason. The
        reason is only written out for a wait (every call asks; nearly every call need not wait)."""
        wait, which = self.paused_for(), "pause"
        if self.rpm is not None:
            rpm_wait = self.rpm.wait_s(1)
            if rpm_wait > wait:
                wait, which = rpm_wait, "rpm"
        if self.tpm is not None:
            tpm_wait = self.tpm.wait_s(tokens)
            if tpm_wait > wait:
                wait, which = tpm_wait, "tpm"
        if wait <= 0:
            return wait, ""
        if which == "rpm":
            return wait, f"rpm limit {self.spec.rpm}"
        if which == "tpm":
            return wait, f"tpm limit {self.spec.tpm} ({tokens} tokens reserved)"
        return wait, f"paused: {self._pause_reason}"

    def _too_long(self, wait: float | None, reason: str, patience: float) -> RateLimited:
        ref = ModelRef.parse(self.model_id)
        needed = f"a {wait:.1f} s wait" if wait is not None else "a wait"
        message = f"mmo's limits for {self.model_id} need {needed} ({reason}), longer than the {patience:g} s a call may wait"
        return RateLimited(message, provider=ref.provider, model=ref.name, retry_after=wait)

    def _settle_tokens(self, permit: Permit, completion: Completion | None, error: BaseException | None) -> None:
        if self._shared is not None:
            self._settle_shared(permit, completion, error)
            return
        if _refused_by_a_guard(error) and self.rpm is not None:
            self.rpm.adjust(1)  # the request was never sent
        if self.tpm is None or not permit.tokens:
            return
        if completion is not None:
            used = completion.usage.input_tokens + completion.usage.output_tokens
            if used > 0:  # a provider that reports no usage keeps the reservation
                self.tpm.adjust(permit.tokens - used)
        elif error is not None and not isinstance(error, (StreamCut, asyncio.CancelledError)):
            self.tpm.adjust(permit.tokens)


    def _settle_shared(self, permit: Permit, completion: Completion | None, error: BaseException | None) -> None:
        """As ``_settle_tokens``, on the server's buckets."""
        assert self._shared is not None
        if _refused_by_a_guard(error) and self.spec.rpm:
            self._writes.start(self._shared.adjust(self.model_id, "rpm", self.spec.rpm, 1))
        if not self.spec.tpm or not permit.tokens:
            return
        delta = 0.0
        if completion is not None:
            used = completion.usage.input_tokens + completion.usage.output_tokens
            delta = permit.tokens - used if used > 0 else 0.0
        elif error is not None and not isinstance(error, (StreamCut, asyncio.CancelledError)):
            delta = permit.tokens
        if delta:
            self._writes.start(self._shared.adjust(self.model_id, "tpm", self.spec.tpm, delta))


def _refused_by_a_guard(error: BaseException | None) -> bool:
    """A later guard (a budget) refused the call after this one admitted it: nothing was sent."""
    return isinstance(error, MmoError) and not isinstance(error, ProviderError)


def _breaker_outcome(error: BaseException | None) -> Outcome:
    if error is None:
        return "success"
    if isinstance(error, TransientError):
        return "failure"
    if isinstance(error, PermanentError):
        return "success"  # the server answered: it is up, whatever it thought of the request
    return "neutral"  # cancelled, or refused by another guard: says nothing about the model


class LimitsGuard(Guard):
    """Rate limits, concurrency caps and circuit breakers of one session, per model id."""

    def __init__(
        self,
        limits: Mapping[str, LimitSpec] | None = None,
        *,
        max_wait_s: float = DEFAULT_MAX_WAIT_S,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        shared: SharedLimits | None = None,
        circuits: SharedCircuits | None = None,
    ) -> None:
        self._specs = dict(limits or {})
        self.shared = shared  # rpm / tpm and pauses on a Redis server, for every process
        self.circuits = circuits  # circuit openings told to (and by) every process
        self.max_wait_s = max_wait_s
        self._clock, self._sleep = clock, sleep
        self._limiters: dict[str, ModelLimiter] = {}

    async def aclose(self) -> None:
        for shared in (self.shared, self.circuits):
            if shared is not None:
                await shared.aclose()

    def limiter(self, model_id: str) -> ModelLimiter:
        limiter = self._limiters.get(model_id)
        if limiter is None:
            limiter = ModelLimiter(model_id, self._specs.get(model_id), self._clock, self._sleep, self.shared, self.circuits)
            self._limiters[model_id] = limiter
        return limiter

    def _opened_elsewhere(self, model_id: str, seconds: float, failures: int) -> None:
        self.limiter(model_id).breaker.force_open(seconds, failures)

    async def follow_shared_circuits(self) -> None:
        """With shared state: open this session's circuits when another process's open."""
        if self.circuits is not None:
            await self.circuits.listen(self._opened_elsewhere)

    async def acquire(self, target: ModelTarget, request: Request, ctx: GuardContext) -> Permit:
        if self.circuits is not None:
            await self.follow_shared_circuits()
        limiter = self.limiter(target.id)
        patience = 0.0 if ctx.options.fail_fast else self.max_wait_s
        tokens = estimate_call(request, target.ref, ctx.tokens, provider_kind(target, ctx.catalog)).total_tokens if limiter.counts_tokens else 0
        return await limiter.acquire(tokens, patience, ctx.note, may_move_on=ctx.may_move_on)

    def release(self, token: Any, target: ModelTarget, completion: Completion | None, error: BaseException | None) -> None:
        if isinstance(token, Permit):
            token.limiter.release(token, completion, error)

    def observe_rate_limits(self, model_id: str, info: RateLimitInfo | None) -> None:
        """Feed a provider's parsed rate-limit headers (``parse_rate_limits``) for one answer."""
        if info is not None:
            self.limiter(model_id).observe_rate_limits(info)


def limits_by_model(limits: Mapping[str, LimitSpec], models: ModelsSpec) -> dict[str, LimitSpec]:
    """A profile's ``limits:`` keyed by model id (its keys are aliases or provider:model)."""
    out: dict[str, LimitSpec] = {}
    named_by: dict[str, str] = {}
    for key, spec in limits.items():
        entry = model_entry(models, key)
        model_id = entry.model if entry is not None else key
        try:
            ModelRef.parse(model_id)
        except ValueError:
            raise UnknownName("model in limits:", key, list(models)) from None
        if model_id in out:
            raise ConfigError(f"limits: {named_by[model_id]!r} and {key!r} both name {model_id}; give it one entry")
        out[model_id], named_by[model_id] = spec, key
    return out
