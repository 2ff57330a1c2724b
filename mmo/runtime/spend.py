"""The one spend-cap guard: a profile's budgets and a batch's ``--max-cost``, checked before every
real model call (cache hits are free and always pass).

Before a call, its worst case is priced by the catalogue's one worst-case function: estimated
prompt tokens at the input price + ``max_tokens`` (or ``DEFAULT_OUTPUT_TOKENS`` when none is set)
at the output price. Then, for each cap that is set:

* ``per_request_usd`` (``Budgets``): what one request (one ``mmo ask``, one batch row) may spend
  over all its attempts. Refused when the request's spent money, plus the worst cases of its calls
  still in flight (an ensemble's members run at once), plus this one, would pass the cap.
* ``daily_usd`` (``Budgets``): what the profile may spend per UTC day. The run log's spend for the
  profile since midnight UTC is read once when the session opens (``spent_today_usd``); the
  session's own spend and in-flight worst cases are added as it runs. With shared state
  (``MMO_STATE_URL``) the day is one counter on the Redis server for every process instead
  (``shared_budget``).
* ``RunCap`` (``mmo batch --max-cost``): what a run spends across all its invocations. When only
  calls in flight stand in the way, the call waits for them to end (their real cost is usually far
  below their worst case); when the money already spent leaves no room, ``CostCapReached`` stops
  the run. So no call starts that could take the run past the cap, and concurrency does not stop
  a run early; ``waiting`` and ``waits`` count the calls it holds back, so a batch can say that
  the cap, not the provider, sets its pace. A run shared by several workers (``mmo batch
  --shared``) keeps its spend and its calls' worst cases on the Redis server too
  (``shared_budget.SharedRunCap``), so the cap holds across workers.

A model with no known price is refused under a cap unless unknown prices are allowed (then its
worst case counts as $0 and its real cost, when known afterwards, as spent).

What "spent" means: the actual cost of each finished call (the provider's or recording's, else
the catalogue's); a cut stream counts its estimated partial cost, as the trace does; a call
cancelled in flight (a losing hedge) counts its prompt at the input price, since providers bill a
prompt once it is processed; a failed call counts nothing.

A budget refusal is a *failover* error exactly when a call costing $0 would still fit, i.e. only
this target's worst case is too big: a fallback then moves on to a cheaper target and a cascade
keeps the answer it has. The guard must come after any guard that waits (the limits guard), so a
call cancelled while it reaches ``release`` was really in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from mmo.catalog.catalog import Catalog
from mmo.core.errors import BudgetExceeded, CostCapReached, StreamCut
from mmo.core.target import ModelTarget
from mmo.core.types import Completion, Request, Usage
from mmo.runtime.background import BackgroundWrites
from mmo.runtime.call_estimate import CallEstimate, estimate_call
from mmo.runtime.guard import Guard, GuardContext
from mmo.runtime.input_tokens import provider_kind
from mmo.runtime.shared_budget import SharedDailyBudget, SharedRunCap
from mmo.runtime.tokens import TokenEstimator

RUNS_TRACKED = 4096  # per-request ledgers kept at once (a batch runs far fewer rows concurrently)
SHARED_CAP_POLL_S = 0.5  # a shared run's cap full of calls in flight: how often to look again (they may be at other workers)


def usd(value: float) -> str:
    if value == 0:
        return "$0"
    return f"${value:.6f}" if value < 0.01 else f"${value:.4f}"


@dataclass(slots=True)
class Ledger:
    """Money of one request, one session or one run: spent by finished calls, reserved by
    running ones."""

    spent: float = 0.0
    reserved: float = 0.0

    @property
    def committed(self) -> float:
        return self.spent + self.reserved


@dataclass(frozen=True, slots=True)
class Budgets:
    """A profile's ``budget:``; ``spent_today_usd`` is what the run log holds for today."""

    per_request_usd: float | None = None
    daily_usd: float | None = None
    spent_today_usd: float = 0.0
    allow_unknown_prices: bool = False
    profile_name: str = ""

    @property
    def active(self) -> bool:
        return self.per_request_usd is not None or self.daily_usd is not None

    def request_fits(self, worst_usd: float) -> bool:
        """Whether one request whose calls may cost ``worst_usd`` in all passes no request cap."""
        return self.per_request_usd is None or worst_usd <= self.per_request_usd


