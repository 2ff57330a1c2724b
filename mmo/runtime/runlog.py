"""The run log: one SQLite row per run and one per model attempt, in the user data directory.

The schema changes only through ``MIGRATIONS``, an ordered list of small functions (as in
simonw/llm's ``migrations.py``). A ``_migrations`` table records the ones applied; opening a log
applies the pending ones in order, each in its own transaction with its record, under
``BEGIN IMMEDIATE`` so two processes opening an old log at once cannot both migrate it.
Never edit a released migration: append a new one.

Runs are ``mmo ask`` runs, batch rows (each a run of its own, written in groups with
``record_many``) and batch invocations' summaries. The log never holds an API key; prompt and
answer text are absent for runs made with ``--no-log``.

``RunLog.reader`` opens a log only to read it (``mmo logs``), which works where mmo cannot write
(a read-only ``MMO_HOME``); a failure to open either way is ``sqlite3.Error`` for the caller to
turn into a message naming the file (``sqlite_files.file_problem``).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from mmo.runtime.tokens import OutputSample, TokenRatio

if TYPE_CHECKING:
    import sqlite3

RATIO_WINDOW = 50  # recent calls the token ratio is learnt from
RATIO_MIN_SAMPLES = 3


def new_run_id() -> str:
    """A random 32-hex-digit id: short prefixes are unique, like git's, for ``mmo runs show``.
    (128 random bits as ``uuid4`` has 122, at a quarter of its cost: a batch makes one per row.)"""
    return os.urandom(16).hex()


def utc_iso(moment: datetime | None = None) -> str:
    """The one timestamp format of the log, so timestamps compare as text."""
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("run log timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One ``mmo ask``, one batch row, or one batch invocation's summary (``command`` says
    which: ``ask``, ``batch``, ``batch-run``). ``prompt``/``answer`` are ``None`` with
    ``--no-log``; ``cost_usd`` is ``None`` when any billed attempt's price is unknown. ``status``
    is ``ok``, ``error`` or ``interrupted`` (cancelled in flight, with what it spent)."""

    run_id: str
    started_at: str
    command: str
    profile: str | None
    strategy: str
    prompt: str | None
    answer: str | None
    model_id: str | None
    status: str  # "ok" | "error"
    error_class: str | None = None
    error_message: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    cost_source: str | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    cached: bool = False
    trace_json: str | None = None
    batch_run_id: str | None = None  # a batch row's run (``mmo batch``), with its input line
    batch_line: int | None = None
    conversation_id: str | None = None  # the conversation an ``ask``/``chat`` turn belongs to
    turn_json: str | None = None  # that turn's own messages ({system, user, answer}); None with --no-log


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One call (or cache hit) of one model inside a run, rejected and failed ones included."""

    run_id: str
    seq: int
    node_path: str
    model_id: str
    status: str  # "ok" | "error" | "cancelled"
    error_class: str | None = None
    error_message: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float | None = None
    cost_source: str | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    cache_hit: bool = False
    prompt_chars: int = 0
    calls: int = 1  # a batch records a model's calls summed in one row


# ---------------------------------------------------------------- migrations (append only)


def _m001_runs_and_attempts(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY, started_at TEXT NOT NULL, command TEXT NOT NULL,
            profile TEXT, strategy TEXT NOT NULL, prompt TEXT, answer TEXT, model_id TEXT,
            status TEXT NOT NULL, error_class TEXT, error_message TEXT,
            input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
            cost_usd REAL, cost_source TEXT, latency_ms REAL, ttft_ms REAL,
            cached INTEGER NOT NULL, trace_json TEXT)"""
    )
    db.execute(
        """CREATE TABLE attempts (
            run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE, seq INTEGER NOT NULL,
            node_path TEXT NOT NULL, model_id TEXT NOT NULL, status TEXT NOT NULL,
            error_class TEXT, error_message TEXT,
            input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
            cached_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL,
            cost_usd REAL, cost_source TEXT, latency_ms REAL, ttft_ms REAL,
            cache_hit INTEGER NOT NULL, PRIMARY KEY (run_id, seq))"""
    )


def _m002_indexes(db: sqlite3.Connection) -> None:
    db.execute("CREATE INDEX runs_by_start ON runs (started_at)")
    db.execute("CREATE INDEX attempts_by_model ON attempts (model_id)")


