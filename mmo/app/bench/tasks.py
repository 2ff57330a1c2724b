"""Task sets: what ``mmo bench`` asks and how each answer is judged.

A task has a prompt (or messages), an optional system prompt and parameters, a reference, a check,
and optional id, tags and category. Without an id, the id is derived from the task's content
(``content_id``), so the train/test split of ``mmo tune`` (``in_train``) is stable however the
file is reordered.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from mmo.core.types import Message


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    messages: tuple[Message, ...]  # the conversation sent; a plain prompt is one user message
    reference: Any = None  # what the check compares with (a letter, a number, text, a schema...)
    check: Mapping[str, Any] = field(default_factory=dict)  # {"kind": "choice", ...} (``checks``)
    system: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    category: str | None = None
    tags: tuple[str, ...] = ()
    line: int = 0  # where it was read (1-based), for messages naming file:line

    @property
    def prompt(self) -> str:
        """The latest user message: what routers and learned features read."""
        for message in reversed(self.messages):
            if message.role == "user":
                return message.content
        return ""


def content_id(content: Mapping[str, Any]) -> str:
    """A task's id when the file gives none: a hash of what is asked and expected, so the same
    task keeps its id (and its side of the split) wherever it sits in the file."""
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return "t-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def in_train(task_id: str) -> bool:
    """The honest split ``mmo tune`` uses: train when ``int(sha256(id), 16) % 2 == 0``."""
    return int(hashlib.sha256(task_id.encode("utf-8")).hexdigest(), 16) % 2 == 0
