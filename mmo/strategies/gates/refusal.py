"""``no_refusal``: reject answers that decline to help, and answers the provider filtered."""

from __future__ import annotations

import re
from typing import Any

from mmo.core.types import Completion
from mmo.strategies.gates.kinds import GateKind
from mmo.strategies.gates.verdict import GateResult, LocalGate

_I_AM = r"i(?:'m| am)"
_CANNOT = r"(?:can't|cannot|can not|won't|will not)"
REFUSAL_PATTERNS: tuple[str, ...] = (
    rf"\bi {_CANNOT} (?:help|assist) with\b",
    rf"\b{_I_AM} sorry,? (?:but )?i {_CANNOT}\b",
    rf"\b{_I_AM} (?:unable|not able) to (?:help|assist|comply)\b",
    rf"\bi {_CANNOT} comply\b",
    r"\bi must (?:decline|refuse)\b",
    r"\bas an ai\b",
    r"\bas a language model\b",
)
_REFUSAL = re.compile("|".join(REFUSAL_PATTERNS))
REFUSAL_WINDOW = 400  # refusals lead an answer; later matches are usually the answer's own topic


class RefusalGate(LocalGate):
    name = "no_refusal"

    def verdict(self, completion: Completion) -> GateResult:
        if completion.finish_reason == "content_filter":
            return self.failed("the provider filtered the answer (finish reason content_filter)")
        opening = " ".join(completion.text[:REFUSAL_WINDOW].replace("\u2019", "'").split()).casefold()
        found = _REFUSAL.search(opening)
        if found:
            return self.failed(f"refusal detected: {found.group(0)!r}")
        return self.passed("no refusal detected")


def _build(builder: Any, value: bool | None) -> RefusalGate | None:
    return RefusalGate() if value else None


GATES = (GateKind("no_refusal", bool | None, _build, {"description": "reject answers that decline to help"}),)