def _m003_attempt_prompt_chars(db: sqlite3.Connection) -> None:
    # Length of the prompt each attempt sent, for learning tokens-per-character per model.
    db.execute("ALTER TABLE attempts ADD COLUMN prompt_chars INTEGER NOT NULL DEFAULT 0")


def _m004_attempt_calls(db: sqlite3.Connection) -> None:
    # How many calls a row sums (batch rows sum a model's calls), for typical answer lengths.
    db.execute("ALTER TABLE attempts ADD COLUMN calls INTEGER NOT NULL DEFAULT 1")


def _m005_batch_rows(db: sqlite3.Connection) -> None:
    # Batch rows are runs of their own: which batch run and input line each one is.
    db.execute("ALTER TABLE runs ADD COLUMN batch_run_id TEXT")
    db.execute("ALTER TABLE runs ADD COLUMN batch_line INTEGER")


def _m006_conversations(db: sqlite3.Connection) -> None:
    # Conversations (mmo ask --continue / --cid, mmo chat): each turn's own messages, by conversation.
    db.execute("ALTER TABLE runs ADD COLUMN conversation_id TEXT")
    db.execute("ALTER TABLE runs ADD COLUMN turn_json TEXT")
    db.execute("CREATE INDEX runs_by_conversation ON runs (conversation_id, started_at)")


def _m007_attempts_by_run(db: sqlite3.Connection) -> None:
    # Spend reports (mmo logs stats) join every attempt to its run.
    db.execute("CREATE INDEX IF NOT EXISTS attempts_by_run ON attempts (run_id)")


Migration = Callable[["sqlite3.Connection"], None]
MIGRATIONS: tuple[Migration, ...] = (
    _m001_runs_and_attempts,
    _m002_indexes,
    _m003_attempt_prompt_chars,
    _m004_attempt_calls,
    _m005_batch_rows,
    _m006_conversations,
    _m007_attempts_by_run,
)


def migration_name(migration: Migration) -> str:
    return migration.__name__.lstrip("_")


