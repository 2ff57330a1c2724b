"""``regex``: ``re.search`` finds the pattern in the answer."""

from __future__ import annotations

import re
from typing import Any

from mmo.core.errors import ConfigError
from mmo.core.types import Completion
from mmo.strategies.gates.kinds import GateKind
from mmo.strategies.gates.verdict import GateResult, LocalGate


class RegexGate(LocalGate):
    name = "regex"

    def __init__(self, pattern: str) -> None:
        try:
            self.pattern = re.compile(pattern)
        except re.error as error:
            raise ConfigError(f"accept.regex {pattern!r} is not a valid regular expression: {error}") from None

    def verdict(self, completion: Completion) -> GateResult:
        if self.pattern.search(completion.text):
            return self.passed(f"matches /{self.pattern.pattern}/")
        return self.failed(f"no match for /{self.pattern.pattern}/")


def _build(builder: Any, value: str | None) -> RegexGate | None:
    return None if value is None else RegexGate(value)


GATES = (GateKind("regex", str | None, _build, {"description": "the answer must match (re.search)"}),)