@dataclass(frozen=True, slots=True)
class RunCap:
    """``--max-cost``: ``usd`` over the whole run, ``spent_before_usd`` by its earlier invocations."""

    usd: float
    spent_before_usd: float = 0.0
    allow_unknown_prices: bool = False
    shared: SharedRunCap | None = None  # a run shared by several workers: its spend on the Redis server

    def __post_init__(self) -> None:
        if self.usd <= 0:
            raise ValueError("the cost cap must be above 0")

    def fits(self, committed_usd: float, worst_usd: float) -> bool:
        """Whether a call that may cost ``worst_usd`` fits beside ``committed_usd``."""
        return committed_usd + worst_usd <= self.usd


@dataclass(frozen=True, slots=True)
class Reservation:
    """What one admitted call holds until it ends."""

    ledgers: tuple[Ledger, ...]
    usd: float
    target: ModelTarget
    estimate: CallEstimate
    catalog: Catalog
    tokens: TokenEstimator
    shared_day: str | None = None  # the shared day's key the worst case was reserved under
    shared_run: bool = False  # the worst case is reserved under a shared run's cap too


class SpendGuard(Guard):
    """Budgets and a run cap of one session (either may be absent). With ``shared`` the daily
    budget is a counter on a Redis server, shared by every process (``shared_budget``)."""

    def __init__(self, budgets: Budgets | None = None, run_cap: RunCap | None = None, shared: SharedDailyBudget | None = None) -> None:
        self.budgets = budgets or Budgets()
        self.run_cap = run_cap
        self.shared = shared if self.budgets.daily_usd is not None else None
        self._writes = BackgroundWrites()  # shared-state writes from release
        self.session = Ledger()
        self.run = Ledger(spent=run_cap.spent_before_usd if run_cap else 0.0)
        self.in_flight = 0
        self.waiting = 0  # calls now waiting for room under the run cap (throughput it holds back)
        self.waits = 0  # calls that had to wait, in all
        self._requests: OrderedDict[float, Ledger] = OrderedDict()
        self._released: asyncio.Event | None = None

    @property
    def active(self) -> bool:
        return self.budgets.active or self.run_cap is not None

    async def acquire(self, target: ModelTarget, request: Request, ctx: GuardContext) -> Reservation | None:
        if not self.active:
            return None
        estimate = estimate_call(request, target.ref, ctx.tokens, provider_kind(target, ctx.catalog))
        worst = ctx.catalog.worst_case_usd(target.ref, estimate.input_tokens, estimate.output_tokens)
        if worst is None:
            worst = self._unknown_price(target, ctx)
        request_ledger = self._request_ledger(ctx.run_origin)
        self._check_request(target, request_ledger, worst, estimate, ctx)
        if self.shared is None:
            self._check_day(target, worst, ctx)
        await self._wait_for_run_room(target, worst, estimate, ctx)
        shared_run = await self._reserve_shared_run(target, worst, estimate, ctx)
        try:
            shared_day = await self._reserve_shared_day(target, worst, ctx)
        except BaseException:
            if shared_run:
                self._settle_shared_run(worst, 0.0)
            raise
        if self.budgets.active:
            ctx.note(self._fits_note(target, request_ledger, worst, estimate), estimate_usd=worst)
        ledgers = (request_ledger, self.session, self.run)
        for ledger in ledgers:
            ledger.reserved += worst
        self.in_flight += 1
        return Reservation(ledgers, worst, target, estimate, ctx.catalog, ctx.tokens, shared_day, shared_run)

    def release(self, token: Any, target: ModelTarget, completion: Completion | None, error: BaseException | None) -> None:
        if not isinstance(token, Reservation):
            return
        cost = actual_cost(token, completion, error)
        if token.shared_day is not None and self.shared is not None:
            self._writes.start(self.shared.settle(token.shared_day, cost - token.usd))
        if token.shared_run:
            self._settle_shared_run(token.usd, cost)
        for ledger in token.ledgers:
            ledger.reserved -= token.usd
            ledger.spent += cost
        self.in_flight -= 1
        if self._released is not None:
            self._released.set()
            self._released = None

    @property
    def run_spent_usd(self) -> float:
        return self.run.spent

    # --- the checks ------------------------------------------------------------------------

    def _request_ledger(self, run_origin: float) -> Ledger:
        # Every call of one request shares its run's origin (its start time): the request's identity.
        ledger = self._requests.get(run_origin)
        if ledger is None:
            ledger = self._requests[run_origin] = Ledger()
            while len(self._requests) > RUNS_TRACKED:
                self._requests.popitem(last=False)
        return ledger

    def _unknown_price(self, target: ModelTarget, ctx: GuardContext) -> float:
        cap = self.run_cap
        if cap is not None and not cap.allow_unknown_prices:
            raise self._cap_refusal(ctx, f"no price known for {target.id}, so the cost cap {usd(cap.usd)} cannot be kept")
        if self.budgets.active and not self.budgets.allow_unknown_prices:
            limit = self.budgets.per_request_usd if self.budgets.per_request_usd is not None else self.budgets.daily_usd
            raise _budget_refusal(
                ctx,
                f"no price known for {target.id}, so its cost cannot be kept under the budget cap "
                "(give it a price under `models:`, or set budget.allow_unknown_prices: true)",
                limit=limit,
                spent=None,
                scope="request" if self.budgets.per_request_usd is not None else "day",
                failover=True,
            )
        if self.budgets.active:
            ctx.note(f"budget: no price known for {target.id}; allowed (allow_unknown_prices), counted as $0")
        return 0.0

    def _check_request(self, target: ModelTarget, ledger: Ledger, worst: float, estimate: CallEstimate, ctx: GuardContext) -> None:
        cap = self.budgets.per_request_usd
        if cap is None or ledger.committed + worst <= cap:
            return
        in_flight = f" + {usd(ledger.reserved)} in flight" if ledger.reserved > 0 else ""
        raise _budget_refusal(
            ctx,
            f"per-request cap {usd(cap)}: {target.id} could cost up to {usd(worst)} for {estimate.describe()} "
            f"and this request has {usd(ledger.spent)} spent{in_flight}",
            limit=cap,
            spent=ledger.spent,
            scope="request",
            failover=ledger.committed <= cap,
        )

    def _check_day(self, target: ModelTarget, worst: float, ctx: GuardContext) -> None:
        cap = self.budgets.daily_usd
        if cap is None:
            return
        today = self.budgets.spent_today_usd + self.session.committed
        if today + worst > cap:
            raise self._day_refusal(ctx, target, cap, today, worst, "spent today")

    async def _reserve_shared_day(self, target: ModelTarget, worst: float, ctx: GuardContext) -> str | None:
        """The daily cap on the shared counter: the worst case reserved there, or refused."""
        cap = self.budgets.daily_usd
        if self.shared is None or cap is None:
            return None
        key, today = await self.shared.reserve(cap, worst, self.budgets.spent_today_usd)
        if key is None:
            raise self._day_refusal(ctx, target, cap, today, worst, "spent today by every process sharing it")
        return key

    def _day_refusal(self, ctx: GuardContext, target: ModelTarget, cap: float, today: float, worst: float, spent_by: str) -> BudgetExceeded:
        return _budget_refusal(
            ctx,
            f"daily cap {usd(cap)} of profile {self.budgets.profile_name!r}: {usd(today)} {spent_by} (UTC, in flight included) "
            f"and {target.id} could cost up to {usd(worst)}",
            limit=cap,
            spent=today,
            scope="day",
            failover=today <= cap,
        )


    async def _wait_for_run_room(self, target: ModelTarget, worst: float, estimate: CallEstimate, ctx: GuardContext) -> None:
        cap = self.run_cap
        if cap is None or cap.fits(self.run.committed, worst):
            return
        self.waiting += 1
        self.waits += 1
        try:
            while not cap.fits(self.run.committed, worst):
                if self.in_flight == 0 or not cap.fits(self.run.spent, worst):
                    spent = usd(self.run.spent)
                    raise self._cap_refusal(ctx, f"{target.id} could cost up to {usd(worst)} for {estimate.describe()}, and {spent} is spent")
                if self._released is None:
                    self._released = asyncio.Event()
                await self._released.wait()
        finally:
            self.waiting -= 1

    async def _reserve_shared_run(self, target: ModelTarget, worst: float, estimate: CallEstimate, ctx: GuardContext) -> bool:
        """A shared run's cap: the worst case reserved on the server, waiting while calls in
        flight (here or at other workers) hold the room; refused once the run's spend leaves none."""
        cap = self.run_cap
        if cap is None or cap.shared is None:
            return False
        waited = False
        try:
            while True:
                reserved, spent, _ = await cap.shared.reserve(cap.usd, worst)
                if reserved:
                    return True
                if spent + worst > cap.usd:
                    reason = f"{target.id} could cost up to {usd(worst)} for {estimate.describe()}, and the run's workers have spent {usd(spent)}"
                    raise self._cap_refusal(ctx, reason, spent)
                if not waited:
                    waited = True
                    self.waiting += 1
                    self.waits += 1
                if self._released is None:
                    self._released = asyncio.Event()
                with contextlib.suppress(TimeoutError):  # a call here ends, or one at another worker may have
                    await asyncio.wait_for(self._released.wait(), SHARED_CAP_POLL_S)
        finally:
            if waited:
                self.waiting -= 1

    def _settle_shared_run(self, worst: float, cost: float) -> None:
        assert self.run_cap is not None and self.run_cap.shared is not None
        self._writes.start(self.run_cap.shared.settle(worst, cost))

    def _cap_refusal(self, ctx: GuardContext, reason: str, spent: float | None = None) -> CostCapReached:
        assert self.run_cap is not None
        spent = self.run.spent if spent is None else spent
        ctx.note(f"cost cap {usd(self.run_cap.usd)}: refused", spent_usd=spent)
        return CostCapReached(f"cost cap {usd(self.run_cap.usd)} reached: {reason}", limit_usd=self.run_cap.usd, spent_usd=spent)

    async def aclose(self) -> None:
        await self._writes.drain()
        for shared in (self.shared, self.run_cap.shared if self.run_cap is not None else None):
            if shared is not None:
                await shared.aclose()

    def _fits_note(self, target: ModelTarget, ledger: Ledger, worst: float, estimate: CallEstimate) -> str:
        parts = [f"budget: {target.id} may cost up to {usd(worst)} for {estimate.describe()}"]
        if self.budgets.per_request_usd is not None:
            parts.append(f"request {usd(ledger.committed + worst)} of {usd(self.budgets.per_request_usd)}")
        if self.budgets.daily_usd is not None:
            parts.append(f"today {usd(self.budgets.spent_today_usd + self.session.committed + worst)} of {usd(self.budgets.daily_usd)}")
        return "; ".join(parts)


