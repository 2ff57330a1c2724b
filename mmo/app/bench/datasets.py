"""The built-in data sets' default checks: how ``mmo bench`` scores a built-in replay file
(``builtin:NAME``, ``mmo.providers.replay.BUILTIN_FILES``) used as a task set when nothing else
names a check. Both MMLU-Pro sets are multiple choice, scored by the one extractor's ``choice``
(the MMLU-Pro harness's order)."""

from __future__ import annotations

from typing import Any, Mapping

from mmo.core.types import frozen_mapping

BUILTIN_DEFAULT_CHECKS: Mapping[str, Mapping[str, Any]] = frozen_mapping(
    {
        "mmlu_pro_sample": frozen_mapping({"kind": "choice"}),
        "mmlu_pro": frozen_mapping({"kind": "choice"}),
    }
)


def builtin_default_check(name: str) -> dict[str, Any] | None:
    """The default check of built-in data set ``name`` (``mmlu_pro`` or ``builtin:mmlu_pro``), as
    a new check spec the caller may change; ``None`` for any other name."""
    check = BUILTIN_DEFAULT_CHECKS.get(name.removeprefix("builtin:"))
    return None if check is None else dict(check)
