"""The response cache's file: one SQLite database of answers (JSON text) by key.

Why not diskcache, which mmo used first: a batch looks up and stores one answer per row, and
diskcache's general machinery (key and value encodings, per-store transactions and triggers that
keep counts) cost ~38 µs of CPU per row against ~13 µs for the same SQL here, about a tenth of
``mmo batch``'s whole CPU per row. Here: one table, the key its primary key, stores written in
groups with one ``executemany``, hits and misses added to a small table, eviction of the oldest
stores once the file passes its size limit. WAL mode lets several processes read and write.

A cache that diskcache wrote (``cache.db`` in the same directory) is imported on first open, so
answers already paid for are kept, then its files are removed.

A damaged file (not a database, or a malformed one: a crash of the disk, a truncated copy) is
never fatal: found on opening, or later by ``rebuild``, it is renamed aside to
``answers.sqlite3.corrupt-TIMESTAMP`` (kept, not deleted: it may hold paid answers) and an empty
one takes its place; ``set_aside`` lists what was moved, for a warning. ``reader`` opens a store
that only reads, for where mmo cannot write.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path
from typing import Iterable, Iterator

from mmo.runtime.sqlite_files import is_damaged, open_read_only, open_shared, set_aside

FILE_NAME = "answers.sqlite3"
SIZE_LIMIT = 1 << 30  # bytes of the file past which the oldest stores are evicted
_EVICT_TO = 0.9  # of the limit, so that eviction is not needed again at the next store
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS answers (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS counts (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)


class AnswerStore:
    """Answers by key in ``directory/answers.sqlite3``; one connection, shared by threads."""

    def __init__(self, directory: Path, size_limit: int = SIZE_LIMIT) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / FILE_NAME
        self.size_limit = size_limit
        self.set_aside: list[Path] = []  # damaged files this store moved aside
        self._lock = threading.Lock()
        fresh = not self.path.exists()
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as error:
            if not is_damaged(error):
                raise
            self._db = self._replace_damaged()
        if fresh:
            import_diskcache(directory, self)

    @classmethod
    def reader(cls, directory: Path) -> AnswerStore:
        """A store that only reads an existing file (its writes fail), where mmo cannot write."""
        store = cls.__new__(cls)
        store.path, store.size_limit, store.set_aside = directory / FILE_NAME, SIZE_LIMIT, []
        store._lock = threading.Lock()
        store._db = open_read_only(store.path)
        return store

    def _open(self) -> sqlite3.Connection:
        # A 4 MiB page cache and no memory map: a 100,000-row batch must not grow by what it stores.
        db = open_shared(self.path, "cache_size = -4096", "mmap_size = 0")
        try:
            for statement in _SCHEMA:
                db.execute(statement)
        except BaseException:
            db.close()
            raise
        return db

    def _replace_damaged(self) -> sqlite3.Connection:
        with contextlib.suppress(FileNotFoundError):  # another process moved it aside first
            self.set_aside.append(set_aside(self.path))
        return self._open()

    def rebuild(self) -> Path | None:
        """Move the file, found damaged, aside and start an empty one; where it went."""
        with self._lock:
            self._db.close()
            before = len(self.set_aside)
            self._db = self._replace_damaged()
        return self.set_aside[-1] if len(self.set_aside) > before else None

    def get(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM answers WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def put_many(self, items: Iterable[tuple[str, str]]) -> None:
        """Store answers in one transaction; a key stored again becomes the newest."""
        with self._lock, self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO answers (key, value) VALUES (?, ?)", items)

    def delete(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM answers WHERE key = ?", (key,))

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def size_bytes(self) -> int:
        """Bytes of the file in use (free pages left by deletions are not counted)."""
        with self._lock:
            return self._used_bytes()

    def _used_bytes(self) -> int:
        pages = self._db.execute("PRAGMA page_count").fetchone()[0] - self._db.execute("PRAGMA freelist_count").fetchone()[0]
        return int(pages * self._db.execute("PRAGMA page_size").fetchone()[0])

    def evict(self) -> int:
        """Remove the oldest stores while the file is past its size limit; how many went."""
        removed = 0
        with self._lock:
            while (used := self._used_bytes()) > self.size_limit * _EVICT_TO:
                rows = int(self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])
                # As many rows as the excess holds at the average row's size (at least one).
                batch = max(1, int(rows * (used - self.size_limit * _EVICT_TO) / used) + 1)
                gone = self._db.execute("DELETE FROM answers WHERE id IN (SELECT id FROM answers ORDER BY id LIMIT ?)", (batch,)).rowcount
                if gone <= 0:
                    break
                removed += gone
        return removed

    def clear(self) -> int:
        """Remove every answer and the hit and miss counts; how many answers went."""
        with self._lock, self._transaction():
            removed = int(self._db.execute("DELETE FROM answers").rowcount)
            self._db.execute("DELETE FROM counts")
        return removed

    def add_counts(self, hits: int, misses: int) -> None:
        with self._lock, self._transaction():
            self._db.executemany(
                "INSERT INTO counts (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                (("hits", hits), ("misses", misses)),
            )

    def counts(self) -> tuple[int, int]:
        """(hits, misses) added so far by every process."""
        with self._lock:
            found = dict(self._db.execute("SELECT name, value FROM counts").fetchall())
        return int(found.get("hits", 0)), int(found.get("misses", 0))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error): the write lock is taken at the
    start, so a busy database waits up to the busy timeout instead of failing halfway."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *rest: object) -> None:
        self._db.execute("ROLLBACK" if kind is not None else "COMMIT")


# --- the diskcache format mmo used before --------------------------------------------------------

_DISKCACHE_FILE = "cache.db"
_RAW, _TEXT = 1, 3  # diskcache's modes for a value stored in the row, and in a text file beside it


def import_diskcache(directory: Path, store: AnswerStore) -> int:
    """Copy the answers of a diskcache directory into ``store``, then remove diskcache's files
    (only after the copy is committed). Read with SQL alone: diskcache need not be installed."""
    old = directory / _DISKCACHE_FILE
    if not old.is_file():
        return 0
    try:
        answers, files = _diskcache_answers(old, directory)
    except (sqlite3.Error, OSError):
        return 0  # not a cache mmo can read: left where it is
    store.put_many(answers)
    for path in (*files, old, old.with_name(old.name + "-wal"), old.with_name(old.name + "-shm")):
        path.unlink(missing_ok=True)
    for folder in sorted({path.parent for path in files}, key=lambda p: len(p.parts), reverse=True):
        _remove_empty(folder, directory)
    return len(answers)


def _remove_empty(folder: Path, root: Path) -> None:
    """diskcache's two-level folders of value files, once emptied, up to ``root`` itself."""
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (or not ours to remove)
        folder = folder.parent


def _diskcache_answers(database: Path, directory: Path) -> tuple[list[tuple[str, str]], list[Path]]:
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT key, mode, filename, value FROM Cache ORDER BY rowid").fetchall()
    finally:
        db.close()
    answers: list[tuple[str, str]] = []
    files: list[Path] = []
    for key, mode, filename, value in _text_rows(rows):
        if mode == _RAW and isinstance(value, str):
            answers.append((key, value))
        elif mode == _TEXT and isinstance(filename, str):
            path = directory / filename
            answers.append((key, path.read_text(encoding="utf-8")))
            files.append(path)
    return answers, files


def _text_rows(rows: list[tuple[object, ...]]) -> Iterator[tuple[str, object, object, object]]:
    for key, mode, filename, value in rows:
        if isinstance(key, str):
            yield key, mode, filename, value
