"""An answer that must be JSON: the whole text, or the content of one code fence that is the whole
text (models fence JSON even when told not to). One parser for the cascade's JSON gates, the bench
checks and structured output (``mmo.runtime.structured``), so they agree on what counts."""

from __future__ import annotations

import json
import re
from typing import Any

_WHOLE_FENCE = re.compile(r"\A\s*```[ \t]*(?:[A-Za-z0-9_+-]+)?[ \t]*\n(.*?)```\s*\Z", re.DOTALL)


def parse_json_answer(text: str) -> Any:
    """The whole answer as one JSON value: the text itself, or the content of one code fence
    that is the whole text. Raises ``ValueError`` with the parser's message otherwise."""
    fenced = _WHOLE_FENCE.match(text)
    return loads_strict(fenced.group(1) if fenced else text)


def loads_strict(text: str) -> Any:
    """``json.loads`` without the ``NaN`` / ``Infinity`` extensions JSON does not have."""
    return json.loads(text, parse_constant=reject_constant)


def reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
