"""Opening mmo's SQLite files (the run log, the response cache), which several mmo processes may
read and write at once: autocommit, WAL, and a busy timeout."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

BUSY_TIMEOUT_MS = 5000
_WAL_RETRY_S = 0.01


def open_shared(path: Path, *pragmas: str) -> sqlite3.Connection:
    """A connection in autocommit mode (``isolation_level=None``) with WAL, a busy timeout, and
    any further ``PRAGMA`` settings given (``"cache_size = -4096"``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    _use_wal(db)
    db.execute("PRAGMA synchronous = NORMAL")
    for pragma in pragmas:
        db.execute(f"PRAGMA {pragma}")
    return db


def _use_wal(db: sqlite3.Connection) -> None:
    """Switch to WAL. A new file switches only while no other connection uses it, and SQLite
    answers "locked" at once there instead of waiting (two processes creating the file together
    hit it), so the switch is tried again until the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(_WAL_RETRY_S)
