"""``min_length`` / ``max_length``: the answer (surrounding whitespace stripped) has at least / at
most this many characters."""

from __future__ import annotations

from typing import Any

from mmo.core.types import Completion
from mmo.strategies.gates.kinds import GateKind
from mmo.strategies.gates.verdict import GateResult, LocalGate


class MinLengthGate(LocalGate):
    name = "min_length"

    def __init__(self, minimum: int) -> None:
        self.minimum = minimum

    def verdict(self, completion: Completion) -> GateResult:
        length = len(completion.text.strip())
        if length >= self.minimum:
            return self.passed(f"{length} characters >= {self.minimum}", length)
        return self.failed(f"answer has {length} characters, fewer than {self.minimum}", length)


class MaxLengthGate(LocalGate):
    name = "max_length"

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum

    def verdict(self, completion: Completion) -> GateResult:
        length = len(completion.text.strip())
        if length <= self.maximum:
            return self.passed(f"{length} characters <= {self.maximum}", length)
        return self.failed(f"answer has {length} characters, more than {self.maximum}", length)


def _min(builder: Any, value: int | None) -> MinLengthGate | None:
    return None if value is None else MinLengthGate(value)


def _max(builder: Any, value: int | None) -> MaxLengthGate | None:
    return None if value is None else MaxLengthGate(value)


GATES = (
    GateKind("min_length", int | None, _min, {"ge": 0}),
    GateKind("max_length", int | None, _max, {"ge": 1}),
)
