"""The registry of strategy kinds: which spec key builds which node.

A strategy kind is one module that defines its spec (the YAML it reads), its node (how it runs
and what it may cost) and a ``KIND = StrategyKind(...)`` line; adding it to
``STRATEGY_MODULES`` is the one registration line. The profile schema (``mmo.config.schema``),
``mmo profiles schema`` and the builder read this registry, so nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import import_module
from typing import Any, Callable, Mapping, Protocol

from mmo.core.protocols import Node
from mmo.core.target import ModelTarget
from mmo.spec.base import Spec
from mmo.spec.params import ParamsSpec
from mmo.spec.portfolio import Portfolio, RetrySpec
from mmo.strategies.retry import RetryPolicy

# The registration lines, in the order the schema lists the kinds.
STRATEGY_MODULES: tuple[str, ...] = (
    "mmo.strategies.model",
    "mmo.strategies.fallback",
    "mmo.strategies.cascade",
    "mmo.strategies.router",
    "mmo.strategies.learned_router",
    "mmo.strategies.ensemble",
    "mmo.strategies.pipeline",
    "mmo.strategies.hedge",
    "mmo.strategies.slo",
)


class Builder(Protocol):
    """What a kind's ``build`` may ask of the tree builder (``mmo.strategies.build.TreeBuilder``)."""

    @property
    def portfolio(self) -> Portfolio: ...

    def build(self, spec: Any = None) -> Node:
        """The node for a child spec (any kind, or a model reference)."""
        ...

    def target(self, name: str, node_params: ParamsSpec | None = None) -> ModelTarget:
        """A model alias or ``provider:model`` as a leaf would call it."""
        ...

    def retry_policy(self, spec: RetrySpec | None) -> RetryPolicy: ...


@dataclass(frozen=True, slots=True)
class StrategyKind:
    """``key``: the mapping key that names the kind in YAML (``{cascade: [...]}``); ``spec``: its
    spec class; ``build``: spec -> node; ``implied_by``: keys that name the kind when its own key
    is left out (a router may be written with just ``rules:`` and ``default:``); ``specs``: every
    spec class of the module that refers to nodes, so the schema can resolve them."""

    key: str
    spec: type[Spec]
    build: Callable[[Builder, Any], Node]
    implied_by: tuple[str, ...] = ()
    specs: tuple[type[Spec], ...] = ()


@lru_cache(maxsize=1)
def strategy_kinds() -> Mapping[str, StrategyKind]:
    """Every registered kind by key, in registration order (imports each kind's module)."""
    kinds: dict[str, StrategyKind] = {}
    for module in STRATEGY_MODULES:
        kind: StrategyKind = import_module(module).KIND
        kinds[kind.key] = kind
    return kinds
