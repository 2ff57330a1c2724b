"""The type of a strategy node in a spec, for the type checker only.

A node field (``fallback: list[NodeSpec]``) accepts every registered strategy kind, so its real
type is made from the registry by ``mmo.config.schema`` and given to each spec class when the
schema is assembled. Spec modules import ``NodeSpec`` from here under ``TYPE_CHECKING`` only: at
run time the name must stay unresolved until then (pydantic would otherwise take a module's own
``NodeSpec`` over the real one), so importing it at run time is an error that says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    NodeSpec = Any
else:

    def __getattr__(name: str) -> Any:
        if name == "NodeSpec":
            raise ImportError(
                "import NodeSpec from mmo.spec.nodes only under `if TYPE_CHECKING:`: mmo.config.schema gives spec "
                "classes the real type when it assembles the profile schema (docs/EXTENDING.md shows how)"
            )
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
