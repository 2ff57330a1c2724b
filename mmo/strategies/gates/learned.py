"""``learned``: a model trained by ``mmo tune`` predicts whether the answer is right, from the
prompt, the answer's text and (optionally) a second opinion, and the answer passes when that
probability is at least ``min_p``.

::

    accept:
      learned: {model: tuned.gate.json, min_p: 0.55, consult: llama70b}

The model (``mmo.strategies.learned_gate``, which documents its format and its inputs) is read
beside the profile (a relative path) and checked when the profile loads. An answer with nothing to
extract (``extract`` of the model) fails at once, without consulting. With ``consult``, that node
is asked the same request (its cost counts, under ``learned:NAME`` in the trace) and whether its
extracted answer agrees is one of the inputs; the model must have been trained with one, and a
model trained with one needs ``consult``. The probability is the gate's score in the trace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from pydantic import Field, ValidationInfo, field_validator

from mmo.core.errors import ConfigError
from mmo.core.estimate import NOTHING, CostRange
from mmo.core.protocols import Estimator, Node, RunContext
from mmo.core.types import Completion, Request
from mmo.spec.base import Spec
from mmo.strategies.gates.consult import GateCall, consult
from mmo.strategies.gates.kinds import GateKind
from mmo.strategies.gates.verdict import GateResult
from mmo.strategies.kinds import Builder
from mmo.strategies.learned_gate import GateModel, answer_inputs, consult_inputs, load_gate_model, prompt_features
from mmo.strategies.learned_model import beside_the_profile

if TYPE_CHECKING:
    from mmo.spec.nodes import NodeSpec

PROFILE_DIR = "profile_dir"  # the validation context key the profile loader sets (as for a learned router)


class LearnedGateSpec(Spec):
    """Accept when a model trained by `mmo tune` gives the answer at least `min_p` chance of being right."""

    model: str | dict[str, Any] = Field(description="the model: a JSON file written by mmo tune (relative: beside the profile), or inline")
    min_p: float = Field(ge=0, le=1, description="the least probability of a right answer that passes")
    consult: NodeSpec | None = Field(default=None, description="a node asked for a second opinion (the model must have been trained with one)")

    @field_validator("model")
    @classmethod
    def _beside_the_profile(cls, value: str | dict[str, Any], info: ValidationInfo) -> str | dict[str, Any]:
        return beside_the_profile(value, (info.context or {}).get(PROFILE_DIR))


def probability(model: GateModel, request: Request, answer: str, other: str | None) -> float | None:
    """The model's probability that ``answer`` is right (``other``: the consulted node's answer,
    ``None`` when it gave none); ``None`` when the answer has nothing to extract. What the gate
    compares with ``min_p``, and what ``mmo tune`` simulates it with."""
    from mmo.strategies.extract import extract

    mine = extract(answer, model.extract)
    if mine is None:
        return None
    form_value = extract(answer, model.form) if model.form else None
    inputs = answer_inputs(answer, form_value, model.form is not None)
    category = request.metadata.get("category")
    inputs["words"] = model.evidence(prompt_features(request.last_user_text(), str(category) if category else None))
    if model.consults:
        inputs |= consult_inputs(mine, extract(other, model.extract) if other is not None else None)
    return model.probability(inputs)


class LearnedGate:
    name = "learned"
    reads_raw_answer = False
    preparation: str | None = None

    def __init__(self, model: GateModel, min_p: float, node: Node | None) -> None:
        self.model = model
        self.min_p = min_p
        self.call = GateCall("learned", node) if node is not None else None
        self.calls_models = node is not None

    def prepare(self, request: Request) -> Request:
        return request

    def clean(self, completion: Completion) -> Completion:
        return completion

    def nodes(self) -> Sequence[Node]:
        return (self.call,) if self.call is not None else ()

    def estimate(self, request: Request, answer_tokens: float, est: Estimator) -> CostRange:
        return est.range(self.call, request) if self.call is not None else NOTHING

    async def check(self, completion: Completion, request: Request, ctx: RunContext) -> GateResult:
        from mmo.strategies.extract import extract

        if extract(completion.text, self.model.extract) is None:  # nothing to judge: no second opinion asked
            return GateResult(False, self.name, f"no {self.model.extract} answer to judge in this answer")
        other: str | None = None
        if self.call is not None:
            reply = await consult(self.call, request, ctx)
            other = reply.text if isinstance(reply, Completion) else None
        p = probability(self.model, request, completion.text, other)
        assert p is not None
        if p >= self.min_p:
            return GateResult(True, self.name, f"learned p(right) {p:.2f} >= {self.min_p:g}", p)
        return GateResult(False, self.name, f"learned p(right) {p:.2f} is below {self.min_p:g}", p)


def _build(builder: Builder, value: LearnedGateSpec | None) -> LearnedGate | None:
    if value is None:
        return None
    model = load_gate_model(value.model)
    if model.consults != (value.consult is not None):
        need = "was trained with a second opinion: give `consult`" if model.consults else "was trained without a second opinion: drop `consult`"
        raise ConfigError(f"accept.learned: the model {need}")
    return LearnedGate(model, value.min_p, builder.build(value.consult) if value.consult is not None else None)


GATES = (GateKind("learned", LearnedGateSpec | None, _build, specs=(LearnedGateSpec,)),)
