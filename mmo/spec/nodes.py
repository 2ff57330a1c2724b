"""The type of a strategy node in a spec, for the type checker only.

A node field (``fallback: list[NodeSpec]``) accepts every registered strategy kind, so its real
type is made from the registry by ``mmo.config.schema`` and given to each spec class when the
schema is assembled. Spec modules import ``NodeSpec`` from here under ``TYPE_CHECKING`` only: at
run time the name stays unresolved until then.
"""

from __future__ import annotations

from typing import Any

NodeSpec = Any
