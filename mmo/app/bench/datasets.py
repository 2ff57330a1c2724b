"""The named data sets ``mmo bench`` reads as task sets (``builtin:NAME``: the replay files shipped
in ``mmo/data``, listed in ``mmo.providers.replay.BUILTIN_FILES``), and the check each one is
scored with when neither its tasks, the file nor the command line give one."""

from __future__ import annotations

from typing import Any, Mapping

from mmo.core.types import frozen_mapping

BUILTIN_DEFAULT_CHECKS: Mapping[str, Mapping[str, Any]] = frozen_mapping(
    {
        # MMLU-Pro: a letter A-J, read as the benchmark's own harness reads it.
        "mmlu_pro_sample": {"kind": "choice"},
    }
)


def builtin_default_check(name: str) -> dict[str, Any] | None:
    """The default check of the built-in data set ``name`` (without ``builtin:``), or ``None``."""
    check = BUILTIN_DEFAULT_CHECKS.get(name)
    return None if check is None else dict(check)
