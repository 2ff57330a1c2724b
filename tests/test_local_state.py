"""mmo's own files in bad shape: a damaged response cache (garbage bytes, a truncated SQLite file),
a damaged run log, a run log locked by another process or on a full disk after the call, and a
read-only ``MMO_HOME``. None of them may end in an internal error (exit 70), throw away an answer
already paid for, or stop a command that does not need what is broken; each names the file and
the fix."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
import textwrap
from pathlib import Path
from typing import Any, Sequence

import pytest
from typer.testing import CliRunner

from mmo.app.ask import AskInput, ask
from mmo.app.settings import AppEnv, ProfileChoice, RunSettings
from mmo.cli.main import app
from mmo.core.paths import MmoPaths
from mmo.runtime.answer_store import FILE_NAME, AnswerStore
from mmo.runtime.runlog import AttemptRecord, RunLog, RunRecord
from tests.support.batch_harness import loop_profile, write_rows
from tests.support.loopback import LoopbackServer
from tests.support.unprivileged import run_bound

PROMPT = "what is 2 + 2?"
DAMAGES = ["garbage", "truncated"]


def mmo(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def damage(path: Path, how: str) -> bytes:
    """Garbage bytes over the file, or the file cut after its first two pages; what it holds now."""
    for side in ("-wal", "-shm"):
        assert not path.with_name(path.name + side).exists(), "a connection is still open"
    data = b"this is not a database " * 300 if how == "garbage" else path.read_bytes()[:8192]
    path.write_bytes(data)
    return data


def cache_file() -> Path:
    return MmoPaths.from_env().response_cache_dir / FILE_NAME


def runlog_file() -> Path:
    return MmoPaths.from_env().runlog_path


def fill_cache(entries: int = 300) -> None:
    """A cache of many pages, so a truncated copy loses its answers' pages."""
    store = AnswerStore(cache_file().parent)
    store.put_many((f"key-{i}", json.dumps({"filler": "x" * 1000})) for i in range(entries))
    store.close()


def fill_runlog(runs: int = 300) -> None:
    with RunLog(runlog_file()) as log:
        for i in range(runs):
            run = RunRecord(f"{i:032x}", "2026-01-01T00:00:00+00:00", "ask", "loop", "m", "x" * 500, "y" * 500, "loop:fake-model", "ok")
            log.record(run, [AttemptRecord(run.run_id, 0, "/m", "loop:fake-model", "ok", input_tokens=10, output_tokens=5)])


# --- the response cache ---------------------------------------------------------------------


@pytest.mark.parametrize("how", DAMAGES)
def test_a_damaged_cache_is_set_aside_and_rebuilt_with_a_warning(tmp_path: Path, loopback: LoopbackServer, how: str) -> None:
    profile = loop_profile(tmp_path, loopback)
    fill_cache()
    damaged = damage(cache_file(), how)
    result = mmo("ask", "-P", str(profile), PROMPT)
    assert result.exit_code == 0, result.stderr
    assert PROMPT in result.stdout  # the loopback server echoes the prompt
    warning = " ".join(result.stderr.split())
    assert f"the response cache {cache_file()} was damaged and was started anew" in warning and "moved aside to" in warning
    (aside,) = cache_file().parent.glob(f"{FILE_NAME}.corrupt-*")
    assert aside.read_bytes() == damaged  # kept, not deleted
    again = mmo("ask", "-P", str(profile), PROMPT)
    assert again.exit_code == 0 and "was damaged" not in again.stderr
    assert loopback.stats().total == 1  # the rebuilt cache answered the second time


