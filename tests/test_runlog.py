from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from mmo.core.paths import MmoPaths
from mmo.runtime.runlog import (
    MIGRATIONS,
    AttemptRecord,
    RunLog,
    RunRecord,
    connect,
    migrate,
    migration_name,
    new_run_id,
    utc_iso,
)

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _run(run_id: str | None = None, *, at: datetime = T0, **changes: object) -> RunRecord:
    base = RunRecord(
        run_id=run_id or new_run_id(),
        started_at=utc_iso(at),
        command="ask",
        profile="balanced",
        strategy="fallback(fast, smart)",
        prompt="What is 2+2?",
        answer="4",
        model_id="anthropic:claude-sonnet-4-5",
        status="ok",
        input_tokens=30,
        output_tokens=3,
        cost_usd=0.0002,
        cost_source="sum",
        latency_ms=900.0,
        ttft_ms=300.0,
        cached=False,
        trace_json='{"kind": "fallback"}',
    )
    return replace(base, **changes)


def _attempts(run_id: str) -> list[AttemptRecord]:
    return [
        AttemptRecord(run_id, 0, "fallback/fast", "openai:gpt-4o-mini", "error", "RateLimited", "429 slow down", latency_ms=120.0, prompt_chars=20),
        AttemptRecord(run_id, 1, "fallback/smart", "anthropic:claude-sonnet-4-5", "ok", input_tokens=30, output_tokens=3, cached_tokens=10,
                      cost_usd=0.0002, cost_source="genai-prices 0.2.3", latency_ms=780.0, ttft_ms=300.0, prompt_chars=20),
    ]


@pytest.fixture
def log(tmp_path: Path) -> RunLog:
    with RunLog(tmp_path / "runlog.sqlite3") as opened:
        yield opened


def test_a_recorded_run_reads_back_whole(log: RunLog) -> None:
    run = _run()
    log.record(run, _attempts(run.run_id))
    got, attempts = log.get(run.run_id)
    assert got == run
    assert attempts == _attempts(run.run_id)


def test_no_log_runs_keep_no_text(log: RunLog) -> None:
    run = _run(prompt=None, answer=None, trace_json=None)
    log.record(run, [])
    got, attempts = log.get(run.run_id)
    assert (got.prompt, got.answer, got.trace_json, attempts) == (None, None, None, [])


def test_lives_at_the_user_data_path() -> None:
    path = MmoPaths.from_env().runlog_path
    with RunLog(path) as opened:
        opened.record(_run(), [])
    assert path.is_file()
    with RunLog(path) as reopened:
        assert len(reopened.recent()) == 1


def test_get_by_unique_prefix_and_errors_on_none_or_several(log: RunLog) -> None:
    for run_id in ("abc1" + "0" * 28, "abc2" + "0" * 28, "fed0" + "0" * 28):
        log.record(_run(run_id), [])
    assert log.get("ABC1")[0].run_id == "abc1" + "0" * 28
    assert log.get("fe")[0].run_id.startswith("fed0")
    with pytest.raises(KeyError, match="more than one"):
        log.get("abc")
    with pytest.raises(KeyError, match="no run"):
        log.get("0123")
    with pytest.raises(KeyError):
        log.get("")
    with pytest.raises(KeyError):
        log.get("%")


def test_recent_is_newest_first_and_filters(log: RunLog) -> None:
    old = _run(at=T0, profile="cheap", model_id="openai:gpt-4o-mini")
    mid = _run(at=T0 + timedelta(minutes=1))
    new = _run(at=T0 + timedelta(minutes=2), status="error", model_id=None, error_class="AllAttemptsFailed")
    log.record(old, [])
    log.record(mid, _attempts(mid.run_id))
    log.record(new, [])
    ids = lambda runs: [r.run_id for r in runs]  # noqa: E731
    assert ids(log.recent()) == [new.run_id, mid.run_id, old.run_id]
    assert ids(log.recent(limit=1)) == [new.run_id]
    assert ids(log.recent(status="error")) == [new.run_id]
    assert ids(log.recent(profile="cheap")) == [old.run_id]
    # A model matches where it answered and where it was only attempted.
    assert ids(log.recent(model="openai:gpt-4o-mini")) == [mid.run_id, old.run_id]
    assert ids(log.recent(model="anthropic:claude-sonnet-4-5", status="ok")) == [mid.run_id]


def test_timestamps_are_normalised_to_utc(log: RunLog) -> None:
    run = _run(started_at="2026-11-23T10:00:00+01:00")
    log.record(run, [])
    assert log.get(run.run_id)[0].started_at == "2026-11-23T09:00:00.000000+00:00"
    with pytest.raises(ValueError):
        utc_iso(datetime(2026, 1, 1))


def test_a_run_and_its_attempts_are_one_transaction(log: RunLog) -> None:
    run = _run()
    duplicate_seq = [_attempts(run.run_id)[0], _attempts(run.run_id)[0]]
    with pytest.raises(sqlite3.IntegrityError):
        log.record(run, duplicate_seq)
    assert log.recent() == []
    log.record(run, _attempts(run.run_id))
    assert len(log.get(run.run_id)[1]) == 2


