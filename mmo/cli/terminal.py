"""The one way commands write rich output: a console that shows control characters in text as
visible escapes (``mmo.core.shown``), so a server's error message, a model id it echoes, a
profile's value or a run-log field can never drive the terminal, and that reads no markup or
emoji codes in strings (they are data). Rich styles its own output with escape codes after this
point; only the text it is given is escaped.

Every plain string a table cell, a title or ``print`` gets goes through ``render_str``; code that
builds ``rich.text.Text`` itself escapes its pieces with ``shown``/``shown_line``.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from mmo.core.shown import shown, shown_line

__all__ = ["SafeConsole", "shown", "shown_line", "warning_text"]


class SafeConsole(Console):
    """A ``rich`` console whose strings have their control characters escaped before rendering,
    and are taken literally: no console markup (``[redacted]`` in a model id is not a tag) and no
    emoji codes (``lab:m:`` is not ``Ⓜ``). Styled output is built as ``Text``."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("markup", False)
        options.setdefault("emoji", False)
        super().__init__(**options)

    def render_str(self, text: str, **options: Any) -> Text:
        return super().render_str(shown(text), **options)


def warning_text(message: str, *, label: str = "warning") -> Text:
    """``warning: MESSAGE`` (or ``note:``, ``Demo:`` ...) with the label styled (yellow for a
    warning, bold otherwise) and the message as plain, escaped text."""
    text = Text()
    text.append(f"{label}:", style="yellow" if label == "warning" else "bold")
    text.append(" " + shown(message))
    return text
