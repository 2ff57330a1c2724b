"""``run_batch`` through the one run API: scripted fake providers injected as ``ask`` takes them
(no HTTP), one run-log connection per invocation, and the invocation's record."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from mmo.app.batch.job import BatchJob
from mmo.app.batch.run import run_batch
from mmo.app.settings import AppEnv, ProfileChoice, RunSettings
from mmo.core.errors import RateLimited
from mmo.core.types import Usage
from mmo.providers.fake import FakeProvider, FakeReply
from mmo.runtime import runlog as runlog_module

PROFILE = """\
providers:
  lab: {base_url: "http://127.0.0.1:9/v1", key: none}   # replaced by a scripted fake
models:
  a: {model: "lab:a", price: {input: 1, output: 2}}
  b: {model: "lab:b", price: {input: 10, output: 20}}
defaults: {max_tokens: 50}
strategy: {fallback: [a, b], retry: {attempts: 1}}
"""


def setup(tmp_path: Path, rows: int) -> tuple[BatchJob, AppEnv]:
    (tmp_path / "lab.yaml").write_text(PROFILE)
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps({"id": f"r{i}", "prompt": f"question {i}"}) + "\n" for i in range(rows)))
    env = AppEnv.from_process()
    env = AppEnv(env.environ, tmp_path, env.paths)
    settings = RunSettings(choice=ProfileChoice(str(tmp_path / "lab.yaml")), read_cache=False, write_cache=False)
    return BatchJob(str(data), settings=settings, concurrency=3), env


def test_run_batch_runs_rows_through_injected_providers(tmp_path: Path) -> None:
    job, env = setup(tmp_path, 6)
    fake = FakeProvider("lab").script("a", RateLimited("slow down", provider="lab", model="a"), default=FakeReply("from a", usage=Usage(10, 5)))
    fake.script("b", default=FakeReply("from b", usage=Usage(10, 5)))
    report = asyncio.run(run_batch(job, env, providers={"lab": fake}))
    assert report.summary.done == 6 and report.stop is None
    lines = [json.loads(line) for line in report.output.read_text().splitlines()]  # type: ignore[union-attr]
    assert [line["id"] for line in lines] == [f"r{i}" for i in range(6)]
    assert sorted(line["model"] for line in lines) == ["lab:a"] * 5 + ["lab:b"]  # one row failed over
    assert len(fake.calls_to("a")) == 6 and len(fake.calls_to("b")) == 1
    expected = 5 * (10 * 1 + 5 * 2) / 1e6 + (10 * 10 + 5 * 20) / 1e6  # the refused call costs nothing
    assert report.summary.cost_usd == pytest.approx(expected)


def test_one_batch_opens_the_run_log_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[Path] = []
    original = runlog_module.RunLog.__init__

    def counting(self: runlog_module.RunLog, path: Path) -> None:
        opened.append(path)
        original(self, path)

    monkeypatch.setattr(runlog_module.RunLog, "__init__", counting)
    job, env = setup(tmp_path, 4)
    fake = FakeProvider("lab").script("a", default=FakeReply("from a", usage=Usage(10, 5)))
    report = asyncio.run(run_batch(job, env, providers={"lab": fake}))
    assert report.summary.done == 4
    assert opened == [env.paths.runlog_path]
    with runlog_module.RunLog(env.paths.runlog_path) as log:
        runs = log.recent(10)
    assert sorted(run.command for run in runs) == ["batch"] * 4 + ["batch-run"]  # each row, and the invocation
    assert all(run.status == "ok" for run in runs)


def test_rows_cancelled_in_flight_stay_pending_and_their_spend_is_logged(tmp_path: Path) -> None:
    from mmo.app.batch.control import BatchControl, BatchObserver
    from mmo.app.batch.progress import BatchProgress

    job, env = setup(tmp_path, 6)
    fake = FakeProvider("lab").script("a", FakeReply("quick", usage=Usage(10, 5)), default=FakeReply("slow", usage=Usage(10, 5), delay_s=30))
    control = BatchControl()

    class CancelOnceOneIsDone(BatchObserver):
        progress_interval_s = 0.01

        def progress(self, snapshot: BatchProgress) -> None:
            if snapshot.done >= 1 and snapshot.in_flight == 3 and snapshot.stopping is None:
                control.interrupt()
                control.interrupt()  # the second Ctrl-C cancels the rows in flight

    report = asyncio.run(run_batch(job, env, providers={"lab": fake}, observer=CancelOnceOneIsDone(), control=control))
    assert report.summary.done == 1 and report.summary.pending == 5 and report.stop is not None
    with runlog_module.RunLog(env.paths.runlog_path) as log:
        rows = [run for run in log.recent(20) if run.command == "batch"]
        interrupted = [run for run in rows if run.status == "interrupted"]
        assert len(rows) == 4 and len(interrupted) == 3  # one answered, three cancelled in flight
        for run in interrupted:
            (attempt,) = log.get(run.run_id)[1]
            assert attempt.status == "cancelled" and attempt.cost_usd and attempt.cost_usd > 0  # the prompt, at the input price
            assert run.cost_usd == pytest.approx(attempt.cost_usd) and run.error_class == "Interrupted"


def test_a_cost_cap_that_holds_rows_back_says_so_on_the_progress_line(tmp_path: Path) -> None:
    from dataclasses import replace

    from mmo.app.batch.control import BatchObserver
    from mmo.app.batch.progress import BatchProgress
    from mmo.cli.batch_progress import progress_line
    from mmo.cli.batch_report import outcome_lines

    job, env = setup(tmp_path, 6)
    # a's worst case is 50 output tokens at $2/1M = $0.0001 (+ the prompt): a $0.00027 cap leaves room
    # for two calls in flight while -c 3 would run three, and the real calls cost far less.
    job = replace(job, max_cost_usd=0.00027)
    fake = FakeProvider("lab").script("a", default=FakeReply("from a", usage=Usage(3, 2), delay_s=0.05))
    seen: list[BatchProgress] = []

    class Collect(BatchObserver):
        progress_interval_s = 0.01

        def progress(self, snapshot: BatchProgress) -> None:
            seen.append(snapshot)

    report = asyncio.run(run_batch(job, env, providers={"lab": fake}, observer=Collect()))
    assert report.summary.done == 6 and report.stop is None
    throttled = [s for s in seen if s.cap_waiting]
    assert throttled, "the cap never held a call back"
    assert "--max-cost throttling: 1 call waiting for the worst-case reservations in flight" in progress_line(throttled[0])
    assert "--max-cost throttling" not in progress_line(seen[-1])  # said only while it holds rows back
    assert report.progress.cap_waits >= 1
    assert any(line.startswith(f"--max-cost held back {report.progress.cap_waits} call") for line in outcome_lines(report))
