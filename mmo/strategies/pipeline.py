"""Pipeline: named steps in order, each a strategy fed by a prompt template.

A step's ``prompt`` (and ``system``, when given) is a template over ``{input}``, the user's
message, and the outputs of earlier steps by name (``{draft}``); see ``templates.py`` for what a
template may hold. Templates are checked when the profile is built: a placeholder naming a later
or unknown step is a ``ConfigError`` before anything is spent. Each step asks a new single-turn
request: the rendered prompt, the step's system prompt or else the user's, and the user's
parameters, metadata and tags.

A step's ``check`` runs the cascade's gates on its answer. ``on_fail``: ``stop`` raises
``CheckFailed`` naming the step and the gate; ``repair`` asks the step once more, showing it its
answer and why it failed, and stops if that fails too; ``continue`` notes the failure and goes on
with the answer. Only the output step (the last, unless ``output`` names another) may stream, and
only when it is the last step and has no check: every other answer is an intermediate result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Mapping, Sequence

from pydantic import Field

from mmo.core.errors import CheckFailed, ConfigError
from mmo.core.estimate import NOTHING, CostRange
from mmo.core.protocols import Estimator, Node, RunContext
from mmo.core.types import Completion, Message, Request
from mmo.spec.base import Spec
from mmo.strategies.gates.gate_set import Gates, build_gates
from mmo.strategies.gates.spec import GatesSpec
from mmo.strategies.gates.verdict import GateResult
from mmo.strategies.kinds import Builder, StrategyKind

if TYPE_CHECKING:
    from mmo.spec.nodes import NodeSpec
    from mmo.strategies.templates import Template

OnFail = Literal["stop", "repair", "continue"]
INPUT = "input"


class StepSpec(Spec):
    """One pipeline step: a strategy, a prompt template over ``{input}`` and earlier steps'
    outputs (``{draft}``), and an optional check that stops or repairs the step on failure."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    run: NodeSpec
    prompt: str = "{input}"
    system: str | None = None
    check: GatesSpec | None = None  # type: ignore[valid-type]
    on_fail: OnFail = "stop"


class PipelineSpec(Spec):
    pipeline: list[StepSpec] = Field(min_length=1)
    output: str | None = Field(default=None, description="the step whose output is the answer (default: the last)")


class StepNode:
    """One step: its strategy, its templates and its check. The pipeline renders the request;
    the step runs it, checks the answer and repairs it when allowed."""

    kind = "step"

    def __init__(
        self,
        name: str,
        node: Node,
        prompt: Template,
        system: Template | None = None,
        gates: Gates | None = None,
        on_fail: OnFail = "stop",
    ) -> None:
        self.name = self.label = name
        self.node = node
        self.prompt, self.system = prompt, system
        self.gates = gates
        self.on_fail = on_fail

    def children(self) -> Sequence[Node]:
        return (self.node, *(self.gates.nodes() if self.gates is not None else ()))

    def estimate(self, request: Request, est: Estimator) -> CostRange:
        """The step's answer and its check's calls; with ``repair``, the worst case asks again
        (and checks again)."""
        if self.gates is None:
            return est.range(self.node, request)
        prepared = self.gates.prepare(request)
        answer = est.range(self.node, prepared)
        checked = answer.beside(self.gates.estimate(request, answer, est))
        if self.on_fail != "repair":
            return checked
        failure = GateResult(False, "check", "the answer did not pass")
        again = est.range(self.node, repair_request(prepared, est.stand_in(answer.worst.answer_tokens), failure))
        rechecked = again.beside(self.gates.estimate(request, again, est))
        return CostRange(checked.best, checked.expected, checked.worst.then(rechecked.worst))

    def request_for(self, values: Mapping[str, str], original: Request) -> Request:
        system = self.system.render(values) if self.system is not None else original.system
        return Request.from_prompt(
            self.prompt.render(values), system=system, params=original.params, metadata=original.metadata, tags=original.tags
        )

    async def run(self, request: Request, ctx: RunContext) -> Completion:
        if self.gates is None:
            return await ctx.call(self.node, request)
        # The gates may add to what is asked (a confidence line, logprobs) and judge the raw
        # answer against the step's own request; the next step gets the cleaned answer.
        prepared = self.gates.prepare(request)
        completion = await ctx.call(self.node, prepared, stream=False)
        failure = await self._first_failure(completion, request, ctx)
        if failure is None:
            return self.gates.clean(completion)
        if self.on_fail == "continue":
            ctx.note(f"check {failure.gate} failed: {failure.reason}; continuing with this answer (on_fail: continue)", gate=failure.gate)
            return self.gates.clean(completion)
        if self.on_fail == "stop":
            ctx.note(f"check {failure.gate} failed: {failure.reason}; stopping (on_fail: stop)", gate=failure.gate)
            raise CheckFailed(self.name, failure.gate, failure.reason)
        return await self._repair(request, prepared, completion, failure, ctx)

    async def _repair(self, request: Request, prepared: Request, completion: Completion, failure: GateResult, ctx: RunContext) -> Completion:
        assert self.gates is not None
        ctx.note(f"check {failure.gate} failed: {failure.reason}; asking {self.node.label} once more (on_fail: repair)", gate=failure.gate)
        repaired = await ctx.call(self.node, repair_request(prepared, completion.text, failure), stream=False)
        second = await self._first_failure(repaired, request, ctx)
        if second is not None:
            ctx.note(f"the repaired answer failed check {second.gate} too: {second.reason}; stopping", gate=second.gate)
            raise CheckFailed(self.name, second.gate, second.reason, repaired=True)
        ctx.note("the repaired answer passed the check")
        return self.gates.clean(repaired)

    async def _first_failure(self, completion: Completion, request: Request, ctx: RunContext) -> GateResult | None:
        assert self.gates is not None
        results = await self.gates.evaluate(completion, request, ctx)
        failed = next((r for r in results if not r.passed), None)
        if failed is None and results:
            ctx.note(f"check passed: {', '.join(r.gate for r in results)}", gates=[r.attrs() for r in results])
        return failed


