"""Which model a row's first call goes to, and the request it sends: what a provider batch job
holds for that row.

The strategy tree is walked without calling anything:

* a model is its own first call;
* a fallback's first call is its first entry's (the others answer, live, the rows its job did not);
* a cascade's is its first tier's (the gates judge the job's answers when they are collected, and
  the rows they escalate go to the next tiers live);
* a pipeline's is its first step's, when that step's prompt is the row's own (no template);
* a router's is the branch its rules pick for the row, evaluated offline as at run time, or its
  default when no rule holds and it has no classifier;
* hedge and SLO strategies need live timing, ensembles and classifiers need several answers at
  once: they are refused, with the reason (``NotSubmittable``).

The request is the one ``ctx.complete`` sends (``mmo.runtime.context``): the target's parameters
under the row's, the JSON Schema asked for as the model supports it. Collecting a job runs the
same tree with the job's answers in place of those calls (``answers``), matched by the request's
cache key, so a row whose request would differ is simply asked live.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mmo.core.errors import ConfigError
from mmo.core.protocols import Node
from mmo.core.target import ModelTarget
from mmo.core.types import Request
from mmo.runtime.estimator import TreeEstimator
from mmo.runtime.services import Services
from mmo.runtime.structured import prepare

if TYPE_CHECKING:
    from mmo.strategies.router import RouterNode


class NotSubmittable(ConfigError):
    """The strategy cannot hand its first call to a provider batch job; the message says why."""


@dataclass(frozen=True, slots=True)
class FirstCall:
    target: ModelTarget
    request: Request  # as the provider gets it


_LIVE_ONLY = {
    "hedge": "a hedge races models against the clock",
    "slo": "an SLO strategy switches models on latency",
    "ensemble": "an ensemble needs every member's answer at once",
}


def first_call(node: Node, request: Request, services: Services) -> FirstCall:
    """The first model call ``node`` makes for ``request``; ``NotSubmittable`` when it has none
    that a job can make."""
    target = _first_target(node, request, TreeEstimator(services))
    sent = request.with_params(target.params.overlaid_by(request.params))
    sent, _ = prepare(sent, services.catalog.capabilities(target.ref), target.label)
    return FirstCall(target, sent)


def _first_target(node: Node, request: Request, estimator: TreeEstimator) -> ModelTarget:
    from mmo.strategies.cascade import CascadeNode
    from mmo.strategies.fallback import FallbackNode
    from mmo.strategies.model import ModelNode
    from mmo.strategies.pipeline import PipelineNode
    from mmo.strategies.router import RouterNode

    if isinstance(node, ModelNode):
        return node.target
    if isinstance(node, FallbackNode):
        return _first_target(node.nodes[0], request, estimator)
    if isinstance(node, CascadeNode):
        return _first_target(node.tiers[0], request, estimator)
    if isinstance(node, RouterNode):
        return _first_target(_routed(node, request, estimator), request, estimator)
    if isinstance(node, PipelineNode):
        first = node.steps[0]
        if first.prompt:
            raise NotSubmittable(f"pipeline {node.label!r} rewrites the row's prompt in its first step; run it live (without --provider-batch)")
        return _first_target(first.node, request, estimator)
    kind = getattr(node, "kind", type(node).__name__)
    reason = _LIVE_ONLY.get(kind, f"its first call ({kind}) cannot be made by a job")
    raise NotSubmittable(f"{getattr(node, 'label', kind)!r} cannot run as a provider batch job: {reason}; run it live (without --provider-batch)")


def _routed(router: RouterNode, request: Request, estimator: TreeEstimator) -> Node:
    from mmo.strategies.router_rules import RequestFacts

    facts = RequestFacts(request, estimator.tokens, estimator.context_window)
    for rule in router.rules:
        if rule.reasons(facts) is not None:
            return rule.node
    if router.classifier is not None:
        raise NotSubmittable(f"router {router.label!r} asks a classifier model which branch a row takes; "
                             "run it live (without --provider-batch), or route by rules")
    return router.default
