"""``mmo batch`` as a user meets it: the offline demo, resume, changed input, --retry-errors, the
cost cap, malformed lines, standard input, the dry run and the run log."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path

import pytest

from mmo.catalog.endpoints import ProviderSettings
from mmo.core.types import frozen_mapping
from mmo.providers.replay import ReplayProvider
from tests.support.batch_harness import MODEL, ROW_PATTERN, batches_dir, loop_profile, read_jsonl, run_cli, write_rows
from tests.support.loopback import Fault, LoopbackServer


def demo_rows(path: Path, count: int) -> list[str]:
    """Rows for tasks of the replay sample bundled with mmo (the offline demo's data)."""
    sample = ReplayProvider(ProviderSettings("replay", "replay", needs_key=False, options=frozen_mapping({"path": "builtin:mmlu_pro_sample"})))
    ids = sample.task_ids()[:count]
    with path.open("w", encoding="utf-8") as handle:
        for task_id in ids:
            handle.write(json.dumps({"id": task_id, "prompt": sample.prompt_for(task_id), "metadata": {"id": task_id}}) + "\n")
    return ids


def test_offline_demo_batch_needs_no_key_and_resumes_without_calling_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ids = demo_rows(tmp_path / "tasks.jsonl", 40)
    result = run_cli("tasks.jsonl", "--profile", "demo", "-c", "8")
    assert result.exit_code == 0, result.stderr
    rows = read_jsonl(tmp_path / "tasks.out.jsonl")
    assert [r["id"] for r in rows] == ids  # input order, one line per row
    assert all(r["status"] == "done" and r["answer"] and r["model"].startswith("replay:") for r in rows)
    assert all(r["cost_usd"] > 0 and r["tokens"]["input"] > 0 for r in rows)  # recorded costs
    assert "replay:gemini-1.5-flash-002" in result.stderr and "40 rows: 40 done" in result.stderr
    first_output = (tmp_path / "tasks.out.jsonl").read_text()

    again = run_cli("tasks.jsonl", "--profile", "demo")
    assert again.exit_code == 0, again.stderr
    assert "resuming run tasks-" in again.stderr and "40 of 40 rows already finished" in again.stderr
    assert "this invocation: 0 rows" in again.stderr
    assert (tmp_path / "tasks.out.jsonl").read_text() == first_output


def test_a_resumed_run_never_calls_a_finished_row_again(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = loop_profile(tmp_path, loopback)
    data = write_rows(tmp_path / "in.jsonl", 30)
    assert run_cli(str(data), "-P", str(profile), "-c", "4", "--no-cache").exit_code == 0
    assert loopback.stats().total == 30
    result = run_cli(str(data), "-P", str(profile), "-c", "4", "--no-cache")
    assert result.exit_code == 0, result.stderr
    assert loopback.stats().total == 30  # nothing called, nothing paid twice
    assert len(read_jsonl(tmp_path / "in.out.jsonl")) == 30


def test_a_changed_input_starts_a_new_run_and_says_so(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = loop_profile(tmp_path, loopback)
    data = write_rows(tmp_path / "in.jsonl", 5)
    assert run_cli(str(data), "-P", str(profile), "--no-cache").exit_code == 0
    write_rows(data, 6)  # one more row: different content
    result = run_cli(str(data), "-P", str(profile), "--no-cache")
    assert result.exit_code == 0, result.stderr
    assert "the input content changed since run in-" in result.stderr and "starting a new run in-" in result.stderr
    assert len(list(batches_dir().glob("in-*"))) == 2
    assert len(read_jsonl(tmp_path / "in.out.jsonl")) == 6
    assert loopback.stats().total == 11  # the new run is a run of its own (the cache is off)


def test_retry_errors_reruns_only_rows_that_failed_for_infrastructure_reasons(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = loop_profile(tmp_path, loopback)
    data = write_rows(tmp_path / "in.jsonl", 4)
    # -c 1 takes the rows in order: row 0 meets a 500 (infrastructure), row 1 a 400 (the request itself).
    loopback.script(MODEL, Fault.server_error(500), Fault.status(400, error="bad_request"))
    first = run_cli(str(data), "-P", str(profile), "-c", "1", "--no-cache")
    assert first.exit_code == 1, first.stderr
    rows = {r["id"]: r for r in read_jsonl(tmp_path / "in.out.jsonl")}
    assert (rows["r0"]["status"], rows["r0"]["error"]["class"]) == ("infra_error", "ServerError")
    assert (rows["r1"]["status"], rows["r1"]["error"]["class"]) == ("failed", "BadRequest")
    assert "re-run them with --retry-errors" in first.stderr

    plain = run_cli(str(data), "-P", str(profile), "-c", "1", "--no-cache")
    assert plain.exit_code == 1 and loopback.stats().total == 4  # failed rows are kept as they are

    retried = run_cli(str(data), "-P", str(profile), "-c", "1", "--no-cache", "--retry-errors")
    assert retried.exit_code == 1, retried.stderr  # the bad request still stands
    assert loopback.calls_by(ROW_PATTERN) == {"0": 2, "1": 1, "2": 1, "3": 1}
    rows = {r["id"]: r for r in read_jsonl(tmp_path / "in.out.jsonl")}
    assert rows["r0"]["status"] == "done" and rows["r1"]["status"] == "failed"


def test_the_cost_cap_stops_before_passing_it_and_says_how_far_it_got(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = loop_profile(tmp_path, loopback, price=(1000.0, 1000.0), max_tokens=10)  # $0.001 a token
    data = write_rows(tmp_path / "in.jsonl", 40)
    result = run_cli(str(data), "-P", str(profile), "-c", "4", "--no-cache", "--max-cost", "0.1")
    assert result.exit_code == 4, result.stderr
    rows = read_jsonl(tmp_path / "in.out.jsonl")
    spent = sum(r["cost_usd"] for r in rows)
    assert 0 < spent <= 0.1
    assert 0 < len(rows) < 40 and all(r["status"] == "done" for r in rows)
    assert loopback.stats().total == len(rows)  # every call that started finished and was kept
    assert "stopped: cost cap $0.1000 reached" in result.stderr
    assert f"{len(rows)} of 40 rows finished, {40 - len(rows)} not run" in result.stderr

    same_cap = run_cli(str(data), "-P", str(profile), "-c", "4", "--no-cache", "--max-cost", "0.1")
    assert same_cap.exit_code == 4 and loopback.stats().total == len(rows)  # the cap covers the whole run
    raised = run_cli(str(data), "-P", str(profile), "-c", "4", "--no-cache", "--max-cost", "10")
    assert raised.exit_code == 0, raised.stderr
    assert len(read_jsonl(tmp_path / "in.out.jsonl")) == 40 and loopback.stats().total == 40


def test_the_cost_cap_refuses_to_start_on_unknown_prices(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = loop_profile(tmp_path, loopback, price=None)
    data = write_rows(tmp_path / "in.jsonl", 3)
    refused = run_cli(str(data), "-P", str(profile), "--no-cache", "--max-cost", "1")
    assert refused.exit_code == 2
    assert "--max-cost needs a price" in refused.stderr and f"loop:{MODEL}" in refused.stderr
    assert loopback.stats().total == 0
    allowed = run_cli(str(data), "-P", str(profile), "--no-cache", "--max-cost", "1", "--allow-unknown-prices")
    assert allowed.exit_code == 0, allowed.stderr
    assert all(r["cost_usd"] is None for r in read_jsonl(tmp_path / "in.out.jsonl"))  # unknown, never $0


def test_malformed_lines_are_reported_with_their_line_numbers_and_the_rest_runs(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = loop_profile(tmp_path, loopback)
    data = write_rows(tmp_path / "in.jsonl", 5, extra_lines={1: "{broken", 3: '{"id": "x"}'})
    result = run_cli(str(data), "-P", str(profile), "--no-cache")
    assert result.exit_code == 1, result.stderr
    report = read_jsonl(tmp_path / "in.errors.jsonl")
    assert [r["line"] for r in report] == [2, 5]
    assert report[0]["reason"].startswith("not valid JSON") and report[0]["text"] == "{broken"
    assert "needs 'prompt'" in report[1]["reason"] and report[1]["text"] == '{"id": "x"}'
    assert [r["id"] for r in read_jsonl(tmp_path / "in.out.jsonl")] == ["r0", "r1", "r2", "r3", "r4"]
    assert "2 malformed lines" in result.stderr

    strict = run_cli(str(data), "-P", str(profile), "--no-cache", "--strict", "-o", str(tmp_path / "strict.jsonl"))
    assert strict.exit_code == 2
    assert "in.jsonl:2: not valid JSON" in strict.stderr
    assert loopback.stats().total == 5 and not (tmp_path / "strict.jsonl").exists()  # nothing called


def test_standard_input_to_standard_output_resumes_by_content(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = loop_profile(tmp_path, loopback)
    data = write_rows(tmp_path / "in.jsonl", 6).read_text()
    first = run_cli("-", "-P", str(profile), "--no-cache", "--unordered", input=data)
    assert first.exit_code == 0, first.stderr
    assert sorted(json.loads(line)["id"] for line in first.stdout.splitlines()) == [f"r{i}" for i in range(6)]
    again = run_cli("-", "-P", str(profile), "--no-cache", "--run-id", "mine", input=data)
    assert again.exit_code == 0 and loopback.stats().total == 12  # a named run is a run of its own
    third = run_cli("-", "-P", str(profile), "--no-cache", "--run-id", "mine", input=data)
    assert third.exit_code == 0 and loopback.stats().total == 12
    assert "resuming run mine: 6 of 6" in third.stderr
    assert [json.loads(line)["id"] for line in third.stdout.splitlines()] == [f"r{i}" for i in range(6)]
    assert not list(batches_dir().glob(".stdin-*"))  # the spooled input is removed


def test_the_run_log_records_every_row_like_an_ask_with_every_attempt(tmp_path: Path, loopback: LoopbackServer) -> None:
    from datetime import datetime

    from mmo.core.paths import MmoPaths
    from mmo.runtime.runlog import RunLog

    profile = loop_profile(tmp_path, loopback, attempts=2)
    data = write_rows(tmp_path / "in.jsonl", 10)
    loopback.script(MODEL, Fault.server_error(500))  # the first call fails, and is retried
    assert run_cli(str(data), "-P", str(profile), "--no-cache", "-c", "1").exit_code == 0
    with RunLog(MmoPaths.from_env().runlog_path) as log:
        runs = log.recent(50)
        summary = next(run for run in runs if run.command == "batch-run")
        rows = sorted((run for run in runs if run.command == "batch"), key=lambda run: run.batch_line or 0)
        assert [run.batch_line for run in rows] == list(range(1, 11)) and len(runs) == 11
        assert {run.batch_run_id for run in rows} == {summary.batch_run_id} and summary.batch_run_id.startswith("in-")
        first, attempts = log.get(rows[0].run_id)
        assert first.prompt == "row-0 what is 0 + 0?" and first.answer and first.model_id == f"loop:{MODEL}"
        assert [(a.status, a.error_class) for a in attempts] == [("error", "ServerError"), ("ok", None)]  # the failed attempt too
        assert all(len(log.get(run.run_id)[1]) == 1 for run in rows[1:])
        assert log.get(summary.run_id)[1] == []  # the summary holds no attempts: no spend counted twice
        spent = log.spent_usd(profile="loop", since=datetime(2000, 1, 1, tzinfo=UTC))
        assert spent == pytest.approx(sum(run.cost_usd or 0 for run in rows)) and summary.cost_usd == pytest.approx(spent) and spent > 0
    shown = run_cli_logs(rows[0].run_id)
    assert "row-0 what is 0 + 0?" in shown and "--no-log" not in shown and "line 1 of batch run in-" in shown
    assert "batch run in-" in run_cli_logs(summary.run_id)


def test_batch_no_log_keeps_the_numbers_and_not_the_text(tmp_path: Path, loopback: LoopbackServer) -> None:
    from mmo.core.paths import MmoPaths
    from mmo.runtime.runlog import RunLog

    profile = loop_profile(tmp_path, loopback)
    data = write_rows(tmp_path / "in.jsonl", 3)
    assert run_cli(str(data), "-P", str(profile), "--no-cache", "--no-log").exit_code == 0
    with RunLog(MmoPaths.from_env().runlog_path) as log:
        rows = [run for run in log.recent(10) if run.command == "batch"]
    assert len(rows) == 3 and all(run.prompt is None and run.answer is None and run.cost_usd for run in rows)
    assert "(not logged: --no-log)" in run_cli_logs(rows[0].run_id)


def run_cli_logs(run_id: str) -> str:
    from typer.testing import CliRunner

    from mmo.cli.main import app

    result = CliRunner().invoke(app, ["logs", "show", run_id])
    assert result.exit_code == 0, result.stderr
    return result.stdout + result.stderr


def test_dry_run_estimates_per_model_and_calls_nothing(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = loop_profile(tmp_path, loopback)
    data = write_rows(tmp_path / "in.jsonl", 8)
    result = run_cli(str(data), "-P", str(profile), "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "dry run: 8 rows" in result.stderr and f"loop:{MODEL}" in result.stderr and "chars/4" in result.stderr
    assert loopback.stats().total == 0 and not (tmp_path / "in.out.jsonl").exists()


def test_a_missing_key_stops_the_run_instead_of_failing_every_row(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = loop_profile(tmp_path, loopback)
    profile.write_text(profile.read_text().replace("key: none", "key_env: LOOP_TEST_KEY"))
    data = write_rows(tmp_path / "in.jsonl", 20)
    result = run_cli(str(data), "-P", str(profile), "--no-cache", "-c", "2")
    assert result.exit_code == 3, result.stderr
    assert "stopped: no API key for provider 'loop'" in result.stderr and "LOOP_TEST_KEY" in result.stderr
    assert "20 pending" in result.stderr  # the rows wait for the key: a resume runs them
    assert read_jsonl(tmp_path / "in.out.jsonl") == [] and loopback.stats().total == 0


def test_the_cost_cap_waits_for_calls_in_flight_rather_than_stopping_early(tmp_path: Path, loopback: LoopbackServer) -> None:
    # Worst case per call: ~6 prompt + 100 output tokens at $0.001 = ~$0.106; real calls cost ~$0.012.
    # At -c 8 the worst cases of the calls in flight alone would pass a $0.2 cap after one call:
    # a cap that refused then would stop after one row; this one waits and stops only when the
    # money spent leaves no room for one more worst case.
    import math

    profile = loop_profile(tmp_path, loopback, price=(1000.0, 1000.0), max_tokens=100)
    data = write_rows(tmp_path / "in.jsonl", 40)
    result = run_cli(str(data), "-P", str(profile), "-c", "8", "--no-cache", "--max-cost", "0.2")
    assert result.exit_code == 4, result.stderr
    rows = read_jsonl(tmp_path / "in.out.jsonl")
    spent = sum(r["cost_usd"] for r in rows)
    done = {r["id"] for r in rows}
    pending = [json.loads(line) for line in data.read_text().splitlines() if json.loads(line)["id"] not in done]
    dearest_next = max((math.ceil(len(row["prompt"]) / 4) + 100) * 0.001 for row in pending)
    assert len(rows) >= 5 and spent <= 0.2 < spent + dearest_next


def test_unordered_output_to_standard_output_streams_each_row_as_it_is_committed(tmp_path: Path, loopback: LoopbackServer) -> None:
    import asyncio
    import io

    from mmo.app.batch.control import BatchObserver
    from mmo.app.batch.job import BatchJob
    from mmo.app.batch.run import run_batch
    from mmo.app.settings import AppEnv, ProfileChoice, RunSettings
    from tests.support.loopback import Behaviour

    loopback.set_default(Behaviour(latency_s=0.03))
    profile = loop_profile(tmp_path, loopback)
    data = write_rows(tmp_path / "in.jsonl", 20)
    out = io.StringIO()
    seen: list[tuple[int, int]] = []  # (rows finished, lines already written) at each progress tick

    class Watch(BatchObserver):
        progress_interval_s = 0.0

        def progress(self, snapshot):  # type: ignore[no-untyped-def]
            seen.append((snapshot.finished_now, len(out.getvalue().splitlines())))

    settings = RunSettings(choice=ProfileChoice(str(profile)), read_cache=False, write_cache=False)
    job = BatchJob(str(data), output="-", settings=settings, concurrency=2, unordered=True)
    asyncio.run(run_batch(job, AppEnv.from_process(), stdout=out, observer=Watch()))
    lines = out.getvalue().splitlines()
    assert sorted(json.loads(line)["id"] for line in lines) == sorted(f"r{i}" for i in range(20))
    # Lines appeared while the run was going, one per committed row, not all at the end.
    midway = [(done, written) for done, written in seen if 0 < done < 20]
    assert midway and all(written == done for done, written in midway)

    again = io.StringIO()
    asyncio.run(run_batch(job, AppEnv.from_process(), stdout=again))
    assert sorted(again.getvalue().splitlines()) == sorted(lines)  # a resume prints what was finished
    assert loopback.stats().total == 20


def test_dry_run_expects_answers_as_long_as_the_run_log_saw_else_a_stated_default(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = loop_profile(tmp_path, loopback, max_tokens=4000)
    data = write_rows(tmp_path / "in.jsonl", 5)

    def dry_run_output_tokens() -> tuple[str, str]:
        result = run_cli(str(data), "-P", str(profile), "--dry-run")
        assert result.exit_code == 0, result.stderr
        model_line = next(line for line in result.stderr.splitlines() if line.startswith(f"loop:{MODEL}"))
        return model_line.split()[3], " ".join(result.stderr.split())  # tokens out (best-worst), and the caption unwrapped

    tokens_out, shown = dry_run_output_tokens()
    assert tokens_out == "1,280-20,000"  # no history: 256 expected per row, not the 4,000 of max_tokens
    assert "best and expected: 256 tokens, the default (no answers in the run log yet)" in shown
    assert run_cli(str(data), "-P", str(profile), "--no-cache").exit_code == 0
    answers = [row["tokens"]["output"] for row in read_jsonl(tmp_path / "in.out.jsonl")]
    tokens_out, shown = dry_run_output_tokens()
    mean = round(sum(answers) / len(answers))
    assert tokens_out == f"{5 * mean:,}-20,000"
    assert f"best and expected: {mean} tokens, the mean of its last 5 answers in the run log" in shown
