"""Small input files a command reads whole (``--tools``, ``--schema``): a regular file or a pipe
(``--tools <(jq ...)``), at most a given size, UTF-8. A directory or a device is refused before
it is opened for reading (a terminal or a device could block or never end); every problem is a
``ConfigError`` naming the file and the fix."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from mmo.core.errors import ConfigError


def read_small_file(path: Path, what: str, limit: int) -> str:
    """The text of ``path`` (``what`` names it in errors: "tools file")."""
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode) or not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
            kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file (a device or a socket)"
            raise ConfigError(f"{what} {str(path)!r} is {kind}: give a JSON file")
        with path.open("rb") as handle:
            raw = handle.read(limit + 1)
    except OSError as error:
        raise ConfigError(f"cannot read {what} {str(path)!r}: {error.strerror or error}") from None
    if len(raw) > limit:
        raise ConfigError(f"{what} is larger than {limit >> 20} MiB", source=str(path))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(f"not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start})", source=str(path)) from None


def load_json_text(text: str, path: Path) -> Any:
    """``text`` parsed as JSON; an error names the line and column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"not valid JSON ({error.msg}, column {error.colno}): fix the JSON", source=f"{path}:{error.lineno}") from None
    except RecursionError:
        raise ConfigError("nested too deeply to read", source=str(path)) from None
