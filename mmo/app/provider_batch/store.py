"""A run's provider batch jobs, in ``jobs.sqlite3`` beside the run's state, so the run survives
the terminal closing: what was submitted (the invocation, to collect it later), each job (its
label, the vendor's id, its last known status), each request of each job (its ``custom_id``, the
row it answers, the key its answer is matched by) and each result read back.

Crash safety follows the order of events (``../shared/reference/batch-apis.md``, "crash-safe
resume"): a job's label and requests are committed BEFORE it is created at the vendor, and its id
as soon as the vendor returns it. A job whose id was never recorded (a crash between the two) is
found again by its label (``BatchEndpoint.find``) before anything is created again. Results are
committed as they are read, keyed by ``custom_id``: reading a job twice changes nothing.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from mmo.core.codec import completion_from_dict, completion_to_dict
from mmo.core.errors import ProviderError
from mmo.core.types import Completion
from mmo.providers.batch_api import ItemResult, RemoteJob

JOBS_FILE = "jobs.sqlite3"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS jobs (
        label TEXT PRIMARY KEY, provider TEXT NOT NULL, model TEXT NOT NULL, job_id TEXT,
        state TEXT NOT NULL, raw_state TEXT NOT NULL, total INTEGER NOT NULL,
        succeeded INTEGER, failed INTEGER, message TEXT,
        submitted_at REAL NOT NULL, updated_at REAL NOT NULL, collected INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE IF NOT EXISTS items (
        custom_id TEXT PRIMARY KEY, label TEXT NOT NULL REFERENCES jobs(label), row_idx INTEGER NOT NULL, key TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS items_by_label ON items (label)",
    "CREATE TABLE IF NOT EXISTS results (custom_id TEXT PRIMARY KEY, completion TEXT, error TEXT)",
)


@dataclass(frozen=True, slots=True)
class JobRecord:
    label: str
    provider: str
    model: str
    job_id: str | None
    state: str
    raw_state: str
    total: int
    succeeded: int | None
    failed: int | None
    message: str | None
    submitted_at: float
    updated_at: float
    collected: bool

    @property
    def ended(self) -> bool:
        return self.state in ("completed", "failed", "expired", "cancelled")


_JOB_COLUMNS = ("label", "provider", "model", "job_id", "state", "raw_state", "total", "succeeded", "failed", "message", "submitted_at", "updated_at", "collected")


@dataclass(frozen=True, slots=True)
class StoredResult:
    """A result read back, as the collect run needs it: the row it answers and its key."""

    row_idx: int
    key: str
    completion: Completion | None
    error: ProviderError | None


class JobStore:
    def __init__(self, run_dir: Path) -> None:
        from mmo.runtime.runlog import connect

        run_dir.mkdir(parents=True, exist_ok=True)
        self.path = run_dir / JOBS_FILE
        self._db = connect(self.path)
        with self._db:
            for statement in _SCHEMA:
                self._db.execute(statement)

    @staticmethod
    def exists(run_dir: Path) -> bool:
        return (run_dir / JOBS_FILE).is_file()

    # --- the invocation ------------------------------------------------------------------------

    def save_invocation(self, values: Mapping[str, Any]) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('invocation', ?)", (json.dumps(dict(values)),))

    def invocation(self) -> dict[str, Any]:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'invocation'").fetchone()
        return dict(json.loads(row[0])) if row else {}

    # --- jobs ----------------------------------------------------------------------------------

    def add_job(self, label: str, provider: str, model: str, items: Iterable[tuple[str, int, str]]) -> None:
        """A job about to be created: its label and its requests (custom_id, row, key), committed
        before the vendor hears of it."""
        now = time.time()
        with self._db:
            self._db.execute("INSERT INTO jobs (label, provider, model, state, raw_state, total, submitted_at, updated_at) VALUES (?, ?, ?, 'unsent', 'unsent', 0, ?, ?)",
                             (label, provider, model, now, now))
            self._db.executemany("INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?)", ((cid, label, row, key) for cid, row, key in items))
            self._db.execute("UPDATE jobs SET total = (SELECT COUNT(*) FROM items WHERE label = ?) WHERE label = ?", (label, label))

    def update_job(self, label: str, remote: RemoteJob) -> None:
        with self._db:
            self._db.execute(
                "UPDATE jobs SET job_id = ?, state = ?, raw_state = ?, total = ?, succeeded = ?, failed = ?, message = ?, updated_at = ? WHERE label = ?",
                (remote.job_id, remote.state, remote.raw_state, remote.total, remote.succeeded, remote.failed, remote.message, time.time(), label),
            )

    def mark_collected(self, label: str) -> None:
        with self._db:
            self._db.execute("UPDATE jobs SET collected = 1 WHERE label = ?", (label,))

    def drop_unsent(self, label: str) -> None:
        """A job the vendor refused to create: its rows are free for another job."""
        with self._db:
            self._db.execute("DELETE FROM items WHERE label = ?", (label,))
            self._db.execute("DELETE FROM jobs WHERE label = ?", (label,))

    def jobs(self) -> list[JobRecord]:
        rows = self._db.execute(f"SELECT {', '.join(_JOB_COLUMNS)} FROM jobs ORDER BY submitted_at, label").fetchall()
        return [JobRecord(**dict(zip(_JOB_COLUMNS, row, strict=True)) | {"collected": bool(row[-1])}) for row in rows]

    def rows_in_open_jobs(self) -> set[int]:
        """Rows a job not yet collected holds: they are not submitted again."""
        query = "SELECT items.row_idx FROM items JOIN jobs USING (label) WHERE jobs.collected = 0"
        return {row for (row,) in self._db.execute(query)}

    def next_label_number(self) -> int:
        (count,) = self._db.execute("SELECT COUNT(*) FROM jobs").fetchone()
        return int(count) + 1

    # --- results -------------------------------------------------------------------------------

    def add_results(self, results: Iterable[ItemResult]) -> int:
        """Results read from a job, committed in groups; how many."""
        count = 0
        batch: list[tuple[str, str | None, str | None]] = []
        for result in results:
            batch.append((result.custom_id, _completion_json(result.completion), _error_json(result.error)))
            count += 1
            if len(batch) >= 1000:
                self._insert(batch)
                batch = []
        self._insert(batch)
        return count

    def _insert(self, batch: list[tuple[str, str | None, str | None]]) -> None:
        if batch:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?)", batch)

    def unanswered(self, label: str) -> list[str]:
        """The job's requests with no result read back."""
        query = "SELECT custom_id FROM items LEFT JOIN results USING (custom_id) WHERE items.label = ? AND results.custom_id IS NULL"
        return [custom_id for (custom_id,) in self._db.execute(query, (label,))]

    def results_of(self, labels: Iterable[str]) -> Iterator[StoredResult]:
        """The results of these jobs, with the row and key of each (a custom_id the job never held
        is ignored: a vendor's stray line cannot answer a row)."""
        for label in labels:
            query = "SELECT items.row_idx, items.key, results.completion, results.error FROM results JOIN items USING (custom_id) WHERE items.label = ?"
            for row_idx, key, completion, error in self._db.execute(query, (label,)):
                yield StoredResult(row_idx, key, _completion_from(completion), _error_from(error))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> JobStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _completion_json(completion: Completion | None) -> str | None:
    return None if completion is None else json.dumps(completion_to_dict(completion, with_trace=False), ensure_ascii=False)


def _completion_from(text: str | None) -> Completion | None:
    return None if text is None else completion_from_dict(json.loads(text))


def _error_json(error: Exception | None) -> str | None:
    if error is None:
        return None
    if isinstance(error, ProviderError):
        return json.dumps(error.to_dict(), ensure_ascii=False)
    return json.dumps({"error": "ServerError", "message": str(error)})


def _error_from(text: str | None) -> ProviderError | None:
    if text is None:
        return None
    data = json.loads(text)
    cls = _error_class(str(data.get("error", "")))
    return cls(str(data.get("message", "")), provider=data.get("provider"), model=data.get("model"), status=data.get("status"), code=data.get("code"))


def _error_class(name: str) -> type[ProviderError]:
    """The stored error's class by name, from the error tree (a name not in it is a server error)."""
    from mmo.core import errors
    from mmo.providers import batch_api

    for module in (batch_api, errors):
        found = getattr(module, name, None)
        if isinstance(found, type) and issubclass(found, ProviderError):
            return found
    return errors.ServerError