@pytest.mark.parametrize("how", DAMAGES)
def test_cache_stats_and_clear_work_on_a_damaged_cache(how: str) -> None:
    fill_cache()
    damage(cache_file(), how)
    stats = mmo("cache", "stats")
    assert stats.exit_code == 0, stats.stderr
    assert "was damaged" in stats.stderr and "entries" in stats.stdout
    cleared = mmo("cache", "clear")
    assert cleared.exit_code == 0, cleared.stderr
    assert "1 damaged cache file" in cleared.stdout
    assert not list(cache_file().parent.glob("*.corrupt-*"))
    assert mmo("cache", "stats").exit_code == 0


# --- a damaged run log ------------------------------------------------------------------------


@pytest.mark.parametrize("how", DAMAGES)
def test_a_damaged_run_log_stops_ask_before_any_call_naming_the_file_and_the_fix(tmp_path: Path, loopback: LoopbackServer, how: str) -> None:
    profile = loop_profile(tmp_path, loopback)
    fill_runlog()
    damage(runlog_file(), how)
    result = mmo("ask", "-P", str(profile), PROMPT)
    assert result.exit_code == 2, result.stderr
    message = " ".join(result.stderr.split())
    assert str(runlog_file()) in message and "move it aside" in message and "--no-log" in message
    assert loopback.stats().total == 0

    logs = mmo("logs")
    assert logs.exit_code == 2, logs.stderr
    assert str(runlog_file()) in " ".join(logs.stderr.split())


@pytest.mark.parametrize("how", DAMAGES)
def test_no_log_runs_past_a_damaged_run_log(tmp_path: Path, loopback: LoopbackServer, how: str) -> None:
    profile = loop_profile(tmp_path, loopback)
    fill_runlog()
    damaged = damage(runlog_file(), how)
    result = mmo("ask", "-P", str(profile), "--no-log", PROMPT)
    assert result.exit_code == 0, result.stderr
    assert PROMPT in result.stdout
    assert "this run is not recorded" in " ".join(result.stderr.split())
    assert runlog_file().read_bytes() == damaged  # left for the user to look at


def budget_profile(directory: Path, server: LoopbackServer) -> Path:
    path = directory / "capped.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            name: capped
            providers:
              loop: {{kind: openai, base_url: "{server.openai_base_url}", key: none}}
            models:
              m: {{model: "loop:fake-model", price: {{input: 1.0, output: 2.0}}}}
            defaults: {{max_tokens: 16}}
            budget: {{daily_usd: 5.0}}
            strategy: m
            """
        )
    )
    return path


@pytest.mark.parametrize("flags", [[], ["--no-log"]])
def test_a_daily_budget_refuses_to_start_when_the_run_log_cannot_be_read(tmp_path: Path, loopback: LoopbackServer, flags: list[str]) -> None:
    profile = budget_profile(tmp_path, loopback)
    fill_runlog()
    damage(runlog_file(), "truncated")
    result = mmo("ask", "-P", str(profile), *flags, PROMPT)
    assert result.exit_code == 2, result.stderr
    message = " ".join(result.stderr.split())
    assert "has a daily budget" in message and str(runlog_file()) in message and "move it aside" in message
    assert loopback.stats().total == 0


# --- recording fails after the call -------------------------------------------------------------


def ask_with_runlog(profile: Path, opener: Any) -> Any:
    item = AskInput(PROMPT, RunSettings(ProfileChoice(str(profile)), read_cache=False))
    return asyncio.run(ask(item, AppEnv.from_process(), open_runlog=opener))


def test_an_answer_is_delivered_when_another_process_holds_the_run_log_locked(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = loop_profile(tmp_path, loopback)
    fill_runlog(1)
    holder = sqlite3.connect(runlog_file(), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another writer, holding the log past the call
    try:
        outcome = ask_with_runlog(profile, lambda path: RunLog(path, busy_timeout_ms=50))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert outcome.ok and PROMPT in outcome.completion.text
    (warning,) = [w for w in outcome.warnings if "not recorded" in w]
    assert str(runlog_file()) in warning and "locked" in warning and "spend ($" in warning
    assert loopback.stats().total == 1


class DiskFullRunLog(RunLog):
    """A run log on a disk that filled up while the call ran: its write fails as SQLite's does."""

    def record(self, run: RunRecord, attempts: Sequence[AttemptRecord]) -> None:
        raise sqlite3.OperationalError("database or disk is full")


