"""``mmo batch --provider-batch`` and ``mmo jobs``, end to end against the loopback fake of the
three vendors' batch APIs: submitted, waited for, collected into the same output a live run
writes at half the cost; expired requests as row errors sent again; strategies' first calls as
jobs and their later stages live; strategies that need live timing refused."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmo.cli.main import app
from tests.support.fake_batch.script import JobScript
from tests.support.fake_batch.server import FakeBatchServer


@pytest.fixture
def fake() -> Iterator[FakeBatchServer]:
    server = FakeBatchServer(lifetime_s=120.0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args))


def profile(directory: Path, server: FakeBatchServer, strategy: str, name: str = "p") -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(textwrap.dedent(f"""
        name: {name}
        providers:
          oa: {{kind: openai, base_url: "{server.openai_base_url}", key: none}}
          an: {{kind: anthropic, base_url: "{server.anthropic_base_url}", key: none}}
          gm: {{kind: gemini, base_url: "{server.gemini_base_url}", key: none}}
        models:
          mini: {{model: "oa:gpt-4o-mini", price: {{input: 1.0, output: 2.0}}}}
          haiku: {{model: "an:claude-haiku-4-5", price: {{input: 1.0, output: 5.0}}}}
          flash: {{model: "gm:gemini-2.5-flash", price: {{input: 0.3, output: 2.5}}}}
        defaults: {{max_tokens: 32}}
        strategy: {strategy}
        """))
    return path


def rows(directory: Path, count: int) -> Path:
    path = directory / "rows.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i}", "prompt": f"question number {i}"}) + "\n" for i in range(count)))
    return path


def output(path: Path) -> dict[str, dict[str, object]]:
    return {line["id"]: line for line in map(json.loads, path.read_text().splitlines())}


def submit_and_collect(prof: Path, inp: Path, out: Path, *extra: str) -> None:
    submitted = run("batch", str(inp), "-P", str(prof), "-o", str(out), "--provider-batch", *extra)
    assert submitted.exit_code == 0, submitted.stderr
    waited = run("jobs", "wait", "--poll", "0", "--collect")
    assert waited.exit_code in (0, 1), waited.stderr


@pytest.mark.parametrize("alias", ["mini", "haiku", "flash"])
def test_a_job_gives_the_live_run_s_output_at_half_the_cost(tmp_path: Path, fake: FakeBatchServer, alias: str) -> None:
    prof, inp = profile(tmp_path, fake, alias), rows(tmp_path, 25)
    live = run("batch", str(inp), "-P", str(prof), "-o", str(tmp_path / "live.jsonl"), "--run-id", "live", "--no-cache")
    assert live.exit_code == 0, live.stderr
    live_calls = fake.stats().answered  # live model calls (batch routes are not counted there)
    assert live_calls == 25
    submit_and_collect(prof, inp, tmp_path / "batch.jsonl")
    live_rows, batch_rows = output(tmp_path / "live.jsonl"), output(tmp_path / "batch.jsonl")
    assert set(batch_rows) == set(live_rows) and len(batch_rows) == 25
    for row_id, row in batch_rows.items():
        assert row["status"] == "done" and row["answer"] == live_rows[row_id]["answer"]
        assert row["cost_usd"] == pytest.approx(live_rows[row_id]["cost_usd"] / 2)  # type: ignore[operator]
        assert "batch price 50%" in str(row["price_source"])
    [job] = fake.jobs()
    assert len(job.custom_ids) == 25
    assert fake.stats().answered == live_calls  # the job's rows made no live call


def test_expired_requests_become_row_errors_that_retry_errors_sends_again_as_a_job(tmp_path: Path, fake: FakeBatchServer) -> None:
    prof, inp, out = profile(tmp_path, fake, "mini"), rows(tmp_path, 10), tmp_path / "out.jsonl"
    fake.script_next(JobScript(expire_after=6))
    submit_and_collect(prof, inp, out)
    first = output(out)
    assert sorted(row["status"] for row in first.values()) == ["done"] * 6 + ["infra_error"] * 4
    expired = [row for row in first.values() if row["status"] == "infra_error"]
    assert all(row["error"]["class"] == "BatchRequestExpired" for row in expired)  # type: ignore[index]
    submit_and_collect(prof, inp, out, "--retry-errors")
    again = output(out)
    assert [row["status"] for row in again.values()] == ["done"] * 10
    second = fake.jobs()[1]
    assert sorted(second.custom_ids) == sorted(f"j2-r{int(str(row['id'])[1:]) + 1}" for row in expired)


def test_a_fallback_answers_live_what_its_job_could_not(tmp_path: Path, fake: FakeBatchServer) -> None:
    prof, inp, out = profile(tmp_path, fake, "{fallback: [mini, haiku]}"), rows(tmp_path, 8), tmp_path / "out.jsonl"
    fake.script_next(JobScript(fail_ids=frozenset({"j1-r2", "j1-r5"}), error_kind="server"))
    submit_and_collect(prof, inp, out)
    rows_out = output(out)
    assert all(row["status"] == "done" for row in rows_out.values())
    by_model = {row_id: row["model"] for row_id, row in rows_out.items()}
    assert by_model["q1"] == by_model["q4"] == "an:claude-haiku-4-5"  # lines 2 and 5
    assert {by_model[f"q{i}"] for i in (0, 2, 3, 5, 6, 7)} == {"oa:gpt-4o-mini"}
    assert len(fake.jobs()) == 1  # the fallback's second entry ran live, not as a job


def test_a_cascade_sends_its_first_tier_as_a_job_and_escalates_live(tmp_path: Path, fake: FakeBatchServer) -> None:
    strategy = '{cascade: [mini, haiku], accept: {regex: "number [0-2]\\\\b"}}'  # rows 3 and 4 fail the gate
    prof, inp, out = profile(tmp_path, fake, strategy), rows(tmp_path, 5), tmp_path / "out.jsonl"
    submit_and_collect(prof, inp, out)
    models = [output(out)[f"q{i}"]["model"] for i in range(5)]
    assert models == ["oa:gpt-4o-mini"] * 3 + ["an:claude-haiku-4-5"] * 2
    [job] = fake.jobs()
    assert job.model == "gpt-4o-mini" and len(job.custom_ids) == 5


def test_hedge_is_refused_with_the_reason_before_anything_is_sent(tmp_path: Path, fake: FakeBatchServer) -> None:
    prof, inp = profile(tmp_path, fake, "{hedge: [mini, haiku], after_ms: 500}"), rows(tmp_path, 3)
    result = run("batch", str(inp), "-P", str(prof), "--provider-batch")
    assert result.exit_code == 2
    assert "races models against the clock" in result.stderr and "without --provider-batch" in result.stderr
    assert fake.jobs() == []


def test_dry_run_shows_the_batch_price_beside_the_live_price_and_sends_nothing(tmp_path: Path, fake: FakeBatchServer) -> None:
    prof, inp = profile(tmp_path, fake, "mini"), rows(tmp_path, 4)
    result = run("batch", str(inp), "-P", str(prof), "--provider-batch", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["rows"] == 4 and shown["dry_run"] is True
    assert shown["expected_cost_usd"]["batch"] == pytest.approx(shown["expected_cost_usd"]["live"] / 2)
    assert shown["expected_cost_usd"]["live"] > 0
    assert fake.jobs() == []


def test_max_cost_holds_at_the_batch_price(tmp_path: Path, fake: FakeBatchServer) -> None:
    prof, inp = profile(tmp_path, fake, "mini"), rows(tmp_path, 10)
    worst = json.loads(run("batch", str(inp), "-P", str(prof), "--provider-batch", "--dry-run", "--json").stdout)["worst_batch_cost_usd"]
    result = run("batch", str(inp), "-P", str(prof), "--provider-batch", "--max-cost", str(worst * 0.45), "--json")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["rows"] == 4 and shown["rows_left_by_max_cost"] == 6
    assert len(fake.jobs()[0].custom_ids) == 4


def test_jobs_show_and_cancel(tmp_path: Path, fake: FakeBatchServer) -> None:
    prof, inp = profile(tmp_path, fake, "mini"), rows(tmp_path, 6)
    fake.script_next(JobScript(pending_polls=1000, done_before_cancel=2))
    assert run("batch", str(inp), "-P", str(prof), "--provider-batch").exit_code == 0
    shown = json.loads(run("jobs", "show", "--json").stdout)
    assert [job["state"] for job in shown["jobs"]] == ["pending"]
    assert run("jobs", "wait", "--poll", "0", "--timeout", "0").exit_code == 75
    assert run("jobs", "collect").exit_code == 75  # nothing ended yet
    assert run("jobs", "cancel").exit_code == 0
    waited = run("jobs", "wait", "--poll", "0", "--collect")
    assert waited.exit_code == 1, waited.stderr  # some rows were cancelled
    statuses = sorted(row["status"] for row in output(tmp_path / "rows.out.jsonl").values())
    assert statuses == ["done"] * 2 + ["infra_error"] * 4


def _forget_job_ids(home: Path, *, label: str | None = None) -> None:
    """What a crash between creating a job and recording its id leaves: the job without an id."""
    import sqlite3

    [jobs_file] = list(home.glob("data/batches/*/jobs.sqlite3")) or list(home.glob("**/jobs.sqlite3"))
    with sqlite3.connect(jobs_file) as db:
        db.execute("UPDATE jobs SET job_id = NULL, state = 'unsent'")
        if label is not None:
            db.execute("PRAGMA foreign_keys = OFF")
            db.execute("UPDATE jobs SET label = ?", (label,))
            db.execute("UPDATE items SET label = ?", (label,))


def test_a_job_created_before_a_crash_is_found_again_by_its_label_not_sent_twice(tmp_path: Path, fake: FakeBatchServer, isolated_env: Path) -> None:
    prof, inp, out = profile(tmp_path, fake, "mini"), rows(tmp_path, 6), tmp_path / "out.jsonl"
    assert run("batch", str(inp), "-P", str(prof), "-o", str(out), "--provider-batch").exit_code == 0
    _forget_job_ids(isolated_env)
    again = run("batch", str(inp), "-P", str(prof), "-o", str(out), "--provider-batch")
    assert again.exit_code == 0, again.stderr
    assert "found it again" in again.stderr and "no rows to send" in again.stderr
    assert len(fake.jobs()) == 1
    assert run("jobs", "wait", "--poll", "0", "--collect").exit_code == 0
    assert [row["status"] for row in output(out).values()] == ["done"] * 6


def test_a_job_never_created_frees_its_rows_for_the_next_submit(tmp_path: Path, fake: FakeBatchServer, isolated_env: Path) -> None:
    prof, inp, out = profile(tmp_path, fake, "mini"), rows(tmp_path, 4), tmp_path / "out.jsonl"
    assert run("batch", str(inp), "-P", str(prof), "-o", str(out), "--provider-batch").exit_code == 0
    _forget_job_ids(isolated_env, label="mmo-never-created-1")  # a label the vendor never saw
    again = run("batch", str(inp), "-P", str(prof), "-o", str(out), "--provider-batch")
    assert again.exit_code == 0, again.stderr
    assert "was never created" in again.stderr and "sent 4 rows" in again.stderr
    assert run("jobs", "wait", "--poll", "0", "--collect").exit_code == 0
    assert [row["status"] for row in output(out).values()] == ["done"] * 4


def test_a_router_s_rules_pick_each_row_s_job_offline(tmp_path: Path, fake: FakeBatchServer) -> None:
    strategy = "{rules: [{when: {keywords: [number]}, use: haiku}], default: mini}"
    prof, out = profile(tmp_path, fake, strategy), tmp_path / "out.jsonl"
    inp = tmp_path / "rows.jsonl"
    inp.write_text("".join(json.dumps({"id": f"q{i}", "prompt": f"question number {i}" if i % 2 else f"question {i}"}) + "\n" for i in range(6)))
    submit_and_collect(prof, inp, out)
    models = {row_id: row["model"] for row_id, row in output(out).items()}
    assert models == {f"q{i}": "an:claude-haiku-4-5" if i % 2 else "oa:gpt-4o-mini" for i in range(6)}
    assert sorted((job.model, len(job.custom_ids)) for job in fake.jobs()) == [("claude-haiku-4-5", 3), ("gpt-4o-mini", 3)]
    assert fake.stats().answered == 0  # nothing ran live


def test_collecting_after_the_input_changed_is_refused_before_any_call(tmp_path: Path, fake: FakeBatchServer) -> None:
    prof, inp = profile(tmp_path, fake, "mini"), rows(tmp_path, 3)
    assert run("batch", str(inp), "-P", str(prof), "--provider-batch").exit_code == 0
    inp.write_text(inp.read_text().replace("question number 1", "question number one"))
    result = run("jobs", "wait", "--poll", "0", "--collect")
    assert result.exit_code == 2 and "submitted for another input" in result.stderr
    assert fake.stats().answered == 0 and not (tmp_path / "rows.out.jsonl").exists()


def test_standard_input_is_refused_with_the_reason(tmp_path: Path, fake: FakeBatchServer) -> None:
    result = CliRunner().invoke(app, ["batch", "-", "-P", str(profile(tmp_path, fake, "mini")), "--provider-batch"], input='{"prompt": "x"}\n')
    assert result.exit_code == 2 and "give a file, not standard input" in result.stderr
