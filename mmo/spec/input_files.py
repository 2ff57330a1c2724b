"""Small input files a command reads whole (``--tools``, ``--schema``, ``--attach``): a regular file or a pipe
(``--tools <(jq ...)``), at most a given size. A directory or a device is refused before it is
opened for reading (a terminal or a device could block or never end), and a named pipe nobody
writes to reads as empty instead of waiting; every problem is a
``ConfigError`` naming the file and the fix."""

from __future__ import annotations

import json
import os
import select
import stat
from pathlib import Path
from typing import Any, BinaryIO

from mmo.core.errors import ConfigError

PIPE_WAIT_S = 10  # how long a named pipe may stay silent before its first bytes


def read_small_file(path: Path, what: str, limit: int) -> str:
    """The text of ``path`` (``what`` names it in errors: "tools file")."""
    raw = read_small_bytes(path, what, limit, hint="give a JSON file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(f"not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start})", source=str(path)) from None


def read_small_bytes(path: Path, what: str, limit: int, *, hint: str, pipe_wait_s: float = PIPE_WAIT_S) -> bytes:
    """The bytes of ``path``; ``hint`` says what to give instead of a directory or a device;
    ``pipe_wait_s`` how long a named pipe may stay silent."""
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode) or not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
            kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file (a device or a socket)"
            raise ConfigError(f"{what} {str(path)!r} is {kind}: {hint}")
        with _opened(path, stat.S_ISFIFO(mode), pipe_wait_s) as handle:
            raw = handle.read(limit + 1)
    except OSError as error:
        raise ConfigError(f"cannot read {what} {str(path)!r}: {error.strerror or error}") from None
    if len(raw) > limit:
        raise ConfigError(f"{what} is larger than {limit >> 20} MiB", source=str(path))
    return raw


def _opened(path: Path, fifo: bool, pipe_wait_s: float) -> BinaryIO:
    """The file opened for reading. A named pipe is opened without waiting for a writer (the open
    itself would block forever if none comes), then given ``pipe_wait_s`` for its first bytes: a
    writer that comes (``<(jq ...)``, a script writing to it) is read to its end; a pipe nobody
    writes to is an error, not a hang."""
    if not fifo:
        return path.open("rb")
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        poller = select.poll()
        poller.register(descriptor, select.POLLIN)
        if not poller.poll(round(pipe_wait_s * 1000)):
            raise ConfigError(f"nothing was written to the pipe {str(path)!r} within {pipe_wait_s:g} s: write to it, or give a file")
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def load_json_text(text: str, path: Path) -> Any:
    """``text`` parsed as JSON; an error names the line and column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"not valid JSON ({error.msg}, column {error.colno}): fix the JSON", source=f"{path}:{error.lineno}") from None
    except RecursionError:
        raise ConfigError("nested too deeply to read", source=str(path)) from None