def test_an_answer_is_delivered_when_the_disk_fills_before_it_is_recorded(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = loop_profile(tmp_path, loopback)
    outcome = ask_with_runlog(profile, DiskFullRunLog)
    assert outcome.ok and PROMPT in outcome.completion.text
    (warning,) = [w for w in outcome.warnings if "not recorded" in w]
    assert str(runlog_file()) in warning and "disk is full: free some space" in warning


# --- a read-only MMO_HOME -------------------------------------------------------------------------


@pytest.fixture
def read_only_home(tmp_path: Path, loopback: LoopbackServer) -> Any:
    """A home with a run log and a cache, made read-only (given back afterwards), and a profile."""
    profile = loop_profile(tmp_path, loopback)
    assert mmo("ask", "-P", str(profile), "a first question").exit_code == 0
    home = Path(os.environ["MMO_HOME"])
    modes = {path: path.stat().st_mode for path in [home, *home.rglob("*")]}
    for path in modes:
        path.chmod(modes[path] & ~0o222)
    yield profile
    for path, mode in modes.items():
        path.chmod(mode)


def bound_mmo(*args: str) -> Any:
    return run_bound([sys.executable, "-m", "mmo", *args])


def test_a_read_only_home_still_serves_commands_that_only_read(read_only_home: Path, loopback: LoopbackServer) -> None:
    logs = bound_mmo("logs", "--json")
    assert logs.returncode == 0, logs.stderr
    assert [run["prompt"] for run in json.loads(logs.stdout)] == ["a first question"]
    stats = bound_mmo("cache", "stats")
    assert stats.returncode == 0, stats.stderr
    asked = bound_mmo("ask", "-P", str(read_only_home), "--no-log", PROMPT)
    assert asked.returncode == 0, asked.stderr
    assert PROMPT in asked.stdout and "this run is not recorded" in " ".join(asked.stderr.split())


def test_a_read_only_home_names_the_path_and_the_fix_for_commands_that_write(tmp_path: Path, read_only_home: Path, loopback: LoopbackServer) -> None:
    home = os.environ["MMO_HOME"]
    data = write_rows(tmp_path / "in.jsonl", 2)
    for args in (["ask", "-P", str(read_only_home), PROMPT], ["cache", "clear"], ["batch", str(data), "-P", str(read_only_home)]):
        result = bound_mmo(*args)
        message = " ".join(result.stderr.split())
        assert result.returncode == 2, (args, result.stderr)
        assert home in message and "MMO_HOME" in message and "Traceback" not in message, args
    assert loopback.stats().total == 1  # only the first question, before the home was made read-only


def test_a_batch_state_the_disk_cannot_grow_stops_the_run_naming_the_file(tmp_path: Path) -> None:
    from mmo.app.batch.outcome import DONE, RowOutcome
    from mmo.app.batch.state import BatchState
    from mmo.core.errors import ConfigError

    def row(index: int) -> RowOutcome:
        line = json.dumps({"id": f"r{index}", "answer": "x" * 4000})
        return RowOutcome(index, f"r{index}", DONE, "p:m", None, None, 0.01, 10, 5, 100.0, False, 40, (), line)

    with BatchState(tmp_path / "run") as state:
        pages = state._db.execute("PRAGMA page_count").fetchone()[0]
        state._db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own "disk full" from here on
        rows = [row(i) for i in range(1, 20)]
        with pytest.raises(ConfigError, match="disk is full: free some space") as refused:
            state.record(rows)
        assert str(tmp_path / "run" / "state.sqlite3") in str(refused.value) and "run the same command to resume" in str(refused.value)
        assert state.counts() == {}
