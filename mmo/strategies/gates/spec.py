"""``GatesSpec``: the schema of a cascade's ``accept:`` and a pipeline step's ``check:``, made
from the gate registry (one optional field per gate kind)."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, create_model

from mmo.spec.base import Spec
from mmo.strategies.gates.kinds import gate_kinds


class _GatesBase(Spec):
    """Checks an answer must pass to be accepted. Every gate set must pass; the first that fails
    is recorded as the reason for escalating."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _fields() -> dict[str, Any]:
    return {kind.key: (kind.annotation, Field(default=None, **kind.field)) for kind in gate_kinds().values()}


GatesSpec: type[Spec] = create_model("GatesSpec", __base__=_GatesBase, __module__=__name__, **_fields())
GatesSpec.__doc__ = _GatesBase.__doc__


def gate_specs() -> tuple[type[Spec], ...]:
    """The gate kinds' own spec classes that refer to nodes, then ``GatesSpec``: what the profile
    schema resolves, in this order."""
    nested = tuple(spec for kind in gate_kinds().values() for spec in kind.specs)
    return (*nested, GatesSpec)
