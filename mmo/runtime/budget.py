"""Cost caps, checked before every real model call (cache hits are free and always pass).

* ``budget.per_request_usd``: what one request (one ``mmo ask``, one batch row) may spend over
  all its attempts. Before a call, its worst case is priced: estimated prompt tokens at the input
  price + ``max_tokens`` (or ``DEFAULT_OUTPUT_TOKENS`` when none is set) at the output price. The
  call is refused when what the request already spent, plus the worst cases of its calls still in
  flight (an ensemble's members run at once), plus this one would pass the cap.
* ``budget.daily_usd``: what the profile may spend per UTC day. The run log's spend for the
  profile since midnight UTC is read once when the session opens; the session's own spend and
  in-flight worst cases are added as it runs.
* A model with no known price is refused under a cap, unless ``allow_unknown_prices: true``;
  then its worst case counts as $0 and its real cost as unknown.

What "spent" means: the actual cost of each finished call (the provider's or recording's cost,
else the price book's); a cut stream counts its estimated partial cost, as the trace does; a call
cancelled in flight (a losing hedge) counts its prompt at the input price, since providers bill a
prompt once it is processed; a failed call counts nothing.

The guard must come after any guard that waits in ``acquire`` (the limits guard): a call
cancelled while it reaches this guard's ``release`` was then really in flight.

A refusal is a ``BudgetExceeded`` with a note in the trace giving the numbers. It is a *failover*
error exactly when a call costing $0 would still fit under every cap, i.e. only this target's
worst case is too big: a fallback then moves on to its next child, which may be cheaper (a
smaller model, a local one, a smaller ``max_tokens``), and a cascade can keep the answer it
already has. When the money is already spent, nothing can fit: the error is final and the run
stops without spending more.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mmo.config.models import Profile
from mmo.core.errors import BudgetExceeded, StreamCut
from mmo.core.types import Completion, ModelRef, Request, Usage
from mmo.runtime.call_estimate import CallEstimate, estimate_call
from mmo.runtime.context import Guard, ModelTarget, RunContext

if TYPE_CHECKING:
    from mmo.runtime.prices import ModelPrice, PriceBook
    from mmo.runtime.tokens import TokenEstimator

RUNS_TRACKED = 4096  # per-request ledgers kept at once (a batch runs far fewer rows concurrently)
PER_MTOK = 1_000_000


@dataclass(slots=True)
class Ledger:
    """Money of one request or one session: spent by finished calls, reserved by running ones."""

    spent: float = 0.0
    reserved: float = 0.0

    @property
    def committed(self) -> float:
        return self.spent + self.reserved


@dataclass(frozen=True, slots=True)
class Reservation:
    """What one admitted call holds until it ends."""

    run: Ledger
    usd: float
    ref: ModelRef
    estimate: CallEstimate
    prices: PriceBook
    tokens: TokenEstimator


def worst_case_usd(price: ModelPrice | None, estimate: CallEstimate) -> float | None:
    """The most a call can cost, or ``None`` when a needed price is unknown."""
    if price is None or price.input_per_mtok is None or price.output_per_mtok is None:
        return None
    return (estimate.input_tokens * price.input_per_mtok + estimate.output_tokens * price.output_per_mtok) / PER_MTOK


def usd(value: float) -> str:
    if value == 0:
        return "$0"
    return f"${value:.6f}" if value < 0.01 else f"${value:.4f}"


class BudgetGuard(Guard):
    """Per-request and daily caps of one session."""

    def __init__(
        self,
        *,
        per_request_usd: float | None = None,
        daily_usd: float | None = None,
        spent_today_usd: float = 0.0,
        allow_unknown_prices: bool = False,
        profile_name: str = "",
    ) -> None:
        self.per_request_usd, self.daily_usd = per_request_usd, daily_usd
        self.spent_today_usd = spent_today_usd
        self.allow_unknown_prices = allow_unknown_prices
        self.profile_name = profile_name
        self.session = Ledger()
        self._runs: OrderedDict[float, Ledger] = OrderedDict()

    @classmethod
    def from_profile(cls, profile: Profile, *, spent_today_usd: float = 0.0) -> BudgetGuard:
        spec = profile.budget
        return cls(
            per_request_usd=spec.per_request_usd,
            daily_usd=spec.daily_usd,
            spent_today_usd=spent_today_usd,
            allow_unknown_prices=spec.allow_unknown_prices,
            profile_name=profile.name,
        )

    @property
    def active(self) -> bool:
        return self.per_request_usd is not None or self.daily_usd is not None

    def run_ledger(self, ctx: RunContext) -> Ledger:
        # Every span of one run shares its origin (the run's start time): the run's identity here.
        key = ctx.span.origin
        ledger = self._runs.get(key)
        if ledger is None:
            ledger = self._runs[key] = Ledger()
            while len(self._runs) > RUNS_TRACKED:
                self._runs.popitem(last=False)
        return ledger

    async def acquire(self, target: ModelTarget, request: Request, ctx: RunContext) -> Reservation | None:
        if not self.active:
            return None
        services = ctx.services
        estimate = estimate_call(request, target.id, services.tokens)
        worst = worst_case_usd(services.prices.lookup(target.ref), estimate)
        run = self.run_ledger(ctx)
        if worst is None:
            worst = self._unknown_price(target, ctx)
        self._check_request(target, run, worst, estimate, ctx)
        self._check_day(target, worst, ctx)
        ctx.note(self._fits_note(target, run, worst, estimate), estimate_usd=worst)
        run.reserved += worst
        self.session.reserved += worst
        return Reservation(run, worst, target.ref, estimate, services.prices, services.tokens)

    def release(self, token: Any, target: ModelTarget, completion: Completion | None, error: BaseException | None) -> None:
        if not isinstance(token, Reservation):
            return
        cost = self._actual_cost(token, completion, error)
        for ledger in (token.run, self.session):
            ledger.reserved -= token.usd
            ledger.spent += cost

    # --- the checks ------------------------------------------------------------------------

    def _unknown_price(self, target: ModelTarget, ctx: RunContext) -> float:
        if self.allow_unknown_prices:
            ctx.note(f"budget: no price known for {target.id}; allowed (allow_unknown_prices), counted as $0")
            return 0.0
        raise self._refusal(
            ctx,
            f"no price known for {target.id}, so its cost cannot be kept under the budget cap "
            "(give it a price under `models:`, or set budget.allow_unknown_prices: true)",
            limit=self.per_request_usd if self.per_request_usd is not None else self.daily_usd,
            spent=None,
            failover=True,
        )

    def _check_request(self, target: ModelTarget, run: Ledger, worst: float, estimate: CallEstimate, ctx: RunContext) -> None:
        cap = self.per_request_usd
        if cap is None or run.committed + worst <= cap:
            return
        raise self._refusal(
            ctx,
            f"per-request cap {usd(cap)}: {target.id} could cost up to {usd(worst)} for {estimate.describe()} "
            f"and this request has {usd(run.spent)} spent{_in_flight(run)}",
            limit=cap,
            spent=run.spent,
            failover=run.committed <= cap,
        )

    def _check_day(self, target: ModelTarget, worst: float, ctx: RunContext) -> None:
        cap = self.daily_usd
        if cap is None:
            return
        today = self.spent_today_usd + self.session.committed
        if today + worst <= cap:
            return
        raise self._refusal(
            ctx,
            f"daily cap {usd(cap)} of profile {self.profile_name!r}: {usd(today)} spent today (UTC, in flight included) "
            f"and {target.id} could cost up to {usd(worst)}",
            limit=cap,
            spent=today,
            failover=today <= cap,
        )

    @staticmethod
    def _refusal(ctx: RunContext, message: str, *, limit: float | None, spent: float | None, failover: bool) -> BudgetExceeded:
        # The numbers are in the error, which --explain shows on the attempt; the note says what follows.
        outcome = "a cheaper target may fit" if failover else "nothing more can be spent"
        ctx.note(f"budget: refused ({outcome})", limit_usd=limit, spent_usd=spent)
        error = BudgetExceeded(message, limit_usd=limit, spent_usd=spent)
        error.failover = failover  # read by fallbacks and cascades: may another target fit?
        return error

    def _fits_note(self, target: ModelTarget, run: Ledger, worst: float, estimate: CallEstimate) -> str:
        parts = [f"budget: {target.id} may cost up to {usd(worst)} for {estimate.describe()}"]
        if self.per_request_usd is not None:
            parts.append(f"request {usd(run.committed + worst)} of {usd(self.per_request_usd)}")
        if self.daily_usd is not None:
            parts.append(f"today {usd(self.spent_today_usd + self.session.committed + worst)} of {usd(self.daily_usd)}")
        return "; ".join(parts)

    # --- what a call really cost -----------------------------------------------------------

    @staticmethod
    def _actual_cost(token: Reservation, completion: Completion | None, error: BaseException | None) -> float:
        if completion is not None:
            known = completion.cost.usd if completion.cost.known else token.prices.cost(token.ref, completion.usage).usd
            return token.usd if known is None else known
        if isinstance(error, StreamCut) and error.partial_text:
            usage = Usage(token.estimate.input_tokens, token.tokens.estimate(error.partial_text, token.ref.id))
        elif error is not None and not isinstance(error, Exception):  # cancelled in flight (a losing hedge)
            usage = Usage(token.estimate.input_tokens, 0)
        else:
            return 0.0
        billed = token.prices.cost(token.ref, usage).usd
        return billed if billed is not None else 0.0


def _in_flight(run: Ledger) -> str:
    return f" + {usd(run.reserved)} in flight" if run.reserved > 0 else ""
