"""One builder turns a profile's strategy spec into a tree of nodes.

Each spec kind maps to a builder: the leaf and fallback live here; every other strategy module
exposes ``build(builder: TreeBuilder, spec) -> Node`` and is imported only when a profile uses
it. A new strategy adds its spec class to ``mmo.config.models.NODE_SPECS`` and its module to
``_STRATEGY_MODULES``, and every place that can hold a node (a fallback entry, a cascade tier, a
router branch, an ensemble member, a pipeline step) accepts it at once.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any, Callable, Mapping

from mmo.config.models import FallbackSpec, ModelNodeSpec, ParamsSpec, Profile, RetrySpec, node_kind
from mmo.core.errors import ConfigError, UnknownName
from mmo.core.protocols import Node
from mmo.core.types import ModelRef, Params
from mmo.runtime.context import ModelTarget
from mmo.strategies.fallback import FallbackNode, RetryPolicy
from mmo.strategies.model import ModelNode


class TreeBuilder:
    """Builds nodes for one profile, resolving model aliases against its portfolio."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.defaults = profile.defaults.apply_to(Params())

    def build(self, spec: Any = None) -> Node:
        spec = self.profile.strategy if spec is None else spec
        kind = node_kind(spec) or ""
        builder = _BUILDERS.get(kind)
        if builder is None and kind in _STRATEGY_MODULES:
            builder = import_module(_STRATEGY_MODULES[kind]).build
        if builder is None:
            raise ConfigError(f"cannot build a strategy node from {spec!r}")
        return builder(self, spec)

    def target(self, name: str, node_params: ParamsSpec | None = None) -> ModelTarget:
        """``name`` is a portfolio alias or a ``provider:model`` reference."""
        entry = self.profile.model_entry(name)
        alias: str | None = name
        if entry is None:
            if ":" not in name:
                raise UnknownName("model", name, list(self.profile.models))
            alias = None
            from mmo.config.models import ModelEntry

            entry = ModelEntry(model=name)
        try:
            ref = ModelRef.parse(entry.model)
        except ValueError as error:
            raise ConfigError(f"model {name!r}: {error}") from None
        params = self.defaults
        for overlay in (entry.params, node_params):
            if overlay is not None:
                params = overlay.apply_to(params)
        return ModelTarget(ref, alias, entry.local, params, entry.context_window)

    def retry_policy(self, spec: RetrySpec | None) -> RetryPolicy:
        chosen = spec or self.profile.retry
        return RetryPolicy(chosen.attempts, chosen.backoff_s, chosen.max_backoff_s, chosen.max_retry_after_s, chosen.fail_fast)


def _build_ref(builder: TreeBuilder, name: str) -> Node:
    return ModelNode(builder.target(name))


def _build_model(builder: TreeBuilder, spec: ModelNodeSpec) -> Node:
    return ModelNode(builder.target(spec.model, spec.params))


def _build_fallback(builder: TreeBuilder, spec: FallbackSpec) -> Node:
    return FallbackNode([builder.build(child) for child in spec.fallback], builder.retry_policy(spec.retry))


_BUILDERS: Mapping[str, Callable[[TreeBuilder, Any], Node]] = {
    "ref": _build_ref,
    "model": _build_model,
    "fallback": _build_fallback,
}
_STRATEGY_MODULES: Mapping[str, str] = {
    "cascade": "mmo.strategies.cascade",
    "router": "mmo.strategies.router",
    "ensemble": "mmo.strategies.ensemble",
    "pipeline": "mmo.strategies.pipeline",
    "hedge": "mmo.strategies.hedge",
    "slo": "mmo.strategies.slo",
}


def build_tree(profile: Profile) -> Node:
    return TreeBuilder(profile).build()


def describe(node: Node) -> str:
    """A one-line summary of a tree, e.g. ``fallback(flash, pro)``, for tables and logs."""
    children = node.children()
    if not children:
        return node.label
    parts = list(dict.fromkeys(describe(c) for c in children))  # a router may reuse a branch
    return f"{node.kind}({', '.join(parts)})"
