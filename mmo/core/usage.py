"""What a call used and cost (``Usage``, ``Cost``), and ``frozen_mapping``: the values the trace
and the request/answer types share, below both.

Token accounting follows one convention everywhere (``mmo.core.types`` says more):
``input_tokens`` includes the cached ones, ``output_tokens`` includes reasoning tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache
from operator import attrgetter
from types import MappingProxyType
from typing import Any, Callable, Mapping, TypeVar

_T = TypeVar("_T")


_EMPTY: Mapping[str, Any] = MappingProxyType({})


def frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A read-only copy, so a frozen dataclass cannot be changed through a dict it holds."""
    if not value:
        return _EMPTY  # read-only and empty: one serves all
    return MappingProxyType(dict(value))


def evolve(obj: _T, **changes: Any) -> _T:
    """``dataclasses.replace`` for the frozen value types of ``mmo.core`` (every field set by
    ``__init__``), without replace's walk over the fields' definitions on each call: a completion
    is copied on every call (its cost, its trace), at about 60 % of ``replace``'s time."""
    get, index = _layout(type(obj))  # type: ignore[arg-type]  # a class is hashable
    values = list(get(obj))
    for name, value in changes.items():
        position = index.get(name)
        if position is None:
            raise TypeError(f"{type(obj).__name__} has no field {name!r}")
        values[position] = value
    return type(obj)(*values)


@cache
def _layout(cls: type) -> tuple[Callable[[Any], tuple[Any, ...]], dict[str, int]]:
    names = tuple(f.name for f in fields(cls))
    getter = attrgetter(*names)
    get: Callable[[Any], tuple[Any, ...]] = getter if len(names) > 1 else (lambda obj: (getter(obj),))
    return get, {name: position for position, name in enumerate(names)}


MAX_PLAUSIBLE_TOKENS = 1_000_000_000  # more in one call is a broken or hostile server, not usage


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of a call. ``suspect`` says what was wrong with the counts a server reported
    (negative, not a number, more than ``MAX_PLAUSIBLE_TOKENS``): such a count is taken as 0,
    and a suspect usage is never priced (its cost is unknown)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    suspect: str | None = None

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_tokens + other.cached_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
            self.suspect or other.suspect,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        }
        if self.suspect is not None:
            out["suspect"] = self.suspect
        return out


@dataclass(frozen=True, slots=True)
class Cost:
    """What one attempt cost. ``usd`` is ``None`` when the price is unknown: never a fake 0.
    ``source`` says where the number came from ("genai-prices 0.2.3", "profile", "local",
    "recorded", "unknown")."""

    usd: float | None
    source: str

    @property
    def known(self) -> bool:
        return self.usd is not None


UNKNOWN_COST = Cost(None, "unknown")
