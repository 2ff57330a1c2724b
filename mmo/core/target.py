"""One model as the strategy tree calls it: ``ModelTarget``, and how a run treats calls
(``RunOptions``). Plain values, shared by the builder, the run context, guards and estimates."""

from __future__ import annotations

from dataclasses import dataclass, field

from mmo.core.types import ModelRef, Params


@dataclass(frozen=True, slots=True)
class ModelTarget:
    """One model as a leaf node sees it. ``params`` are the profile's defaults with the model's
    and the node's own parameters already laid over them; a request's explicit parameters win
    over all of these at call time. ``context_window`` is the profile's own figure for this
    model, when it gives one (it wins over the catalogue's)."""

    ref: ModelRef
    alias: str | None = None
    local: bool = False
    params: Params = field(default_factory=Params)
    context_window: int | None = None

    @property
    def id(self) -> str:
        return self.ref.id

    @property
    def label(self) -> str:
        return self.alias or self.ref.id


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How one run treats its calls: the response cache, and whether anything may wait."""

    read_cache: bool = True
    write_cache: bool = True
    fail_fast: bool = False
