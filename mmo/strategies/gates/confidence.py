"""``min_confidence``: the model's self-rated confidence is at least this.

The gate asks for it: ``prepare`` adds ``CONFIDENCE_INSTRUCTION`` to the system prompt; the gate
reads the last ``Confidence: X`` of the raw answer (0-1; ``85%``, ``8/10`` and a bare number above
1 up to 100 read as percentages); ``clean`` removes that line from the answer the user gets, and
every other gate sees the cleaned answer."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from mmo.core.types import Completion, Message, Request
from mmo.strategies.gates.kinds import GateKind
from mmo.strategies.gates.verdict import GateResult, LocalGate

CONFIDENCE_INSTRUCTION = (
    "After your answer, add one final line of the form `Confidence: 0.NN`, where 0.NN is your "
    "estimate of the probability (from 0 to 1) that your answer is correct."
)
_CONFIDENCE = re.compile(
    r"confidence(?:[ \t]+(?:level|score))?[*_]*[ \t]*[:=][ \t*_]*"
    r"(?P<value>\d+(?:\.\d+)?|\.\d+)(?:[ \t]*(?P<percent>%)|[ \t]*/[ \t]*(?P<scale>10|100)\b)?",
    re.IGNORECASE,
)
_LINE_MARKUP = " \t*_>#-([\u2014"


def split_confidence(text: str) -> tuple[str, float | None]:
    """``(answer without its confidence line, confidence 0-1)``; the confidence is ``None`` when
    the answer states none, or one outside 0-1 (after reading percentages)."""
    matches = list(_CONFIDENCE.finditer(text))
    if not matches:
        return text, None
    found = matches[-1]
    line_start = text.rfind("\n", 0, found.start()) + 1
    line_end = text.find("\n", found.end())
    tail = "" if line_end == -1 else text[line_end:]
    if text[line_start : found.start()].strip(_LINE_MARKUP):
        head = text[: found.start()].rstrip(_LINE_MARKUP)  # "... Paris. Confidence: 0.9": keep the sentence
    else:
        head = text[:line_start]  # a line of its own: drop it
    cleaned = (head + tail).rstrip() if tail.strip() else head.rstrip()
    return cleaned, _confidence_value(found)


def _confidence_value(found: re.Match[str]) -> float | None:
    value = float(found.group("value"))
    if found.group("scale"):
        value /= float(found.group("scale"))
    elif found.group("percent") or 1 < value <= 100:
        value /= 100
    return value if 0 <= value <= 1 else None


class ConfidenceGate(LocalGate):
    name = "min_confidence"
    reads_raw_answer = True  # the confidence line is what it reads; the others see it removed
    preparation: str | None = "asking every tier to end with 'Confidence: 0.NN' (min_confidence gate)"

    def __init__(self, minimum: float) -> None:
        self.minimum = minimum

    def prepare(self, request: Request) -> Request:
        return with_system_instruction(request, CONFIDENCE_INSTRUCTION)

    def clean(self, completion: Completion) -> Completion:
        text, _ = split_confidence(completion.text)
        return completion if text == completion.text else replace(completion, text=text)

    def verdict(self, completion: Completion) -> GateResult:
        _, confidence = split_confidence(completion.text)
        if confidence is None:
            return self.failed("the answer states no confidence (asked for a last line 'Confidence: 0.NN')")
        if confidence >= self.minimum:
            return self.passed(f"self-rated confidence {confidence:.2f} >= {self.minimum}", confidence)
        return self.failed(f"self-rated confidence {confidence:.2f} is below {self.minimum}", confidence)


def with_system_instruction(request: Request, instruction: str) -> Request:
    """``request`` with ``instruction`` appended to its system prompt (or as one, when it has none)."""
    messages = list(request.messages)
    if messages and messages[0].role == "system":
        messages[0] = replace(messages[0], content=f"{messages[0].content}\n\n{instruction}")
    else:
        messages.insert(0, Message("system", instruction))
    return replace(request, messages=tuple(messages))


def _build(builder: Any, value: float | None) -> ConfidenceGate | None:
    return None if value is None else ConfidenceGate(value)


GATES = (
    GateKind(
        "min_confidence",
        float | None,
        _build,
        {"ge": 0, "le": 1, "description": "self-rated confidence the model is asked to give"},
    ),
)