def repair_request(request: Request, answer: str, failure: GateResult) -> Request:
    """The step's request, continued: its answer, then why it was rejected and a request to redo it."""
    feedback = (
        f"Your answer did not pass a check ({failure.gate}): {failure.reason}\n"
        "Answer again, in full, fixing that. Reply with the corrected answer only."
    )
    messages = (*request.messages, Message("assistant", answer), Message("user", feedback))
    return Request(messages, request.params, request.metadata, request.tags)


class PipelineNode:
    kind = "pipeline"

    def __init__(self, steps: Sequence[StepNode], output: str | None = None, label: str = "pipeline") -> None:
        if not steps:
            raise ValueError("a pipeline needs at least one step")
        self.steps = tuple(steps)
        self.output = output or self.steps[-1].name
        self.label = label

    def children(self) -> Sequence[Node]:
        return self.steps

    def estimate(self, request: Request, est: Estimator) -> CostRange:
        """Every step in order; a later step reads an earlier one's answer at its worst length."""
        values: dict[str, str] = {INPUT: request.last_user_text()}
        out = NOTHING
        for step in self.steps:
            step_range = est.range(step, step.request_for(values, request))
            values[step.name] = est.stand_in(step_range.worst.answer_tokens)
            out = out.then(step_range)
        return out

    async def run(self, request: Request, ctx: RunContext) -> Completion:
        values: dict[str, str] = {INPUT: request.last_user_text()}
        answer: Completion | None = None
        last = self.steps[-1]
        for step in self.steps:
            stream = step is last and step.name == self.output
            completion = await ctx.call(step, step.request_for(values, request), stream=stream)
            values[step.name] = completion.text
            if step.name == self.output:
                answer = completion
        assert answer is not None
        if last.name != self.output:
            ctx.note(f"the answer is step {self.output!r}'s output; later steps checked it", output=self.output)
        return answer


def build(builder: Builder, spec: PipelineSpec) -> Node:
    names = [step.name for step in spec.pipeline]
    _check_names(names, spec.output)
    steps: list[StepNode] = []
    for position, step in enumerate(spec.pipeline):
        known = [INPUT, *names[:position]]
        steps.append(_build_step(builder, step, known))
    return PipelineNode(steps, spec.output)


def _check_names(names: Sequence[str], output: str | None) -> None:
    seen: set[str] = set()
    for name in names:
        if name == INPUT:
            raise ConfigError("pipeline: a step cannot be named 'input': {input} is the user's message")
        if name in seen:
            raise ConfigError(f"pipeline: two steps are named {name!r}; step names must be unique")
        seen.add(name)
    if output is not None and output not in seen:
        raise ConfigError(f"pipeline: output names {output!r}, which is not a step; steps: {', '.join(names)}")


def _build_step(builder: Builder, spec: StepSpec, known: Sequence[str]) -> StepNode:
    from mmo.strategies.templates import Template

    prompt = Template.parse(spec.prompt, f"pipeline step {spec.name!r} prompt")
    prompt.require_known(known, f"pipeline step {spec.name!r} prompt")
    system = None
    if spec.system is not None:
        system = Template.parse(spec.system, f"pipeline step {spec.name!r} system")
        system.require_known(known, f"pipeline step {spec.name!r} system")
    gates = build_gates(builder, spec.check) if spec.check is not None else None
    if gates is not None and not len(gates):
        gates = None  # `check: {}` sets no gate: nothing to judge, so the step may stream
    if gates is None and "on_fail" in spec.model_fields_set:
        raise ConfigError(f"pipeline step {spec.name!r}: on_fail needs a check to act on")
    return StepNode(spec.name, builder.build(spec.run), prompt, system, gates, spec.on_fail)


KIND = StrategyKind("pipeline", PipelineSpec, build, specs=(StepSpec, PipelineSpec))
