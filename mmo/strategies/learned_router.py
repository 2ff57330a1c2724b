"""Learned router: a model trained by ``mmo tune`` reads the prompt and picks the branch most
likely to be right at its price.

::

    strategy:
      learned_router: tuned.router.json     # the model (JSON), beside this profile; or inline
      branches:                             # one per name the model knows, any node each
        flash: flash
        flash-or-pro: {cascade: [flash, pro], accept: {extract: strict_choice}}

The model (``mmo.strategies.learned_model``, which documents its format and its arithmetic) gives
each branch a probability of a right answer from the words and length of the last user message,
and subtracts the branch's price; the branch of the highest value runs as a pass-through (it
may stream). Routing reads only the prompt: never a reference, never an answer. A relative model
path is read beside the profile file (from the working directory for a profile that is not a
file); the model is read and checked when the profile is loaded, so a missing or damaged file,
or branches that do not match the model's, are errors before anything is spent.

The trace records the branch picked, with each branch's probability and price. The estimate is
the picked branch's: the choice is made from the prompt alone, so it is known before any call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from pydantic import Field, ValidationInfo, field_validator

from mmo.core.errors import ConfigError
from mmo.core.estimate import CostRange
from mmo.core.protocols import Estimator, Node, RunContext
from mmo.core.types import Completion, Request
from mmo.spec.base import Spec
from mmo.strategies.kinds import Builder, StrategyKind
from mmo.strategies.learned_model import Choice, LearnedModel, beside_the_profile, load_model

if TYPE_CHECKING:
    from mmo.spec.nodes import NodeSpec

PROFILE_DIR = "profile_dir"  # the validation context key the profile loader sets


class LearnedRouterSpec(Spec):
    """A model trained by `mmo tune` picks, from the prompt, the branch most likely to be right
    at its price."""

    learned_router: str | dict[str, Any] = Field(description="the model: a JSON file written by mmo tune (relative: beside the profile), or inline")
    branches: dict[str, NodeSpec] = Field(min_length=1, description="one branch per name the model knows")

    @field_validator("learned_router")
    @classmethod
    def _beside_the_profile(cls, value: str | dict[str, Any], info: ValidationInfo) -> str | dict[str, Any]:
        return beside_the_profile(value, (info.context or {}).get(PROFILE_DIR))


class LearnedRouterNode:
    kind = "learned_router"

    def __init__(self, model: LearnedModel, branches: Sequence[Node], label: str = "learned_router") -> None:
        self.model = model
        self.branches = tuple(branches)  # in the model's branch order
        self.label = label

    def children(self) -> Sequence[Node]:
        return self.branches

    def choose(self, request: Request) -> Choice:
        return self.model.choose(request.last_user_text())

    def estimate(self, request: Request, est: Estimator) -> CostRange:
        """The picked branch's range: the pick reads only the prompt, so it is made offline as at run time."""
        return est.range(self.branches[self.choose(request).index], request)

    async def run(self, request: Request, ctx: RunContext) -> Completion:
        choice = self.choose(request)
        branch = self.branches[choice.index]
        ctx.note(_describe(self.model, choice), branch=branch.label, probabilities=dict(zip(self.model.branches, choice.probabilities, strict=True)))
        return await ctx.call(branch, request)


def _describe(model: LearnedModel, choice: Choice) -> str:
    def one(n: int) -> str:
        return f"{model.branches[n]} p={choice.probabilities[n]:.2f} at ${model.cost_usd[n]:.6f}"

    others = [one(n) for n in range(len(model.branches)) if n != choice.index]
    tail = f" (others: {'; '.join(others)})" if others else ""
    return f"learned router picked {one(choice.index)}{tail}"


def build(builder: Builder, spec: LearnedRouterSpec) -> Node:
    model = load_model(spec.learned_router)
    missing = [name for name in model.branches if name not in spec.branches]
    extra = [name for name in spec.branches if name not in model.branches]
    if missing or extra:
        parts = ([f"the model has no branch {', '.join(map(repr, extra))}"] if extra else []) + (
            [f"no branch is given for {', '.join(map(repr, missing))}"] if missing else []
        )
        raise ConfigError(f"learned_router: {'; '.join(parts)}: give exactly the model's branches ({', '.join(model.branches)})")
    return LearnedRouterNode(model, [builder.build(spec.branches[name]) for name in model.branches])


KIND = StrategyKind("learned_router", LearnedRouterSpec, build, specs=(LearnedRouterSpec,))
