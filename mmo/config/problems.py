"""``Problem``: one thing wrong with a profile file, located by file, line (and column for YAML
syntax) and key path (``strategy.fallback[1].retry.attempts``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a profile file, as precisely located as we can."""

    file: str
    message: str
    key_path: str = ""
    line: int | None = None
    column: int | None = None

    @property
    def where(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where

    def __str__(self) -> str:
        return f"{self.where}: {self.key_path}: {self.message}" if self.key_path else f"{self.where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "column": self.column, "key_path": self.key_path, "message": self.message}


def format_key_path(path: Sequence[str | int]) -> str:
    """``("strategy", "fallback", 1, "retry")`` -> ``strategy.fallback[1].retry``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part and all(c.isalnum() or c in "_-:" for c in part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text
