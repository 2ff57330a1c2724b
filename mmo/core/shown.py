"""Text from outside mmo (a server's error message or model id, a profile value, the run log, an
answer) made safe to show on a terminal.

A control character in such text is an instruction to the terminal, not text: ``ESC [2J`` clears
the screen, ``ESC ]52`` writes the clipboard, ``\\r`` overwrites the line already shown, and an
8-bit C1 character (U+0080-U+009F) acts like ``ESC`` on some terminals. Every C0 control, DEL and
C1 control is therefore shown as a visible ``\\xNN`` escape instead. ``shown`` keeps line breaks
and tabs (and ``\\r\\n`` line ends), for answers and multi-line messages; ``shown_line`` makes one
line of it, for table cells, titles and one-line messages (tabs and line breaks become spaces).
Nothing is removed, so what was sent can still be read.
"""

from __future__ import annotations

import re

_CONTROLS = "".join(chr(code) for code in (*range(0x00, 0x20), *range(0x7F, 0xA0)))
_MULTILINE = re.compile("\r(?!\n)|[" + re.escape(_CONTROLS.replace("\n", "").replace("\t", "").replace("\r", "")) + "]")
_ONE_LINE = re.compile("\r\n|[\n\t]|[" + re.escape(_CONTROLS.replace("\n", "").replace("\t", "")) + "]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in ("\n", "\t", "\r\n"):
        return " "
    return f"\\x{ord(char):02x}"


def shown(text: str) -> str:
    """``text`` with every control character but line breaks and tabs written as ``\\xNN``."""
    return _MULTILINE.sub(_escape, text) if _MULTILINE.search(text) else text


def shown_line(text: str) -> str:
    """``text`` as one line: tabs and line breaks become spaces, other controls ``\\xNN``."""
    return _ONE_LINE.sub(_escape, text) if _ONE_LINE.search(text) else text
