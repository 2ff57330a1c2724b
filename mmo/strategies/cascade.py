"""Cascade: tiers from cheap to expensive; quality gates decide whether to accept or escalate.

For each tier in order, the cascade asks it with ``stream=False`` (nothing reaches the screen
before an answer is accepted; the renderer prints the accepted one), runs the gates
(``mmo.strategies.gates``) on its answer and returns the first answer that passes them all. Each
decision is a note in the trace: every gate passed, the gate that failed and why
("escalating from flash: gate extract failed: ..."), every tier's error. Every tier's call and
every call a gate makes (agree, judge) is an attempt in the trace, so the run's cost counts the
rejected tiers too.

A tier that fails with an error another target could get past (``failover``: 429, timeouts, a
missing key, a nested fallback that ran out) is recorded and the next tier asked. An error no
other tier could fix (a malformed request, a budget stop) stops the cascade at once, as in a
fallback.

When no tier's answer passes, ``on_exhausted`` decides:

* ``last`` (default): the answer of the last tier that answered, with a note naming the gate it
  failed. In this mode gates that call models (agree, judge) are not run on the last tier: their
  verdict could not change the outcome and would only cost money.
* ``best``: the answer that got furthest through the gates. Gates run in a fixed order and stop
  at the first failure, so "furthest" means the most gates passed; a tie goes to the later (more
  capable) tier.
* ``error``: raise ``QualityGateFailed`` for the last rejected answer; when some tiers failed with
  errors too, ``AllAttemptsFailed`` holding each tier's error or ``QualityGateFailed`` in order.

When no tier answered at all, ``AllAttemptsFailed`` holds every tier's error, whatever the mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Sequence

from pydantic import Field

from mmo.core.errors import AllAttemptsFailed, BudgetExceeded, MmoError, QualityGateFailed, one_line
from mmo.core.estimate import NOTHING, CostRange, Path
from mmo.core.protocols import Estimator, Node, RunContext
from mmo.core.types import Completion, Request
from mmo.spec.base import Spec
from mmo.strategies.gates.gate_set import Gates, build_gates, first_failure
from mmo.strategies.gates.spec import GatesSpec
from mmo.strategies.gates.verdict import GateResult
from mmo.strategies.kinds import Builder, StrategyKind

if TYPE_CHECKING:
    from mmo.spec.nodes import NodeSpec

OnExhausted = Literal["last", "best", "error"]


class CascadeSpec(Spec):
    """Tiers from cheap to expensive; after each tier but the last, the gates decide accept or
    escalate. ``on_exhausted``: what the last tier's answer gets when it fails the gates too."""

    cascade: list[NodeSpec] = Field(min_length=1)
    # No gates, made without validation: GatesSpec is resolved only as part of a Profile.
    accept: GatesSpec = Field(default_factory=GatesSpec.model_construct)  # type: ignore[valid-type]
    on_exhausted: OnExhausted = "last"


@dataclass(frozen=True, slots=True)
class TierVerdict:
    """One tier's answer (as the user would get it) and the gates' verdicts on it."""

    position: int
    label: str
    answer: Completion
    results: tuple[GateResult, ...]

    @property
    def failure(self) -> GateResult | None:
        return first_failure(self.results)

    @property
    def gates_passed(self) -> int:
        return sum(1 for result in self.results if result.passed)

    def error(self, context: str = "") -> QualityGateFailed:
        failed = self.failure
        gate, reason = (failed.gate, failed.reason) if failed else ("?", "?")
        provider, _, model = self.answer.model_id.partition(":")
        message = f"{context}the answer of {self.label} failed gate {gate}: {reason}"
        return QualityGateFailed(message, gate=gate, reason=reason, provider=provider, model=model)


