"""The methods ``dataclasses`` writes, compiled once and kept between runs.

Every ``@dataclass`` writes its ``__init__``, ``__repr__``, ``__eq__`` (and ``__setattr__`` /
``__hash__`` for frozen ones) as source text and compiles it with ``exec``: about 0.5 ms a class.
``mmo ask`` defines some 180 dataclasses (mmo's own, pydantic's, typer's, h11's) before it calls
anything, and compiling their methods took 84 ms of its start-up (measured: 883 ``exec`` calls).
Bytecode caching does not cover text compiled at run time, so this module does it for that text:
``install`` gives the ``dataclasses`` module an ``exec`` that looks the source text up in a
table of code objects loaded from ``CACHE_DIR/code/dataclasses-TAG.marshal`` (TAG: the
interpreter's bytecode tag, as ``__pycache__`` uses), compiles only what is not there, and runs
the code exactly as ``exec`` would have run the text (same globals and locals, same file name,
no inherited ``__future__`` flags: ``dataclasses`` has none). What it compiled is added to the
file when the process exits, written owner-only and renamed into place.

The table is keyed by the whole source text, so a changed class (or an upgraded Python writing
different text) simply misses. A file that is not the current user's, is writable by others, or
does not load is ignored, as Python ignores a ``.pyc`` it cannot trust; a cache directory that
cannot be written costs nothing but the saving. ``MMO_NO_CODE_CACHE=1`` turns it off.
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import marshal
import os
import stat
import sys
from pathlib import Path
from types import CodeType
from typing import Any

MAX_ENTRIES = 20_000  # more than mmo and its dependencies write; past it (years of upgrades) the file starts afresh


class DataclassCode:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.codes: dict[str, CodeType] = _load(path)
        self.compiled = 0

    def exec(self, source: Any, globals: dict[str, Any] | None = None, locals: Any = None, /) -> None:
        """``exec`` as ``dataclasses`` calls it, with the compiled text looked up first."""
        if not isinstance(source, str):
            builtins.exec(source, globals, locals)
            return
        code = self.codes.get(source)
        if code is None:
            code = self.codes[source] = compile(source, "<string>", "exec", dont_inherit=True)
            self.compiled += 1
        builtins.exec(code, globals, locals)

    def save(self) -> None:
        """Add what this process compiled to the file (nothing to add: nothing written)."""
        if not self.compiled:
            return
        import tempfile

        codes = self.codes if len(self.codes) <= MAX_ENTRIES else {}
        with contextlib.suppress(OSError, ValueError):
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".dataclasses-", suffix=".tmp")
            try:
                with os.fdopen(handle, "wb") as out:
                    marshal.dump(codes, out)
                os.replace(temporary, self.path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise


def install(cache_dir: Path) -> DataclassCode | None:
    """Route the ``dataclasses`` module's ``exec`` through the table kept in ``cache_dir``."""
    if os.environ.get("MMO_NO_CODE_CACHE"):
        return None
    import dataclasses

    tag = sys.implementation.cache_tag
    if tag is None:  # no bytecode on this interpreter: nothing to keep
        return None
    cache = DataclassCode(cache_dir / "code" / f"dataclasses-{tag}.marshal")
    dataclasses.exec = cache.exec  # type: ignore[attr-defined]  # found before the builtin by name lookup
    atexit.register(cache.save)
    return cache


def _load(path: Path) -> dict[str, CodeType]:
    try:
        with path.open("rb") as file:
            info = os.fstat(file.fileno())
            owner = getattr(os, "getuid", lambda: info.st_uid)()  # no owners to compare on Windows
            if info.st_uid != owner or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                return {}
            loaded = marshal.load(file)
    except Exception:  # missing, unreadable or damaged: compiled afresh
        return {}
    if not isinstance(loaded, dict):
        return {}
    return {text: code for text, code in loaded.items() if isinstance(text, str) and isinstance(code, CodeType)}
