"""The registry of gate kinds: each key under a cascade's ``accept:`` (or a pipeline step's
``check:``) and the gate it builds.

A gate kind is one module exposing ``GATES = (GateKind(...), ...)``; adding the module to
``GATE_MODULES`` is the one registration line. ``GatesSpec`` (the schema of ``accept:``) is made
from this registry, and gates run in registration order within their cost class: the ones that
read only the answer first, the ones that call models last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import import_module
from typing import TYPE_CHECKING, Any, Callable, Mapping

from mmo.spec.base import Spec
from mmo.strategies.kinds import Builder

if TYPE_CHECKING:
    from mmo.strategies.gates.verdict import Gate

# The registration lines: cheap gates first, model-calling ones last.
GATE_MODULES: tuple[str, ...] = (
    "mmo.strategies.gates.finish",
    "mmo.strategies.gates.refusal",
    "mmo.strategies.gates.length",
    "mmo.strategies.gates.json_gates",
    "mmo.strategies.gates.regex",
    "mmo.strategies.gates.extracted",
    "mmo.strategies.gates.confidence",
    "mmo.strategies.gates.logprob",
    "mmo.strategies.gates.agree",
    "mmo.strategies.gates.learned",
    "mmo.strategies.gates.judge",
)


@dataclass(frozen=True, slots=True)
class GateKind:
    """``key``: the field name under ``accept:``; ``annotation`` and ``field``: its type and
    pydantic ``Field`` arguments (default, bounds, description, alias); ``build``: the field's value
    -> a gate (``None`` when the value sets no gate, e.g. ``json: false``); ``specs``: spec
    classes of the module that refer to nodes, so the schema can resolve them."""

    key: str
    annotation: Any
    build: Callable[[Builder, Any], Gate | None]
    field: Mapping[str, Any] = field(default_factory=dict)
    specs: tuple[type[Spec], ...] = ()


@lru_cache(maxsize=1)
def gate_kinds() -> Mapping[str, GateKind]:
    """Every registered gate kind by key, in registration order."""
    kinds: dict[str, GateKind] = {}
    for module in GATE_MODULES:
        for kind in import_module(module).GATES:
            kinds[kind.key] = kind
    return kinds
