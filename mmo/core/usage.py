"""What a call used and cost (``Usage``, ``Cost``), and ``frozen_mapping``: the values the trace
and the request/answer types share, below both.

Token accounting follows one convention everywhere (``mmo.core.types`` says more):
``input_tokens`` includes the cached ones, ``output_tokens`` includes reasoning tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping


def frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A read-only copy, so a frozen dataclass cannot be changed through a dict it holds."""
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_tokens + other.cached_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
        )

    def to_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        }


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
