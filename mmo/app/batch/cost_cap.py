"""``--max-cost USD``: a hard cap on what a batch run spends, across all its invocations.

A guard added to the session for the run. Before every real model call (cache hits are free) it
prices the call's worst case, as the profile budget does (``mmo.runtime.budget``: estimated
prompt tokens at the input price + ``max_tokens`` at the output price), and admits the call only
if what the run has spent, plus the worst cases of the calls in flight, plus this one, stays
within the cap. When only the calls in flight stand in the way, the call waits for them to end
(their real cost is usually far below their worst case); when the money already spent leaves no
room, it raises ``CostCapReached`` and the runner stops scheduling rows. So no call starts that
could take the run past the cap, and concurrency does not stop a run early.

Prices: the cap needs a price for every model the profile can call. ``unpriced_models`` lists the
ones without, so the run refuses before it starts; with ``--allow-unknown-prices`` their worst
case counts as $0 and their real cost, when known afterwards (a replay recording), as spent.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from mmo.core.errors import BudgetExceeded
from mmo.core.protocols import Node
from mmo.core.types import Completion, Request
from mmo.runtime.budget import BudgetGuard, Ledger, Reservation, usd, worst_case_usd
from mmo.runtime.call_estimate import estimate_call
from mmo.runtime.context import Guard, ModelTarget, RunContext

if TYPE_CHECKING:
    from mmo.runtime.prices import ModelPrice, PriceBook


class CostCapReached(BudgetExceeded):
    """The batch's ``--max-cost`` leaves no room for another call. Not a failover error: a
    cheaper model must not silently answer the rest of a batch."""

    failover = False


class CostCapGuard(Guard):
    def __init__(self, cap_usd: float, *, spent_before_usd: float = 0.0, allow_unknown_prices: bool = False) -> None:
        if cap_usd <= 0:
            raise ValueError("the cost cap must be above 0")
        self.cap_usd = cap_usd
        self.spent_before_usd = spent_before_usd
        self.allow_unknown_prices = allow_unknown_prices
        self.ledger = Ledger(spent=spent_before_usd)
        self.in_flight = 0
        self.reached: CostCapReached | None = None
        self._prices: dict[str, ModelPrice | None] = {}
        self._released: asyncio.Event | None = None

    @property
    def spent_usd(self) -> float:
        return self.ledger.spent

    async def acquire(self, target: ModelTarget, request: Request, ctx: RunContext) -> Reservation:
        services = ctx.services
        estimate = estimate_call(request, target.id, services.tokens)
        worst = worst_case_usd(self._price(target, services.prices), estimate)
        if worst is None:
            if not self.allow_unknown_prices:
                raise self._refuse(ctx, f"no price known for {target.id}, so the cost cap {usd(self.cap_usd)} cannot be kept")
            worst = 0.0
        while self.ledger.committed + worst > self.cap_usd:
            if self.in_flight == 0 or self.ledger.spent + worst > self.cap_usd:
                raise self._refuse(ctx, f"{target.id} could cost up to {usd(worst)} for {estimate.describe()}, and {usd(self.ledger.spent)} is spent")
            await self._next_release()
        self.ledger.reserved += worst
        self.in_flight += 1
        return Reservation(self.ledger, worst, target.ref, estimate, services.prices, services.tokens)

    def release(self, token: Any, target: ModelTarget, completion: Completion | None, error: BaseException | None) -> None:
        if not isinstance(token, Reservation):
            return
        # What the call really cost, by the budget guard's rules (a cancelled call pays its prompt).
        cost = BudgetGuard._actual_cost(token, completion, error)
        self.ledger.reserved -= token.usd
        self.ledger.spent += cost
        self.in_flight -= 1
        if self._released is not None:
            self._released.set()
            self._released = None

    async def _next_release(self) -> None:
        if self._released is None:
            self._released = asyncio.Event()
        await self._released.wait()

    def _price(self, target: ModelTarget, prices: PriceBook) -> ModelPrice | None:
        if target.id not in self._prices:
            self._prices[target.id] = prices.lookup(target.ref)
        return self._prices[target.id]

    def _refuse(self, ctx: RunContext, reason: str) -> CostCapReached:
        ctx.note(f"cost cap {usd(self.cap_usd)}: refused", spent_usd=self.ledger.spent)
        error = CostCapReached(f"cost cap {usd(self.cap_usd)} reached: {reason}", limit_usd=self.cap_usd, spent_usd=self.ledger.spent)
        if self.reached is None:
            self.reached = error
        return error


def unpriced_models(root: Node, prices: PriceBook) -> list[str]:
    """Models the tree can call whose worst case cannot be priced, in tree order."""
    from mmo.app.session import leaf_targets

    missing: list[str] = []
    for target in leaf_targets(root):
        price = prices.lookup(target.ref)
        if (price is None or price.input_per_mtok is None or price.output_per_mtok is None) and target.id not in missing:
            missing.append(target.id)
    return missing