class CascadeNode:
    kind = "cascade"

    def __init__(self, tiers: Sequence[Node], gates: Gates, on_exhausted: OnExhausted = "last", label: str = "cascade") -> None:
        self.tiers = tuple(tiers)
        self.gates = gates
        self.on_exhausted = on_exhausted
        self.label = label

    def children(self) -> Sequence[Node]:
        return (*self.tiers, *self.gates.nodes())

    def estimate(self, request: Request, est: Estimator) -> CostRange:
        """Best and expected: the first tier passes its gates. Worst: every tier answers and is
        rejected, every gate that calls a model (agree, judge) judging each answer (but the
        last tier's, under ``on_exhausted: last``, whose verdict changes nothing)."""
        prepared = self.gates.prepare(request)
        last = len(self.tiers) - 1
        judged = [self._judged(request, est.range(tier, prepared), est, final=n == last) for n, tier in enumerate(self.tiers)]
        worst = Path()
        for tier in judged:
            worst = worst.then(tier.worst)
        return CostRange(judged[0].best, judged[0].expected, worst)

    def _judged(self, request: Request, answer: CostRange, est: Estimator, *, final: bool) -> CostRange:
        model_gates = not (final and self.on_exhausted == "last")
        gates = self.gates.estimate(request, answer, est, model_gates=model_gates) if len(self.gates) else NOTHING
        return answer.beside(gates)

    async def run(self, request: Request, ctx: RunContext) -> Completion:
        tier_request = self._prepare(request, ctx)
        answered: list[TierVerdict] = []
        failures: list[BaseException] = []
        for position, tier in enumerate(self.tiers):
            final = position == len(self.tiers) - 1
            answer = await self._ask(tier, tier_request, ctx, final, failures)
            if answer is None and answered and _budget_refused(failures[-1]):
                return self._within_budget(tier, answered, ctx)
            if answer is None:
                continue
            verdict = await self._check(position, tier, answer, request, ctx, final)
            failed = verdict.failure
            if failed is None:
                ctx.note(self._accepted_message(verdict, final), tier=tier.label)
                return verdict.answer
            answered.append(verdict)
            failures.append(verdict.error())
            if not final:
                ctx.note(f"escalating from {tier.label}: gate {failed.gate} failed: {failed.reason}", tier=tier.label, **failed.attrs())
        return self._exhausted(answered, failures, ctx)

    def _prepare(self, request: Request, ctx: RunContext) -> Request:
        if not len(self.gates):
            ctx.note("no gates set: the first tier that answers is accepted")
        for preparation in self.gates.preparations:
            ctx.note(preparation)
        return self.gates.prepare(request)

    async def _ask(self, tier: Node, request: Request, ctx: RunContext, final: bool, failures: list[BaseException]) -> Completion | None:
        """The tier's answer, or ``None`` when it failed with an error the next tier may get past."""
        try:
            return await ctx.call(tier, request, stream=False)
        except (MmoError, AllAttemptsFailed) as error:
            if _budget_refused(error):
                failures.append(error)
                return None
            if not getattr(error, "failover", False):
                ctx.note(f"{tier.label} failed with an error no other tier can fix; stopping", tier=tier.label, error=type(error).__name__)
                raise
            failures.append(error)
            what = f"last tier {tier.label} failed" if final else f"escalating from {tier.label}"
            ctx.note(f"{what}: {one_line(error)}", tier=tier.label, error=type(error).__name__)
            return None

    async def _check(self, position: int, tier: Node, answer: Completion, request: Request, ctx: RunContext, final: bool) -> TierVerdict:
        model_gates = not (final and self.on_exhausted == "last")
        results = await self.gates.evaluate(answer, request, ctx, model_gates=model_gates)
        for result in results:
            if result.passed:
                ctx.note(f"{tier.label}: gate {result.gate} passed: {result.reason}", tier=tier.label, **result.attrs())
        return TierVerdict(position, tier.label, self.gates.clean(answer), tuple(results))

    def _accepted_message(self, verdict: TierVerdict, final: bool) -> str:
        if not verdict.results:
            return f"accepted the answer of {verdict.label}" + (" (no gates set)" if not len(self.gates) else "")
        message = f"accepted the answer of {verdict.label}: it passed {', '.join(r.gate for r in verdict.results)}"
        skipped = [gate.name for gate in self.gates.gates if gate.calls_models and gate.name not in {r.gate for r in verdict.results}]
        if final and skipped:
            message += f" ({', '.join(skipped)} not run on the last tier: with on_exhausted 'last' its answer is returned anyway)"
        return message

    def _within_budget(self, tier: Node, answered: list[TierVerdict], ctx: RunContext) -> Completion:
        """A budget cap refused the next tier: the cheaper branch is the answer already in hand
        (the best one, as ``on_exhausted: best`` would pick)."""
        kept = _best(answered)
        failed = kept.failure
        why = f" although it failed gate {failed.gate}" if failed is not None else ""
        ctx.note(f"budget: escalating to {tier.label} would pass the cap; keeping the answer of {kept.label}{why}", tier=tier.label)
        return kept.answer

    def _exhausted(self, answered: list[TierVerdict], failures: list[BaseException], ctx: RunContext) -> Completion:
        if not answered:
            raise AllAttemptsFailed(f"all {len(self.tiers)} tiers of {self.label} failed", failures)
        if self.on_exhausted == "error":
            ctx.note("no answer passed the gates; on_exhausted 'error' fails the cascade")
            if all(isinstance(failure, QualityGateFailed) for failure in failures):
                raise answered[-1].error(f"no answer passed the gates of {self.label} ({len(self.tiers)} tiers); ")
            raise AllAttemptsFailed(f"no tier of {self.label} gave an answer that passed its gates", failures)
        if self.on_exhausted == "best":
            chosen = _best(answered)
            how = f"the best answer, from {chosen.label}: it passed {chosen.gates_passed} of {len(self.gates)} gates (on_exhausted 'best')"
        else:
            chosen = answered[-1]
            how = f"the last answer, from {chosen.label} (on_exhausted 'last')"
        failed = chosen.failure
        detail = f"; it failed gate {failed.gate}: {failed.reason}" if failed else ""
        ctx.note(f"no answer passed the gates; returning {how}{detail}", tier=chosen.label)
        return chosen.answer


def build(builder: Builder, spec: CascadeSpec) -> Node:
    tiers = [builder.build(tier) for tier in spec.cascade]
    return CascadeNode(tiers, build_gates(builder, spec.accept), spec.on_exhausted)


def _best(answered: list[TierVerdict]) -> TierVerdict:
    """The answer that got furthest through the gates; a tie goes to the later (stronger) tier."""
    return max(answered, key=lambda verdict: (verdict.gates_passed, verdict.position))


def _budget_refused(error: BaseException) -> bool:
    """A budget cap refused the call (every leaf of a group, when it is one)."""
    if isinstance(error, AllAttemptsFailed):
        return bool(error.exceptions) and all(_budget_refused(e) for e in error.exceptions)
    return isinstance(error, BudgetExceeded)


KIND = StrategyKind("cascade", CascadeSpec, build, specs=(CascadeSpec,))