def test_attempts_must_belong_to_the_run(log: RunLog) -> None:
    with pytest.raises(ValueError):
        log.record(_run(), _attempts("someone-else"))


def test_uses_wal_and_records_every_migration(log: RunLog) -> None:
    with sqlite3.connect(log.path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        names = [r[0] for r in raw.execute("SELECT name FROM _migrations ORDER BY rowid")]
    assert names == [migration_name(m) for m in MIGRATIONS]
    again = connect(log.path)
    try:
        assert migrate(again) == []
    finally:
        again.close()


def test_opening_an_old_database_upgrades_it_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = connect(path)
    assert migrate(old, MIGRATIONS[:1]) == [migration_name(MIGRATIONS[0])]
    old.execute(
        "INSERT INTO runs VALUES ('0ld1', '2026-01-01T00:00:00.000000+00:00', 'ask', NULL, 'model', 'hi', 'hello',"
        " 'openai:gpt-4o', 'ok', NULL, NULL, 5, 2, 0.001, 'genai-prices 0.2.3', 10.0, NULL, 0, NULL)"
    )
    old.execute(
        "INSERT INTO attempts VALUES ('0ld1', 0, 'model', 'openai:gpt-4o', 'ok', NULL, NULL, 5, 2, 0, 0, 0.001,"
        " 'genai-prices 0.2.3', 10.0, NULL, 0)"
    )
    old.close()

    with RunLog(path) as upgraded:
        run, attempts = upgraded.get("0ld1")
        assert (run.prompt, run.answer, run.cost_usd) == ("hi", "hello", 0.001)
        assert len(attempts) == 1 and attempts[0].prompt_chars == 0 and attempts[0].input_tokens == 5
        new = _run()
        upgraded.record(new, _attempts(new.run_id))
        assert upgraded.get(new.run_id)[1][1].prompt_chars == 20
        indexes = {r[0] for r in upgraded._db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"runs_by_start", "attempts_by_model"} <= indexes


def test_token_ratio_uses_successful_uncached_calls_only(log: RunLog) -> None:
    model = "openai:gpt-4o"
    samples = [(400, 110), (800, 230), (400, 120)]  # chars, billed tokens
    for chars, tokens in samples[:2]:
        run = _run()
        log.record(run, [AttemptRecord(run.run_id, 0, "model", model, "ok", input_tokens=tokens, prompt_chars=chars)])
    assert log.token_ratio(model) is None  # two samples are not enough
    noise = _run()
    log.record(noise, [
        AttemptRecord(noise.run_id, 0, "model", model, "error", input_tokens=999, prompt_chars=4),
        AttemptRecord(noise.run_id, 1, "model", model, "ok", input_tokens=999, prompt_chars=4, cache_hit=True),
        AttemptRecord(noise.run_id, 2, "model", "gemini:gemini-2.5-flash", "ok", input_tokens=999, prompt_chars=4),
    ])
    assert log.token_ratio(model) is None
    chars, tokens = samples[2]
    run = _run()
    log.record(run, [AttemptRecord(run.run_id, 0, "model", model, "ok", input_tokens=tokens, prompt_chars=chars)])
    expected = sum(t for _, t in samples) / (sum(c for c, _ in samples) / 4)
    assert log.token_ratio(model) == pytest.approx(expected)
    assert log.token_ratio_sample(model).samples == 3


def test_spent_counts_billed_known_costs_since_a_moment(log: RunLog) -> None:
    def spend(at: datetime, profile: str | None, *costs: tuple[float | None, bool]) -> None:
        run = _run(at=at, profile=profile)
        log.record(run, [AttemptRecord(run.run_id, i, "model", "m:x", "ok", cost_usd=c, cache_hit=hit) for i, (c, hit) in enumerate(costs)])

    spend(T0 - timedelta(days=1), "balanced", (5.0, False))
    spend(T0, "balanced", (0.25, False), (0.5, True), (None, False))
    spend(T0 + timedelta(hours=1), "balanced", (0.125, False))
    spend(T0 + timedelta(hours=2), "cheap", (1.0, False))
    spend(T0 + timedelta(hours=3), None, (2.0, False))
    assert log.spent_usd(profile="balanced", since=T0) == pytest.approx(0.375)
    assert log.spent_usd(profile="cheap", since=T0) == pytest.approx(1.0)
    assert log.spent_usd(profile=None, since=T0) == pytest.approx(3.375)
    assert log.spent_usd(profile="balanced", since=T0 - timedelta(days=2)) == pytest.approx(5.375)
    assert log.spent_usd(profile="nobody", since=T0) == 0.0
    # An offset-aware moment in another zone means the same instant.
    assert log.spent_usd(profile="balanced", since=T0.astimezone(timezone(timedelta(hours=-5)))) == pytest.approx(0.375)


def test_importing_the_runlog_module_does_not_import_sqlite() -> None:
    import subprocess
    import sys

    code = "import sys, mmo.runtime.runlog; print('sqlite3' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
