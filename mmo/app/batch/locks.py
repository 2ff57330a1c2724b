"""``ExclusiveLock``: a file that one process at a time may hold, released by the operating
system when the holder ends, however it ends (``flock``). Two ``mmo batch`` processes on one run
(the run's state) or on one output file would each pay for every row; the second is refused at
once, told who holds it.

The holder writes a note into the file (``run RUN (pid PID)``) for the refusal to quote. A lock
file may be removed on release (``remove=True``, for a lock beside a user's file): it is unlinked
while still locked, and a process that locked a file since unlinked tries again on the new one,
so two processes never hold "the same" lock through two files.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import IO

_ATTEMPTS = 8  # a lock file replaced under us this often in a row: give up


class LockHeld(Exception):
    """Another process holds the lock; ``note`` is what it wrote there (may be empty)."""

    def __init__(self, path: Path, note: str) -> None:
        super().__init__(f"{path} is held by {note or 'another process'}")
        self.path, self.note = path, note


class ExclusiveLock:
    def __init__(self, path: Path, note: str = "", *, remove: bool = False) -> None:
        self.path, self.remove = path, remove
        self._handle: IO[str] | None = None
        for _ in range(_ATTEMPTS):
            handle = path.open("a+", encoding="utf-8")
            if not _try_flock(handle):
                handle.seek(0)
                held_by = handle.read(200).strip()
                handle.close()
                raise LockHeld(path, held_by)
            if _same_file(handle, path):
                self._handle = handle
                break
            handle.close()  # locked a file its holder removed on release: lock the new one
        else:
            raise LockHeld(path, "")
        if note:
            handle.seek(0)
            handle.truncate()
            handle.write(note)
            handle.flush()

    def release(self) -> None:
        if self._handle is None:
            return
        if self.remove:
            with contextlib.suppress(OSError):  # its directory became read-only: the file stays, unlocked
                self.path.unlink()
        self._handle.close()
        self._handle = None


def _try_flock(handle: IO[str]) -> bool:
    try:
        import fcntl
    except ImportError:  # not on POSIX: no lock, as before
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _same_file(handle: IO[str], path: Path) -> bool:
    try:
        return os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False
