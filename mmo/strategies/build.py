"""One builder turns a profile's strategy spec into a tree of nodes.

A node spec is a model reference (an alias or ``provider:model``) or a validated spec object of
one of the registered strategy kinds (``mmo.strategies.kinds``); the kind's ``build`` makes the
node, asking the builder back for its children, so every place that can hold a node (a fallback
entry, a cascade tier, a router branch, an ensemble member, a pipeline step) accepts any kind.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

from mmo.core.errors import ConfigError, UnknownName
from mmo.core.protocols import Node
from mmo.core.target import ModelTarget
from mmo.core.types import ModelRef, Params
from mmo.spec.params import ParamsSpec
from mmo.spec.portfolio import ModelEntry, Portfolio, RetrySpec
from mmo.strategies.kinds import StrategyKind, strategy_kinds
from mmo.strategies.retry import RetryPolicy


class TreeBuilder:
    """Builds nodes for one profile, resolving model aliases against its portfolio."""

    def __init__(self, portfolio: Portfolio) -> None:
        self.portfolio = portfolio
        self.defaults = portfolio.defaults.apply_to(Params())
        # The specs being built, outermost first. When a build raises, they stay: the last one is
        # the node that refused, which ``mmo.config.tree_check`` locates in the profile file.
        self.building: list[Any] = []

    def build(self, spec: Any = None) -> Node:
        spec = self.portfolio.strategy if spec is None else spec
        if isinstance(spec, str):
            from mmo.strategies.model import ModelNode

            return ModelNode(self.target(spec))
        kind = _kinds_by_spec().get(type(spec))
        if kind is None:
            raise ConfigError(f"cannot build a strategy node from {spec!r}")
        self.building.append(spec)
        node = kind.build(self, spec)
        self.building.pop()
        return node

    def target(self, name: str, node_params: ParamsSpec | None = None) -> ModelTarget:
        """``name`` is a portfolio alias or a ``provider:model`` reference."""
        entry = self.portfolio.model_entry(name)
        alias: str | None = name
        if entry is None:
            if ":" not in name:
                raise UnknownName("model", name, list(self.portfolio.models))
            alias = None
            entry = ModelEntry(model=name)
        try:
            ref = ModelRef.parse(entry.model)
        except ValueError as error:
            raise ConfigError(f"model {name!r}: {error}") from None
        params = self.defaults
        for overlay in (entry.params, node_params):
            if overlay is not None:
                params = overlay.apply_to(params)
        return ModelTarget(ref, alias, entry.local, params)

    def retry_policy(self, spec: RetrySpec | None) -> RetryPolicy:
        return RetryPolicy.from_spec(spec or self.portfolio.retry)


@lru_cache(maxsize=1)
def _kinds_by_spec() -> Mapping[type, StrategyKind]:
    return {kind.spec: kind for kind in strategy_kinds().values()}


def build_tree(portfolio: Portfolio) -> Node:
    """The profile's whole strategy. A single model there retries on its own (see
    ``mmo.strategies.model``)."""
    builder = TreeBuilder(portfolio)
    root = builder.build()
    from mmo.strategies.model import ModelNode

    if isinstance(root, ModelNode):
        return ModelNode(root.target, builder.retry_policy(None))
    return root


def describe(node: Node) -> str:
    """A one-line summary of a tree, e.g. ``fallback(flash, pro)``, for tables and logs."""
    children = node.children()
    if not children:
        return node.label
    parts = list(dict.fromkeys(describe(c) for c in children))  # a router may reuse a branch
    return f"{node.kind}({', '.join(parts)})"
