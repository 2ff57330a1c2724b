"""``extract``: an answer can be extracted the given way (``mmo.strategies.extract``)."""

from __future__ import annotations

from typing import Any

from mmo.core.types import Completion
from mmo.spec.extract import ExtractSpec
from mmo.strategies.gates.kinds import GateKind
from mmo.strategies.gates.verdict import GateResult, LocalGate, shown


class ExtractGate(LocalGate):
    name = "extract"

    def __init__(self, how: Any) -> None:
        from mmo.strategies.extract import describe, extractor

        self.how = describe(how)
        self.extract = extractor(how)

    def verdict(self, completion: Completion) -> GateResult:
        value = self.extract(completion.text)
        if value is None:
            return self.failed(f"no {self.how} answer could be extracted")
        return self.passed(f"extracted {shown(value)} ({self.how})")


def _build(builder: Any, value: ExtractSpec | None) -> ExtractGate | None:
    return None if value is None else ExtractGate(value)


GATES = (GateKind("extract", ExtractSpec | None, _build, {"description": "an answer must be extractable this way"}),)
