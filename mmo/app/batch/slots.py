"""An input's rows by position (*slot*): slot k is the k-th non-blank line, the same on every
machine that holds the same content. A shared run hands out slots; each worker reads its rows
from its own copy of the input by seeking to them (two integers a row in memory, not the rows)."""

from __future__ import annotations

from array import array
from pathlib import Path
from typing import IO

_BOM = b"\xef\xbb\xbf"


class SlotIndex:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lines = array("q")  # slot -> line number
        self._offsets = array("q")  # slot -> byte offset of the line
        offset = 0
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, 1):
                if raw.strip() and not (number == 1 and raw.strip() == _BOM):
                    self._lines.append(number)
                    self._offsets.append(offset)
                offset += len(raw)
        self._handle: IO[bytes] | None = None

    def __len__(self) -> int:
        return len(self._lines)

    def line_of(self, slot: int) -> int:
        return self._lines[slot]

    def read(self, slot: int) -> tuple[int, bytes]:
        """(line number, the line's bytes) of ``slot``, as ``numbered_lines`` yields it."""
        if self._handle is None:
            self._handle = self.path.open("rb")
        self._handle.seek(self._offsets[slot])
        raw = self._handle.readline()
        number = self._lines[slot]
        if number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM):]
        return number, raw

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

