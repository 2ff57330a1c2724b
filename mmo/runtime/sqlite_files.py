"""Opening mmo's SQLite files (the run log, the response cache), which several mmo processes may
read and write at once: autocommit, WAL, and a busy timeout; and what to tell the user when one
cannot be used (``file_problem``: damaged, read-only, disk full, locked), and setting a damaged
one aside (``set_aside``).

A read-only copy (``open_read_only``) serves commands that only read (``mmo logs``) where mmo
cannot write, a read-only ``MMO_HOME`` included: SQLite cannot create the WAL's shared-memory
file there, so it reads the file as immutable instead.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

BUSY_TIMEOUT_MS = 5000
_WAL_RETRY_S = 0.01
_SIDE_FILES = ("-wal", "-shm", "-journal")

# SQLite's primary result codes (https://sqlite.org/rescode.html) that say what is wrong with a file.
_PERM, _BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 3, 5, 6, 8, 10, 11, 13, 14, 26


def open_shared(path: Path, *pragmas: str, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    """A connection in autocommit mode (``isolation_level=None``) with WAL, a busy timeout, and
    any further ``PRAGMA`` settings given (``"cache_size = -4096"``). Closed again if any of
    that fails (a damaged file fails here)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    try:
        db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        _use_wal(db, busy_timeout_ms)
        db.execute("PRAGMA synchronous = NORMAL")
        for pragma in pragmas:
            db.execute(f"PRAGMA {pragma}")
    except BaseException:
        db.close()
        raise
    return db


def open_read_only(path: Path) -> sqlite3.Connection:
    """A connection that never writes. Where the WAL's side files cannot be created (a
    read-only directory), the file is read as immutable: nothing can be writing it there."""
    for options in ("mode=ro", "mode=ro&immutable=1"):
        db = sqlite3.connect(f"{path.resolve().as_uri()}?{options}", uri=True, isolation_level=None, check_same_thread=False)
        try:
            db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError as error:
            db.close()
            if code(error) not in (_CANTOPEN, _READONLY, _PERM) or "immutable" in options:
                raise
            continue
        return db
    raise AssertionError("unreachable")


def code(error: BaseException) -> int | None:
    """SQLite's primary result code of an error, when it has one."""
    value = getattr(error, "sqlite_errorcode", None)
    return value & 0xFF if isinstance(value, int) else None


def is_damaged(error: BaseException) -> bool:
    """Whether the error says the file is not a (whole) SQLite database."""
    if not isinstance(error, sqlite3.DatabaseError):
        return False
    found = code(error)
    if found is not None:
        return found in (_CORRUPT, _NOTADB)
    text = str(error)
    return "not a database" in text or "malformed" in text


def file_problem(path: Path, error: BaseException) -> str:
    """What is wrong with the file and how to fix it, in one clause naming it (or the file the
    operating system named, such as a lock file beside it)."""
    if isinstance(error, OSError) and isinstance(error.filename, str):
        path = Path(error.filename)
    found = code(error) or _code_from_message(str(error))
    reason = getattr(error, "strerror", None) or str(error)
    if is_damaged(error):
        fix = f"it is damaged: move it aside (mv {str(path)!r} {str(path) + '.broken'!r}) and mmo starts a new one"
    elif found == _FULL or getattr(error, "errno", None) == 28:
        fix = "the disk is full: free some space"
    elif found in (_BUSY, _LOCKED):
        fix = "another process holds it locked: wait for it to finish"
    elif found in (_READONLY, _CANTOPEN, _PERM) or isinstance(error, PermissionError):
        fix = "mmo cannot write there: make it writable, or point MMO_HOME at a writable directory"
    else:
        fix = "check the file and its directory"
    return f"{path} ({reason}): {fix}"


def _code_from_message(text: str) -> int | None:
    """The result code SQLite's message says, for an error raised without one."""
    for words, found in (("disk is full", _FULL), ("locked", _BUSY), ("readonly", _READONLY), ("unable to open", _CANTOPEN)):
        if words in text:
            return found
    return None


def set_aside(path: Path) -> Path:
    """Rename a damaged file (and its side files) to ``NAME.corrupt-TIMESTAMP``; the new name."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    path.replace(aside)
    for suffix in _SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.replace(aside.with_name(aside.name + suffix))
    return aside


def _use_wal(db: sqlite3.Connection, busy_timeout_ms: int) -> None:
    """Switch to WAL. A new file switches only while no other connection uses it, and SQLite
    answers "locked" at once there instead of waiting (two processes creating the file together
    hit it), so the switch is tried again until the busy timeout."""
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(_WAL_RETRY_S)