def _budget_refusal(ctx: GuardContext, message: str, *, limit: float | None, spent: float | None, scope: str, failover: bool) -> BudgetExceeded:
    # The numbers are in the error, which --explain shows on the attempt; the note says what follows.
    outcome = "a cheaper target may fit" if failover else "nothing more can be spent"
    ctx.note(f"budget: refused ({outcome})", limit_usd=limit, spent_usd=spent)
    return BudgetExceeded(message, limit_usd=limit, spent_usd=spent, scope=scope, failover=failover)


def actual_cost(token: Reservation, completion: Completion | None, error: BaseException | None) -> float:
    """What an admitted call really cost, by the rules in the module docstring."""
    ref = token.target.ref
    if completion is not None:
        known = completion.cost.usd if completion.cost.known else token.catalog.cost(ref, completion.usage).usd
        return token.usd if known is None else known
    if isinstance(error, StreamCut) and error.partial_text:
        usage = Usage(token.estimate.input_tokens, token.tokens.estimate(error.partial_text, ref.id))
    elif error is not None and not isinstance(error, Exception):  # cancelled in flight (a losing hedge)
        usage = Usage(token.estimate.input_tokens, 0)
    else:
        return 0.0
    billed = token.catalog.cost(ref, usage).usd
    return billed if billed is not None else 0.0
