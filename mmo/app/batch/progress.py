"""Where a batch stands: ``BatchProgress`` snapshots for progress displays, and ``BatchStop``,
why a run stopped before its last row."""

from __future__ import annotations

from dataclasses import dataclass, field

INTERRUPTED, COST_CAP, BUDGET, ACCOUNT, INTERNAL = "interrupted", "cost_cap", "budget", "account", "internal_error"
OUTPUT_CLOSED = "output_closed"  # the reader of standard output went away (``| head``)
STATE_SERVER = "state_server"  # the shared-state server (MMO_STATE_URL) failed: what it shares cannot be kept


@dataclass(frozen=True, slots=True)
class BatchStop:
    """Why a run stopped before its last row. ``error`` is what stopped it (None for Ctrl-C)."""

    reason: str  # interrupted | cost_cap | budget | account | internal_error | output_closed | state_server
    message: str
    error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class BatchProgress:
    """A snapshot for progress displays. Counts are of this invocation, except
    ``finished_before`` (rows finished by earlier invocations and not run again)."""

    total: int
    finished_before: int
    done: int = 0
    failed: int = 0
    infra_errors: int = 0
    malformed: int = 0
    cost_usd: float = 0.0  # known cost
    unknown_cost_rows: int = 0  # rows whose cost is unknown (not in cost_usd)
    cache_hits: int = 0
    in_flight: int = 0
    elapsed_s: float = 0.0
    stopping: str | None = None
    errors_by_class: dict[str, int] = field(default_factory=dict)
    cap_waiting: int = 0  # calls now waiting for room under --max-cost (worst-case reservations fill it)
    cap_waits: int = 0  # calls that waited so, in this invocation

    @property
    def finished_now(self) -> int:
        return self.done + self.failed + self.infra_errors + self.malformed

    @property
    def completed(self) -> int:
        return self.finished_before + self.finished_now

    @property
    def errors(self) -> int:
        return self.failed + self.infra_errors + self.malformed

    @property
    def rate(self) -> float:
        """Rows per second in this invocation."""
        return self.finished_now / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        remaining = max(self.total - self.completed, 0)
        return remaining / self.rate if self.rate > 0 else None
