"""A results file read as lines, in bounded memory, however large it is or whatever it holds.

A batch's results file is not an answer: it may be hundreds of megabytes, so it is never held
whole (``mmo.providers.bounded_body`` reads answers whole). Instead its bytes are inflated a step
at a time (``StreamInflater``: a gzip bomb costs one step of output, never its payload) and cut
into lines (``LineSplitter``), each held to a size bound. So a download holds at most one line,
one chunk and one inflation step at a time; the number of lines is bounded by the caller (a job
never has more results than requests), which bounds the whole download.

Lines are split on ``\\n`` by mmo itself, whatever the ``Content-Type`` says (Anthropic once
served results without one), and a trailing ``\\r`` is dropped (a CRLF bug in one SDK's reader
showed that servers send them); blank lines are skipped.
"""

from __future__ import annotations

import zlib
from typing import Iterator

from mmo.core.transport_limits import describe_bytes
from mmo.providers.bounded_body import LimitExceeded, UnreadableBody

_STEP = 1 << 20  # bytes of output per zlib call: what one step of inflation may cost


class StreamInflater:
    """Undoes one ``Content-Encoding`` layer (gzip or deflate) chunk by chunk, in steps of at
    most ``_STEP`` bytes of output; any other encoding passes as it is (as httpx does)."""

    __slots__ = ("_inflater", "_raw_deflate_tried")

    def __init__(self, content_encoding: str | None) -> None:
        encoding = (content_encoding or "").strip().lower()
        if encoding in ("gzip", "x-gzip"):
            self._inflater: zlib._Decompress | None = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS)
        else:
            self._inflater = None
        self._raw_deflate_tried = encoding != "deflate"

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._inflater is None:
            if data:
                yield data
            return
        while data:
            piece = self._step(data)
            data = self._inflater.unconsumed_tail
            if piece:
                yield piece
            elif not data:
                break

    def _step(self, data: bytes) -> bytes:
        assert self._inflater is not None
        try:
            return self._inflater.decompress(data, _STEP)
        except zlib.error as error:
            if self._raw_deflate_tried:  # "deflate" is zlib-wrapped by the standard, raw by some servers
                raise UnreadableBody(f"results do not decode as their Content-Encoding says: {error}") from None
            self._raw_deflate_tried = True
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            return self._inflater.decompress(data, _STEP)

    def finish(self) -> bytes:
        return self._inflater.flush() if self._inflater is not None else b""


class LineSplitter:
    """Bytes in, complete lines out; a line longer than ``max_line_bytes`` (or a body that never
    ends its line) raises ``LimitExceeded`` as soon as the bound is passed, and more than
    ``max_lines`` non-blank lines raise it too."""

    __slots__ = ("_max_line", "_max_lines", "_partial", "_lines")

    def __init__(self, max_line_bytes: int, max_lines: int) -> None:
        self._max_line = max_line_bytes
        self._max_lines = max_lines
        self._partial = bytearray()
        self._lines = 0

    def feed(self, data: bytes) -> Iterator[bytes]:
        start = 0
        while (end := data.find(b"\n", start)) != -1:
            self._check_room(end - start)
            if self._partial:
                self._partial += data[start:end]
                line = bytes(self._partial)
                self._partial.clear()
            else:
                line = data[start:end]
            start = end + 1
            yield from self._emit(line)
        self._check_room(len(data) - start)
        self._partial += data[start:]

    def finish(self) -> Iterator[bytes]:
        """The last line, when the body does not end with a line break."""
        line = bytes(self._partial)
        self._partial.clear()
        yield from self._emit(line)

    def _check_room(self, adding: int) -> None:
        if len(self._partial) + adding > self._max_line:
            self._partial.clear()  # not kept alive by the error's traceback
            raise LimitExceeded(f"a results line longer than {describe_bytes(self._max_line)} (max_response_mib)")

    def _emit(self, line: bytes) -> Iterator[bytes]:
        line = line.rstrip(b"\r")
        if not line.strip():
            return
        self._lines += 1
        if self._lines > self._max_lines:
            raise LimitExceeded(f"more than {self._max_lines:,} results lines, more than the job has requests")
        yield line
