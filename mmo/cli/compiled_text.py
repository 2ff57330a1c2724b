"""Text the standard library compiles at run time for every class definition, compiled once and
kept between runs: the methods ``dataclasses`` writes, and ``typing``'s forward references.

Every ``@dataclass`` writes its ``__init__``, ``__repr__``, ``__eq__`` (and ``__setattr__`` /
``__hash__`` for frozen ones) as source text and compiles it with ``exec``: about 0.5 ms a class;
every annotation written as a string (``from __future__ import annotations``) that pydantic or
typer resolves becomes a ``typing.ForwardRef``, which compiles it. ``mmo ask`` defines some 180
dataclasses and resolves some 1,000 forward references before it calls anything: compiling them
took ~90 ms of its start-up. Bytecode caching does not cover text compiled at run time, so this
module does it for that text: ``install`` gives the ``dataclasses`` module an ``exec`` and the
``typing`` module a ``compile`` that look the text up in a table of code objects loaded from
``CACHE_DIR/code/compiled-TAG.marshal`` (TAG: the interpreter's bytecode tag, as
``__pycache__`` uses), compile only what is not there, and run or return the code exactly as the
originals would (same globals and locals, file name, mode, no inherited ``__future__`` flags:
neither module has any). What it compiled is added to the file when the process exits, written
owner-only and renamed into place.

The table is keyed by the mode and the whole text, so a changed class (or an upgraded Python
writing different text) simply misses. A file that is not the current user's, is writable by
others, or does not load is ignored, as Python ignores a ``.pyc`` it cannot trust; a cache
directory that cannot be written costs nothing but the saving. ``MMO_NO_CODE_CACHE=1`` turns it
off.
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


class CompiledText:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.codes: dict[str, CodeType] = _load(path)
        self.compiled = 0

    def exec(self, source: Any, globals: dict[str, Any] | None = None, locals: Any = None, /) -> None:
        """``exec`` as ``dataclasses`` calls it, with the compiled text looked up first."""
        builtins.exec(self._code(source, "exec") if isinstance(source, str) else source, globals, locals)

    def compile(self, source: Any, filename: str, mode: str, flags: int = 0, dont_inherit: bool = False, optimize: int = -1) -> Any:
        """``compile`` as ``typing.ForwardRef`` calls it (text, ``<string>``, ``eval``), looked up
        first; any other call is the builtin's."""
        if isinstance(source, str) and filename == "<string>" and not flags and optimize == -1:
            return self._code(source, mode)
        return builtins.compile(source, filename, mode, flags, dont_inherit, optimize)

    def _code(self, source: str, mode: str) -> CodeType:
        key = f"{mode}\0{source}"
        code = self.codes.get(key)
        if code is None:  # a SyntaxError is raised here, as by the builtin
            code = self.codes[key] = compile(source, "<string>", mode, dont_inherit=True)
            self.compiled += 1
        return code

    def save(self) -> None:
        """Add what this process compiled to the file (nothing to add: nothing written)."""
        if not self.compiled:
            return
        import tempfile

        codes = self.codes if len(self.codes) <= MAX_ENTRIES else {}
        with contextlib.suppress(OSError, ValueError):
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".compiled-", suffix=".tmp")
            try:
                with os.fdopen(handle, "wb") as out:
                    marshal.dump(codes, out)
                os.replace(temporary, self.path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise


def install(cache_dir: Path) -> CompiledText | None:
    """Route ``dataclasses``' ``exec`` and ``typing``'s ``compile`` through the table kept in
    ``cache_dir`` (each is found in its module's globals before the builtin)."""
    if os.environ.get("MMO_NO_CODE_CACHE"):
        return None
    import dataclasses
    import typing

    tag = sys.implementation.cache_tag
    if tag is None:  # no bytecode on this interpreter: nothing to keep
        return None
    cache = CompiledText(cache_dir / "code" / f"compiled-{tag}.marshal")
    dataclasses.exec = cache.exec  # type: ignore[attr-defined]
    typing.compile = cache.compile  # type: ignore[attr-defined]
    atexit.register(cache.save)
    return cache


def _load(path: Path) -> dict[str, CodeType]:
    try:
        with path.open("rb") as file:
            info = os.fstat(file.fileno())
            owner = getattr(os, "getuid", lambda: info.st_uid)()  # no owners to compare on Windows
            if info.st_uid != owner or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                return {}
            loaded = marshal.loads(file.read())  # marshal.load(file) reads piece by piece: 7x slower
    except Exception:  # missing, unreadable or damaged: compiled afresh
        return {}
    if not isinstance(loaded, dict):
        return {}
    return {text: code for text, code in loaded.items() if isinstance(text, str) and isinstance(code, CodeType)}
