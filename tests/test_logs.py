"""`mmo logs` and `mmo logs show RUN`: recent runs from the run log, filters, and one run in full."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from mmo.app.demo import demo_task
from mmo.app.logs import LogQuery, recent_runs, run_details
from mmo.app.settings import AppEnv
from mmo.cli.main import app
from mmo.core.errors import ConfigError
from mmo.core.paths import MmoPaths
from mmo.core.trace import Span
from mmo.runtime.runlog import AttemptRecord, RunLog, RunRecord


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args))


def ask_demo(*extra: str) -> str:
    """One real `mmo ask` through the offline demo; returns its run id."""
    task = demo_task(None)
    result = invoke("ask", "--profile", "demo", "--no-cache", "--json", "--meta", f"id={task.id}", *extra, task.prompt)
    return json.loads(result.stdout)["run_id"]


def record(log: RunLog, run_id: str, *, minutes_ago: int, profile: str = "p", model: str = "openai:gpt-5-mini", status: str = "ok") -> None:
    started = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    run = RunRecord(
        run_id=run_id.ljust(32, "0"),
        started_at=started.isoformat(),
        command="ask",
        profile=profile,
        strategy=model,
        prompt="hello",
        answer="hi" if status == "ok" else None,
        model_id=model if status == "ok" else None,
        status=status,
        error_class=None if status == "ok" else "AllAttemptsFailed",
        input_tokens=12,
        output_tokens=34,
        cost_usd=0.0012,
        cost_source="sum",
        latency_ms=456.0,
    )
    log.record(run, [AttemptRecord(run.run_id, 0, "/x", model, status, cost_usd=0.0012, cost_source="test")])


@pytest.fixture
def logged() -> MmoPaths:
    paths = MmoPaths.from_env()
    with RunLog(paths.runlog_path) as log:
        record(log, "aaaa1111", minutes_ago=3)
        record(log, "bbbb2222", minutes_ago=2, profile="q", model="anthropic:claude-sonnet-4-5")
        record(log, "cccc3333", minutes_ago=1, status="error")
    return paths


def test_nothing_logged_yet_says_so_and_creates_no_log() -> None:
    result = invoke("logs")
    assert result.exit_code == 0
    assert "no runs logged yet" in result.output
    assert not MmoPaths.from_env().runlog_path.exists()


def test_recent_runs_newest_first_with_filters(logged: MmoPaths) -> None:
    env = AppEnv.from_process()
    ids = lambda runs: [r.run_id[:8] for r in runs]  # noqa: E731
    assert ids(recent_runs(env, LogQuery())) == ["cccc3333", "bbbb2222", "aaaa1111"]
    assert ids(recent_runs(env, LogQuery(limit=1))) == ["cccc3333"]
    assert ids(recent_runs(env, LogQuery(status="ok"))) == ["bbbb2222", "aaaa1111"]
    assert ids(recent_runs(env, LogQuery(profile="q"))) == ["bbbb2222"]
    # An errored run is found by a model it tried, not only by the one that answered.
    assert ids(recent_runs(env, LogQuery(model="openai:gpt-5-mini"))) == ["cccc3333", "aaaa1111"]


@pytest.mark.parametrize(
    "query, message",
    [(LogQuery(limit=0), "--limit"), (LogQuery(status="failed"), "--status must be one of ok, error"), (LogQuery(model="gpt-5"), "provider:model")],
)
def test_bad_filters_are_config_errors(query: LogQuery, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        recent_runs(AppEnv.from_process(), query)


def test_logs_table_shows_each_run(logged: MmoPaths) -> None:
    result = invoke("logs", "--status", "ok")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["time", "run", "profile", "model", "status", "tokens", "cost", "latency"]
    assert "bbbb2222" in lines[1] and "q" in lines[1] and "12/34" in lines[1] and "$0.0012" in lines[1] and "456 ms" in lines[1]
    assert "cccc3333" not in result.output


def test_logs_json_lists_runs_without_the_stored_trace_text(logged: MmoPaths) -> None:
    result = invoke("logs", "--json", "--profile", "p")
    assert result.exit_code == 0
    runs = json.loads(result.stdout)
    assert [r["run_id"][:8] for r in runs] == ["cccc3333", "aaaa1111"]
    assert "trace_json" not in runs[0] and runs[0]["status"] == "error"


def test_filters_matching_nothing_say_so(logged: MmoPaths) -> None:
    result = invoke("logs", "--profile", "nope")
    assert result.exit_code == 0 and "no runs logged match these filters" in result.output


def test_show_renders_details_attempts_and_the_trace_tree() -> None:
    run_id = ask_demo("--simulate-outage", "flash")
    result = invoke("logs", "show", run_id[:6])
    assert result.exit_code == 0, result.output
    text = result.output
    assert run_id in text
    assert "fallback(flash, pro)" in text and "replay:gemini-1.5-pro-002" in text
    assert "attempts" in text and "Overloaded" in text
    # The stored trace, rendered as a tree: the fallback's decision and the simulated outage.
    assert "└── fallback fallback" in text
    assert "moving on from flash to pro" in " ".join(text.split())
    assert "simulated outage (--simulate-outage flash)" in " ".join(text.split())


def test_show_json_has_the_run_its_attempts_and_the_parsed_trace() -> None:
    run_id = ask_demo()
    result = invoke("logs", "show", run_id[:10], "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["run_id"] == run_id and data["status"] == "ok"
    assert [a["model_id"] for a in data["attempts"]] == ["replay:gemini-1.5-flash-002"]
    trace = Span.from_dict(data["trace"])
    assert [a.model_id for a in trace.attempts()] == ["replay:gemini-1.5-flash-002"]


def test_show_unknown_or_ambiguous_prefix_exits_2(logged: MmoPaths) -> None:
    unknown = invoke("logs", "show", "ffff")
    assert unknown.exit_code == 2 and "no run matches 'ffff'" in unknown.output
    with RunLog(logged.runlog_path) as log:
        record(log, "aaaa9999", minutes_ago=0)
    ambiguous = invoke("logs", "show", "aaaa")
    assert ambiguous.exit_code == 2 and "more than one run matches 'aaaa'" in ambiguous.output


def test_show_a_run_logged_with_no_log_hides_nothing_it_does_not_have() -> None:
    run_id = ask_demo("--no-log")
    details = run_details(AppEnv.from_process(), run_id)
    assert details.run.prompt is None and details.trace is not None
    result = invoke("logs", "show", run_id)
    assert "(not logged: --no-log)" in result.output
