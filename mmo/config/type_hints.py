"""Reading the type hints of the profile models, as the error translation and the reference walk
both need: ``Annotated`` and ``Optional`` wrappers peeled off, unions recognised."""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin


def unwrap(tp: Any) -> Any:
    """``Annotated[X, ...]`` -> X and ``X | None`` -> X, repeatedly."""
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
            continue
        if is_union(tp):
            rest = [arg for arg in get_args(tp) if arg is not type(None)]
            if len(rest) == 1:
                tp = rest[0]
                continue
        return tp


def is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)