def migrate(db: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    """Apply the migrations not yet recorded, in order; returns the names applied.
    ``db`` must be in autocommit mode (``isolation_level=None``)."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    applied: list[str] = []
    for migration in migrations:
        name = migration_name(migration)
        if name in done:
            continue
        # Checked again under the write lock: another process may have applied it meanwhile.
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone() is None:
                migration(db)
                db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, utc_iso()))
                applied.append(name)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return applied


def connect(path: Path, *, busy_timeout_ms: int | None = None) -> sqlite3.Connection:
    """A shared connection (``open_shared``) with foreign keys enforced."""
    from mmo.runtime.sqlite_files import BUSY_TIMEOUT_MS, open_shared

    return open_shared(path, "foreign_keys = ON", busy_timeout_ms=BUSY_TIMEOUT_MS if busy_timeout_ms is None else busy_timeout_ms)


# ---------------------------------------------------------------- the log

@dataclass(frozen=True, slots=True)
class UsageGroup:
    """One group of ``RunLog.usage_by``: a day (UTC), a model, a provider or a profile."""

    group: str
    calls: int
    errors: int
    spent_usd: float  # known costs only
    unknown_cost_calls: int  # billed calls whose price is unknown: never counted as $0
    input_tokens: int
    output_tokens: int
    p50_ms: float | None
    p95_ms: float | None


_GROUP_BY = {
    "day": "substr(r.started_at, 1, 10)",
    "model": "a.model_id",
    "provider": "substr(a.model_id, 1, instr(a.model_id, ':') - 1)",
    "profile": "r.profile",
}


def _fold(text: str | None) -> str | None:
    return None if text is None else text.casefold()


def _time_window(since: str | None, until: str | None) -> tuple[str, list[Any]]:
    clauses, args = [], []
    if since is not None:
        clauses.append("r.started_at >= ?")
        args.append(since)
    if until is not None:
        clauses.append("r.started_at < ?")
        args.append(until)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), args


_RUN_COLUMNS = tuple(f.name for f in fields(RunRecord))
_ATTEMPT_COLUMNS = tuple(f.name for f in fields(AttemptRecord))


def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def _run_from_row(row: Sequence[Any]) -> RunRecord:
    values = dict(zip(_RUN_COLUMNS, row, strict=True))
    values["cached"] = bool(values["cached"])
    return RunRecord(**values)


def _attempt_from_row(row: Sequence[Any]) -> AttemptRecord:
    values = dict(zip(_ATTEMPT_COLUMNS, row, strict=True))
    values["cache_hit"] = bool(values["cache_hit"])
    return AttemptRecord(**values)


class RunLog:
    """Records runs and answers questions about them. Usable as a context manager; one instance
    may be shared between threads."""

    __slots__ = ("path", "_db", "_lock")

    def __init__(self, path: Path, *, busy_timeout_ms: int | None = None) -> None:
        """Open (creating and migrating) the log; ``busy_timeout_ms``: how long a write waits
        for another process's (default ``sqlite_files.BUSY_TIMEOUT_MS``)."""
        self.path = path
        self._db = connect(path, busy_timeout_ms=busy_timeout_ms)
        self._lock = threading.Lock()
        try:
            migrate(self._db)
        except BaseException:
            self._db.close()
            raise

    @classmethod
    def reader(cls, path: Path) -> RunLog:
        """The log of ``path`` opened only to read (no migration, no write)."""
        from mmo.runtime.sqlite_files import open_read_only

        log = cls.__new__(cls)
        log.path, log._lock = path, threading.Lock()
        log._db = open_read_only(path)
        return log

    def record(self, run: RunRecord, attempts: Sequence[AttemptRecord]) -> None:
        """Store a run and its attempts in one transaction."""
        if any(a.run_id != run.run_id for a in attempts):
            raise ValueError("every attempt must carry its run's run_id")
        run_row = _run_row(run)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(_insert_sql("runs", _RUN_COLUMNS), run_row)
                self._db.executemany(_insert_sql("attempts", _ATTEMPT_COLUMNS), [_attempt_values(a) for a in attempts])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def record_many(self, runs: Sequence[tuple[RunRecord, Sequence[AttemptRecord]]]) -> None:
        """Store many runs and their attempts in one transaction (two ``executemany``): how a
        batch logs the rows that finished in one turn of its event loop."""
        run_rows: list[tuple[Any, ...]] = []
        attempt_rows: list[tuple[Any, ...]] = []
        for run, attempts in runs:
            if any(a.run_id != run.run_id for a in attempts):
                raise ValueError("every attempt must carry its run's run_id")
            run_rows.append(_run_row(run))
            attempt_rows.extend(map(_attempt_values, attempts))
        if not run_rows:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(_insert_sql("runs", _RUN_COLUMNS), run_rows)
                self._db.executemany(_insert_sql("attempts", _ATTEMPT_COLUMNS), attempt_rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def recent(self, limit: int | None = 20, **filters: str | None) -> list[RunRecord]:
        """Newest first (``limit=None``: all of them); ``filters`` as ``iter_recent`` takes them."""
        return list(self.iter_recent(limit, **filters))

    def iter_recent(
        self,
        limit: int | None = 20,
        *,
        model: str | None = None,
        status: str | None = None,
        profile: str | None = None,
        text: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> Iterator[RunRecord]:
        """Newest first, read a few hundred at a time (an export of millions stays small in
        memory). ``model`` matches runs where that model answered or was attempted; ``text`` a
        prompt or an answer containing it (any case); ``since``/``until`` ISO times (UTC)."""
        where, args = [], []
        if text is not None:
            # SQLite's LIKE ignores case for ASCII only: both sides are case-folded by Python.
            self._db.create_function("mmo_fold", 1, _fold, deterministic=True)
            where.append("(mmo_fold(prompt) LIKE ? ESCAPE '\\' OR mmo_fold(answer) LIKE ? ESCAPE '\\')")
            pattern = "%" + text.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            args += [pattern, pattern]
        if since is not None:
            where.append("started_at >= ?")
            args.append(since)
        if until is not None:
            where.append("started_at < ?")
            args.append(until)
        if model is not None:
            where.append("(model_id = ? OR EXISTS (SELECT 1 FROM attempts a WHERE a.run_id = runs.run_id AND a.model_id = ?))")
            args += [model, model]
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if profile is not None:
            where.append("profile = ?")
            args.append(profile)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        sql = f"SELECT {', '.join(_RUN_COLUMNS)} FROM runs {clause} ORDER BY started_at DESC, rowid DESC LIMIT ?"
        with self._lock:
            cursor = self._db.execute(sql, (*args, -1 if limit is None else limit))
            while rows := cursor.fetchmany(500):
                yield from (_run_from_row(r) for r in rows)

    def get(self, run_id_or_prefix: str) -> tuple[RunRecord, list[AttemptRecord]]:
        """A run and its attempts by id or unique id prefix; ``KeyError`` when none or several match."""
        prefix = run_id_or_prefix.strip().lower()
        if not prefix:
            raise KeyError("an empty run id matches nothing")
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(_RUN_COLUMNS)} FROM runs WHERE substr(run_id, 1, ?) = ? LIMIT 2", (len(prefix), prefix)
            ).fetchall()
            if len(rows) != 1:
                raise KeyError(f"{'no run' if not rows else 'more than one run'} matches {prefix!r}")
            run = _run_from_row(rows[0])
            attempt_rows = self._db.execute(
                f"SELECT {', '.join(_ATTEMPT_COLUMNS)} FROM attempts WHERE run_id = ? ORDER BY seq", (run.run_id,)
            ).fetchall()
        return run, [_attempt_from_row(r) for r in attempt_rows]

    def latest_conversation(self) -> str | None:
        """The conversation of the newest ``ask`` or ``chat`` turn (``mmo ask --continue``)."""
        with self._lock:
            row = self._db.execute(
                "SELECT conversation_id FROM runs WHERE conversation_id IS NOT NULL ORDER BY started_at DESC, rowid DESC LIMIT 1"
            ).fetchone()
        return row[0] if row else None

    def conversation(self, id_or_prefix: str, limit: int = 1000) -> tuple[str, list[RunRecord]]:
        """A conversation's id and its turns, oldest first (at most ``limit``, the newest), by id or
        unique prefix; ``KeyError`` when none or several match."""
        prefix = id_or_prefix.strip().lower()
        if not prefix:
            raise KeyError("an empty conversation id matches nothing")
        with self._lock:
            ids = self._db.execute(
                "SELECT DISTINCT conversation_id FROM runs WHERE substr(conversation_id, 1, ?) = ? LIMIT 2", (len(prefix), prefix)
            ).fetchall()
            if len(ids) != 1:
                raise KeyError(f"{'no conversation' if not ids else 'more than one conversation'} matches {prefix!r}")
            found = ids[0][0]
            rows = self._db.execute(
                f"SELECT {', '.join(_RUN_COLUMNS)} FROM runs WHERE conversation_id = ? ORDER BY started_at DESC, rowid DESC LIMIT ?",
                (found, limit),
            ).fetchall()
        return found, [_run_from_row(r) for r in reversed(rows)]

    def token_ratio_sample(self, model_id: str) -> TokenRatio | None:
        """Billed input tokens per chars/4 estimate over the model's last successful uncached
        calls; ``None`` with fewer than three. A ratio of sums, so long prompts weigh more."""
        with self._lock:
            row = self._db.execute(
                """SELECT COUNT(*), SUM(input_tokens), SUM(prompt_chars) FROM (
                       SELECT input_tokens, prompt_chars FROM attempts
                       WHERE model_id = ? AND status = 'ok' AND cache_hit = 0
                         AND prompt_chars > 0 AND input_tokens > 0
                       ORDER BY rowid DESC LIMIT ?)""",
                (model_id, RATIO_WINDOW),
            ).fetchone()
        samples, tokens, chars = row
        if samples < RATIO_MIN_SAMPLES:
            return None
        return TokenRatio(tokens / (chars / 4), samples)

    def typical_output_sample(self, model_id: str) -> OutputSample | None:
        """Mean output tokens per call over the model's last successful uncached calls (rows
        summing several calls weigh by their count), and how many calls; ``None`` with fewer
        than three calls."""
        with self._lock:
            row = self._db.execute(
                """SELECT SUM(calls), SUM(output_tokens) FROM (
                       SELECT calls, output_tokens FROM attempts
                       WHERE model_id = ? AND status = 'ok' AND cache_hit = 0 AND output_tokens > 0
                       ORDER BY rowid DESC LIMIT ?)""",
                (model_id, RATIO_WINDOW),
            ).fetchone()
        calls, tokens = row
        if not calls or calls < RATIO_MIN_SAMPLES:
            return None
        return OutputSample(max(1, round(int(tokens) / int(calls))), int(calls))

    def token_ratio(self, model_id: str) -> float | None:
        sample = self.token_ratio_sample(model_id)
        return sample.ratio if sample is not None else None

    def spent_usd(self, *, profile: str | None, since: datetime) -> float:
        """Known cost of every billed attempt (cache hits are free) of runs started at or after
        ``since``; ``profile=None`` sums over all runs. Unknown costs count as nothing."""
        sql = """SELECT COALESCE(SUM(a.cost_usd), 0.0) FROM attempts a JOIN runs r ON r.run_id = a.run_id
                 WHERE r.started_at >= ? AND a.cache_hit = 0 AND a.cost_usd IS NOT NULL"""
        args: list[Any] = [utc_iso(since)]
        if profile is not None:
            sql += " AND r.profile = ?"
            args.append(profile)
        with self._lock:
            (total,) = self._db.execute(sql, args).fetchone()
        return float(total)

    def usage_by(self, key: str, *, since: str | None = None, until: str | None = None) -> list[UsageGroup]:
        """Every model attempt of runs started in ``[since, until)`` (ISO times, UTC), grouped by
        ``key`` (``day``, ``model``, ``provider`` or ``profile``): calls, errors, known spend and
        how many billed calls have no known price, tokens, and p50 / p95 latency. The sums are
        one SQL aggregate; the percentiles one more pass over the latencies in order, which picks
        each group's two values as they go by (nothing is held but the answers)."""
        expression = _GROUP_BY[key]
        where, args = _time_window(since, until)
        sql = f"""SELECT {expression} AS grp, SUM(a.calls),
                    SUM(CASE WHEN a.status = 'ok' THEN 0 ELSE a.calls END),
                    COALESCE(SUM(CASE WHEN a.cache_hit = 0 THEN a.cost_usd END), 0.0),
                    SUM(CASE WHEN a.cost_usd IS NULL AND a.cache_hit = 0 AND a.input_tokens + a.output_tokens > 0 THEN 1 ELSE 0 END),
                    SUM(a.input_tokens), SUM(a.output_tokens), COUNT(a.latency_ms)
                  FROM attempts a JOIN runs r ON r.run_id = a.run_id {where} GROUP BY grp ORDER BY grp"""
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
            wanted = {row[0]: {min(row[7] - 1, int(f * row[7])): f for f in (0.5, 0.95)} for row in rows if row[7]}
            found = self._percentiles(expression, where, args, wanted)
        return [
            UsageGroup(grp if grp is not None else "-", calls or 0, errors or 0, float(spent), unknown or 0, tokens_in or 0, tokens_out or 0,
                       found.get((grp, 0.5)), found.get((grp, 0.95)))
            for grp, calls, errors, spent, unknown, tokens_in, tokens_out, _ in rows
        ]

    def _percentiles(self, expression: str, where: str, args: list[Any], wanted: dict[Any, dict[int, float]]) -> dict[tuple[Any, float], float]:
        """For each group, the latencies at the ranks ``wanted`` asks for, in one ordered pass."""
        joined = f"{where} AND" if where else "WHERE"
        cursor = self._db.execute(
            f"""SELECT {expression} AS grp, a.latency_ms FROM attempts a JOIN runs r ON r.run_id = a.run_id
                {joined} a.latency_ms IS NOT NULL ORDER BY grp, a.latency_ms""",
            args,
        )
        found: dict[tuple[Any, float], float] = {}
        current, rank = object(), 0
        while rows := cursor.fetchmany(10_000):
            for grp, latency in rows:
                if grp != current:
                    current, rank = grp, 0
                fraction = wanted.get(grp, {}).get(rank)
                if fraction is not None:
                    found[(grp, fraction)] = latency
                    if rank == min(wanted[grp]):  # p50 and p95 may share a rank in a small group
                        found.update({(grp, f): latency for r, f in wanted[grp].items() if r == rank})
                rank += 1
        return found

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()




_STARTED_AT = _RUN_COLUMNS.index("started_at")
_ISO_LENGTH = len("2026-01-01T00:00:00.000000+00:00")
_run_values: Callable[[RunRecord], tuple[Any, ...]] = attrgetter(*_RUN_COLUMNS)
_attempt_values: Callable[[AttemptRecord], tuple[Any, ...]] = attrgetter(*_ATTEMPT_COLUMNS)


def _run_row(run: RunRecord) -> tuple[Any, ...]:
    values = list(_run_values(run))
    values[_STARTED_AT] = _normalise_time(run.started_at)
    return tuple(values)


def _normalise_time(text: str) -> str:
    """Any ISO timestamp with an offset, in the log's one format (naive ones are taken as UTC)."""
    if len(text) == _ISO_LENGTH and text.endswith("+00:00") and text[10] == "T":
        return text  # already as ``utc_iso`` writes it (every record mmo makes): a batch logs many
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return utc_iso(moment)
