"""A circuit breaker for one model: stop calling a model that keeps failing, then try it again.

* **closed**: calls pass. Each transient failure (429, overload, 5xx, timeout, dropped
  connection, cut stream) extends a streak; a success, or an answer that proves the server is up
  (a permanent error such as a 400 or 404), ends it. ``failures`` in a row, all within
  ``window_s`` of each other, open the circuit.
* **open**: for ``cooldown_s`` every call fails at once with ``Overloaded`` ("circuit open for
  12.0 s after 5 failures"), a failover error, so a fallback moves on without waiting.
* **half-open**: after the cooldown one trial call passes (others still fail at once while it is
  in flight). Its success closes the circuit; a transient failure opens it for another cooldown;
  anything else (cancelled, refused by a guard) lets the next call try.

With shared state, an opening elsewhere opens this circuit too (``force_open``,
``shared_circuits``).

Time comes from an injected ``clock`` (``time.monotonic`` by default), so tests need not sleep.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Callable, Literal

from mmo.spec.portfolio import BreakerSpec

Clock = Callable[[], float]
Outcome = Literal["success", "failure", "neutral"]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a call may not start now; ``retry_after`` is when it may (``None``: unknown)."""

    message: str
    retry_after: float | None


class CircuitBreaker:
    __slots__ = ("spec", "_clock", "_streak", "_in_row", "_open_until", "_trial_in_flight")

    def __init__(self, spec: BreakerSpec, clock: Clock) -> None:
        self.spec = spec
        self._clock = clock
        self._streak: deque[float] = deque()  # times of the current streak's failures, within the window
        self._in_row = 0  # transient failures since the last success, for messages
        self._open_until: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> Literal["closed", "open", "half-open"]:
        if self._open_until is None:
            return "closed"
        return "open" if self._clock() < self._open_until else "half-open"

    def state_is_closed(self) -> bool:
        """Closed (no failure streak has opened it): every call may start, none is a trial."""
        return self._open_until is None

    def refusal(self) -> Refusal | None:
        """``None`` when a call may start now; otherwise why not."""
        if self._open_until is None:
            return None
        left = self._open_until - self._clock()
        if left > 0:
            return Refusal(f"circuit open for {left:.1f} s after {self._in_row} failures", left)
        if self._trial_in_flight:
            return Refusal(f"circuit half-open after {self._in_row} failures: a trial call is in flight", None)
        return None

    def admit(self) -> bool:
        """Let a call through (after ``refusal()`` returned ``None``); ``True`` when it is the
        half-open trial, whose outcome decides the circuit."""
        if self._open_until is not None and self._clock() >= self._open_until:
            self._trial_in_flight = True
            return True
        return False

    @property
    def failures_in_row(self) -> int:
        return self._in_row

    def record(self, outcome: Outcome, *, trial: bool) -> bool:
        """Count a call's outcome; True when it opened the circuit (for a cooldown from now)."""
        if trial:
            self._trial_in_flight = False
        if outcome == "success":
            self._streak.clear()
            self._in_row = 0
            self._open_until = None
        elif outcome == "failure":
            before = self._open_until
            self._fail(trial)
            return self._open_until != before
        return False

    def force_open(self, seconds: float, failures: int) -> None:
        """Open for ``seconds`` from now (another process's circuit for this model opened after
        ``failures``); a longer opening already here stays."""
        until = self._clock() + seconds
        if self._open_until is None or until > self._open_until:
            self._open_until = until
            self._in_row = max(self._in_row, failures)
            self._streak.clear()

    def _fail(self, trial: bool) -> None:
        now = self._clock()
        self._in_row += 1
        if trial:
            self._open_until = now + self.spec.cooldown_s
            return
        self._streak.append(now)
        while self._streak and now - self._streak[0] > self.spec.window_s:
            self._streak.popleft()
        if self._open_until is None and len(self._streak) >= self.spec.failures:
            self._open_until = now + self.spec.cooldown_s
            self._streak.clear()
