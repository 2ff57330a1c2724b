"""One batch run shared by several workers through a real Redis (``mmo batch --shared``): claims
as leases, records written once, the output written whole by whichever worker finishes the run,
a killed worker's rows taken over by the others, and the shared rate limit held meanwhile."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from mmo.app.batch.job import BatchJob
from mmo.app.batch.run import run_batch
from mmo.app.settings import AppEnv, ProfileChoice, RunSettings
from mmo.core.errors import ConfigError
from mmo.core.paths import MmoPaths
from mmo.core.types import Usage
from mmo.providers.fake import FakeProvider, FakeReply
from mmo.runtime.shared_run import SharedRun
from tests.support.loop_profile import loop_profile
from tests.support.loopback import Behaviour, LoopbackServer

ROOT = Path(__file__).resolve().parent.parent
PROFILE = """\
providers:
  lab: {base_url: "http://127.0.0.1:9/v1", key: none}   # replaced by a scripted fake
models:
  a: {model: "lab:a", price: {input: 1, output: 2}}
defaults: {max_tokens: 50}
strategy: a
"""


def _rows(path: Path, count: int, *, bad_lines: tuple[int, ...] = ()) -> Path:
    lines = [json.dumps({"id": f"r{i}", "prompt": f"question {i}"}) for i in range(count)]
    for index in bad_lines:
        lines[index] = "{not json"
    path.write_text("\n".join(lines) + "\n")
    return path


def _worker(tmp_path: Path, name: str, redis_url: str, data: Path, **job_args: object) -> tuple[BatchJob, AppEnv]:
    """A worker as another machine would run it: its own home (cache, run log) and its own copy
    of the input, at another path."""
    home = tmp_path / name
    home.mkdir(exist_ok=True)
    (home / "lab.yaml").write_text(str(job_args.pop("profile", PROFILE)))
    copy = home / "input.jsonl"
    copy.write_bytes(data.read_bytes())
    environ = {**{k: v for k, v in os.environ.items() if not k.startswith("MMO_")}, "MMO_HOME": str(home / "mmo"), "MMO_STATE_URL": redis_url}
    env = AppEnv(environ, home, MmoPaths.from_env(environ))
    settings = RunSettings(choice=ProfileChoice(str(home / "lab.yaml")), read_cache=False, write_cache=False)
    job_args.setdefault("concurrency", 4)
    return BatchJob(str(copy), output=str(home / "out.jsonl"), settings=settings, shared=True, **job_args), env  # type: ignore[arg-type]


def _fake(delay_s: float = 0.01) -> FakeProvider:
    return FakeProvider("lab").script("a", default=FakeReply("answer", usage=Usage(10, 5), delay_s=delay_s))


# --- the claims on the server --------------------------------------------------------------------


def test_claims_are_leases_that_renewal_keeps_and_a_crash_lets_go(redis_url: str) -> None:
    async def scenario() -> None:
        a = SharedRun(redis_url, "leases", "a", total=6, lease_s=0.3)
        b = SharedRun(redis_url, "leases", "b", total=6, lease_s=0.3)
        first = await a.claim(2)
        second = await b.claim(2)
        assert first.slots == (0, 1) and second.slots == (2, 3)
        for _ in range(4):  # a renews its leases through 0.6 s; b's run out (b "crashed")
            await asyncio.sleep(0.15)
            await a.renew(first.slots)
        c = SharedRun(redis_url, "leases", "c", total=6, lease_s=0.3)
        taken = await c.claim(6)
        assert sorted(taken.slots) == [2, 3, 4, 5]  # b's rows, then the fresh ones; never a's
        assert await a.commit([(0, "r0"), (1, "r1")], 0.5) == (2, 0, 2)
        assert await b.commit([(2, "late b2")], 0.25) == (1, 0, 3)  # b's late answer still counts once...
        assert await c.commit([(2, "c2"), (3, "c3")], 0.5) == (1, 1, 4)  # ...and c's of the same row is a duplicate
        assert {slot: record for slot, record, _ in c.records()} == {0: "r0", 1: "r1", 2: "late b2", 3: "c3"}
        for run in (a, b, c):
            await run.aclose()

    asyncio.run(scenario())


def test_released_rows_go_to_the_next_claim_at_once(redis_url: str) -> None:
    async def scenario() -> tuple[tuple[int, ...], float | None]:
        a = SharedRun(redis_url, "release", "a", total=4, lease_s=60)
        b = SharedRun(redis_url, "release", "b", total=4, lease_s=60)
        held = await a.claim(4)
        nothing = await b.claim(4)
        await a.release(held.slots[2:])
        again = await b.claim(4)
        for run in (a, b):
            await run.aclose()
        return again.slots, nothing.next_expiry_s

    slots, wait = asyncio.run(scenario())
    assert sorted(slots) == [2, 3]
    assert wait is not None and 59 < wait <= 60  # nothing to claim: a's leases run out in a minute


def test_workers_stats_name_who_did_what(redis_url: str) -> None:
    async def scenario() -> SharedRun:
        run = SharedRun(redis_url, "stats", "w1", total=2, lease_s=60)
        assert await run.join("f", {"content": "x"}) is None
        await run.claim(2)
        await run.commit([(0, "a"), (1, "b")], 0.000_000_5)  # under a micro-dollar: kept in nano-dollars
        await run.aclose()
        return run

    run = asyncio.run(scenario())
    (worker,) = run.workers()
    assert (worker.worker, worker.rows, worker.duplicates) == ("w1", 2, 0)
    assert worker.spent_usd == pytest.approx(0.000_000_5)
    assert worker.who["pid"] == os.getpid() and worker.seen_ms_ago is not None


def test_a_crashed_workers_reservations_stop_holding_the_cap(redis_url: str) -> None:
    from mmo.runtime.shared_budget import SharedRunCap

    async def scenario() -> list[tuple[bool, float, float]]:
        a_run, b_run = SharedRun(redis_url, "cap", "a", total=2, lease_s=0.3), SharedRun(redis_url, "cap", "b", total=2, lease_s=0.3)
        await a_run.claim(1)  # both are heard from
        await b_run.claim(1)
        a, b = SharedRunCap(redis_url, "cap", "a", 0.3), SharedRunCap(redis_url, "cap", "b", 0.3)
        seen = [await a.reserve(1.0, 0.8)]
        seen.append(await b.reserve(1.0, 0.3))  # a's call in flight holds the room
        await a.settle(0.8, 0.1)  # a's call ended, costing $0.10
        seen.append(await b.reserve(1.0, 0.3))
        await a.reserve(1.0, 0.6)  # a reserves again, then "crashes": never heard from again
        seen.append(await b.reserve(1.0, 0.3))
        await asyncio.sleep(0.4)
        seen.append(await b.reserve(1.0, 0.3))  # a's lease ran out: its reservation no longer counts
        for closing in (a_run, b_run, a, b):
            await closing.aclose()
        return seen

    got = asyncio.run(scenario())
    assert [reserved for reserved, _, _ in got] == [True, False, True, False, True]
    assert got[2][1] == pytest.approx(0.1) and got[4][2] == pytest.approx(0.6)  # spent $0.10; b's two reservations held


# --- workers of one run, in one process ----------------------------------------------------------


def test_two_workers_answer_every_row_once_and_both_write_the_whole_output(tmp_path: Path, redis_url: str) -> None:
    data = _rows(tmp_path / "questions.jsonl", 40, bad_lines=(7,))
    jobs = [_worker(tmp_path, name, redis_url, data) for name in ("one", "two")]
    fakes = [_fake(), _fake()]

    async def both():  # type: ignore[no-untyped-def]
        return await asyncio.gather(*(run_batch(job, env, providers={"lab": fake}) for (job, env), fake in zip(jobs, fakes, strict=True)))

    reports = asyncio.run(both())
    calls = [len(fake.calls_to("a")) for fake in fakes]
    assert sum(calls) == 39 and min(calls) > 0  # every good row once, shared between the two
    assert reports[0].run_id == reports[1].run_id  # named by content, not by the (different) paths
    for report in reports:
        assert report.shared is not None and report.shared.complete
        lines = [json.loads(line) for line in report.output.read_text().splitlines()]  # type: ignore[union-attr]
        assert [line["id"] for line in lines] == [f"r{i}" for i in range(40) if i != 7]
        assert report.summary.done == 39 and report.summary.malformed == 1
        assert json.loads(report.errors_report.read_text())["line"] == 8  # type: ignore[union-attr]
        assert sum(w.rows for w in report.shared.workers) == 40 and all(w.rows for w in report.shared.workers)
    late, late_env = _worker(tmp_path, "three", redis_url, data)  # a worker joining a finished run only writes the output
    idle = _fake()
    collected = asyncio.run(run_batch(late, late_env, providers={"lab": idle}))
    assert idle.calls_to("a") == [] and collected.shared is not None and collected.shared.complete
    assert collected.output.read_text() == reports[0].output.read_text()  # type: ignore[union-attr]


def test_the_cost_cap_holds_across_workers(tmp_path: Path, redis_url: str) -> None:
    data = _rows(tmp_path / "questions.jsonl", 60)
    cap = 0.0005  # a row costs $0.00002 (10 in, 5 out), its worst case ~$0.0001 (50 out): ~20 rows
    jobs = [_worker(tmp_path, name, redis_url, data, max_cost_usd=cap) for name in ("one", "two")]
    fakes = [_fake(delay_s=0.05), _fake(delay_s=0.05)]  # slow enough that neither worker runs every row before the other starts

    async def both():  # type: ignore[no-untyped-def]
        return await asyncio.gather(*(run_batch(job, env, providers={"lab": fake}) for (job, env), fake in zip(jobs, fakes, strict=True)))

    reports = asyncio.run(both())
    assert all(report.stop is not None and report.stop.reason == "cost_cap" for report in reports)
    done = sum(len(fake.calls_to("a")) for fake in fakes)
    assert done * 0.00002 <= cap + 1e-12  # per-worker caps would each spend up to the cap: ~40 rows
    assert done >= 15 and min(len(fake.calls_to("a")) for fake in fakes) > 0
    assert reports[0].spent_usd == pytest.approx(done * 0.00002)
    assert not any(Path(job.output).exists() for job, _ in jobs)  # type: ignore[arg-type]  # the run is not finished


def test_a_worker_with_another_profile_is_refused_before_it_claims(tmp_path: Path, redis_url: str) -> None:
    data = _rows(tmp_path / "questions.jsonl", 5)
    job, env = _worker(tmp_path, "one", redis_url, data, run_id="nightly")
    asyncio.run(run_batch(job, env, providers={"lab": _fake()}))
    other, other_env = _worker(tmp_path, "two", redis_url, data, run_id="nightly", profile=PROFILE.replace("max_tokens: 50", "max_tokens: 60"))
    fake = _fake()
    with pytest.raises(ConfigError, match="shared run 'nightly' was started with another profile"):
        asyncio.run(run_batch(other, other_env, providers={"lab": fake}))
    assert fake.calls_to("a") == []


def test_a_stopped_worker_gives_its_rows_back_and_writes_no_partial_output(tmp_path: Path, redis_url: str) -> None:
    from mmo.app.batch.control import BatchControl

    data = _rows(tmp_path / "questions.jsonl", 12)
    job, env = _worker(tmp_path, "one", redis_url, data, grace_s=0.0)
    control = BatchControl()

    async def interrupted():  # type: ignore[no-untyped-def]
        task = asyncio.ensure_future(run_batch(job, env, providers={"lab": _fake(delay_s=30)}, control=control))
        await asyncio.sleep(0.5)
        control.interrupt()
        return await task

    report = asyncio.run(interrupted())
    assert report.shared is not None and not report.shared.complete and report.summary.done == 0
    assert not Path(job.output).exists()  # type: ignore[arg-type]
    rest, rest_env = _worker(tmp_path, "two", redis_url, data, claim_timeout_s=600.0)
    started = time.monotonic()
    finished = asyncio.run(run_batch(rest, rest_env, providers={"lab": _fake()}))
    assert finished.summary.done == 12 and time.monotonic() - started < 30  # given back, not left to a 600 s lease


def test_retry_errors_puts_a_finished_runs_infra_errors_back_for_every_worker(tmp_path: Path, redis_url: str) -> None:
    from mmo.core.errors import ServerError

    data = _rows(tmp_path / "questions.jsonl", 6)
    # No retries within the run (the rows end as infra errors at once), and no circuit opening
    # (it would be shared: the second worker would wait out its cooldown).
    once = PROFILE + "retry: {attempts: 1}\nlimits:\n  a: {breaker: {failures: 100}}\n"
    job, env = _worker(tmp_path, "one", redis_url, data, profile=once)
    failing = FakeProvider("lab").script("a", FakeReply("answer", usage=Usage(10, 5)), default=ServerError("down", provider="lab", model="a"))
    first = asyncio.run(run_batch(job, env, providers={"lab": failing}))
    assert first.shared is not None and first.shared.complete and first.summary.infra_errors == 5  # finished: written, with 5 errors
    again, again_env = _worker(tmp_path, "two", redis_url, data, retry_errors=True, profile=once)
    fake = _fake()
    report = asyncio.run(run_batch(again, again_env, providers={"lab": fake}))
    assert len(fake.calls_to("a")) == 5  # the errors only; the answered row is kept
    assert report.summary.done == 6 and report.summary.infra_errors == 0
    lines = [json.loads(line) for line in report.output.read_text().splitlines()]  # type: ignore[union-attr]
    assert [line["status"] for line in lines] == ["done"] * 6


def test_shared_needs_a_state_server_and_ordered_output(tmp_path: Path, redis_url: str) -> None:
    data = _rows(tmp_path / "questions.jsonl", 2)
    job, env = _worker(tmp_path, "one", redis_url, data)
    environ = {k: v for k, v in env.environ.items() if k != "MMO_STATE_URL"}
    with pytest.raises(ConfigError, match="--shared works through a state server"):
        asyncio.run(run_batch(job, AppEnv(environ, env.cwd, env.paths), providers={"lab": _fake()}))
    unordered, _ = _worker(tmp_path, "two", redis_url, data, unordered=True)
    with pytest.raises(ConfigError, match="--unordered"):
        unordered.check()


def _closed_port_url() -> str:
    import socket

    with socket.socket() as probe:  # a loopback port nothing listens on once this closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://user:secret@127.0.0.1:{port}/0"


def test_an_unreachable_state_server_stops_a_batch_with_its_rows_pending_not_failed(tmp_path: Path) -> None:
    data = _rows(tmp_path / "questions.jsonl", 5)
    limited = PROFILE + "limits:\n  a: {rpm: 100}\n"  # the rpm bucket lives on the (unreachable) server
    job, env = _worker(tmp_path, "one", _closed_port_url(), data, profile=limited)
    fake = _fake()
    report = asyncio.run(run_batch(replace(job, shared=False), env, providers={"lab": fake}))
    assert report.stop is not None and report.stop.reason == "state_server"
    assert "secret" not in report.stop.message and "127.0.0.1" in report.stop.message
    assert report.summary.failed == 0 and report.summary.pending == 5 and fake.calls_to("a") == []  # a resume runs them all


def test_an_unreachable_state_server_refuses_a_shared_run_naming_it(tmp_path: Path) -> None:
    from mmo.core.errors import StateServerFailed

    data = _rows(tmp_path / "questions.jsonl", 2)
    job, env = _worker(tmp_path, "one", _closed_port_url(), data)
    with pytest.raises(StateServerFailed, match=r"redis://user:\*\*\*@127\.0\.0\.1:\d+/0 \(MMO_STATE_URL\) failed"):
        asyncio.run(run_batch(job, env, providers={"lab": _fake()}))


# --- worker processes, one killed ----------------------------------------------------------------


class _Arrivals:
    """The loopback server's request count, sampled every 10 ms on a thread."""

    def __init__(self, server: LoopbackServer) -> None:
        self.server, self.samples = server, [(time.monotonic(), server.stats().total)]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.samples.append((time.monotonic(), self.server.stats().total))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def most_in(self, seconds: float) -> int:
        """The most requests in any window of ``seconds``."""
        best, start = 0, 0
        for end in range(len(self.samples)):
            while self.samples[end][0] - self.samples[start][0] > seconds:
                start += 1
            best = max(best, self.samples[end][1] - self.samples[start][1])
        return best


def test_three_worker_processes_one_killed_every_row_once_under_the_shared_limit(tmp_path: Path, redis_url: str) -> None:
    rows, rpm = 150, 120  # the bucket starts full (120), then 2 a second: the last rows take ~15 s
    server = LoopbackServer(Behaviour(latency_s=0.05), lifetime_s=180.0).start()
    try:
        data = _rows(tmp_path / "questions.jsonl", rows)
        profile = loop_profile(tmp_path / "limited.yaml", server, rpm=rpm)
        arrivals = _Arrivals(server)
        workers = []
        for n in range(3):
            home = tmp_path / f"machine{n}"
            home.mkdir()
            copy = home / "rows.jsonl"
            copy.write_bytes(data.read_bytes())
            env = {**os.environ, "MMO_HOME": str(home / "mmo"), "MMO_STATE_URL": redis_url, "PYTHONPATH": str(ROOT)}
            argv = [sys.executable, "-m", "mmo", "batch", str(copy), "-P", str(profile), "--shared", "-c", "8", "--claim-timeout", "2",
                    "--no-cache", "--json", "-o", str(home / "out.jsonl")]
            workers.append(subprocess.Popen(argv, env=env, cwd=home, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        deadline = time.monotonic() + 60
        while server.stats().total < rpm + 4 and time.monotonic() < deadline:  # past the burst: rows now wait for the bucket
            time.sleep(0.05)
        workers[1].send_signal(signal.SIGKILL)
        outputs = [worker.communicate(timeout=120) for worker in workers]
        arrivals.stop()
        codes = [worker.returncode for worker in workers]
        assert codes[1] == -signal.SIGKILL and codes[0] == codes[2] == 0, [err.decode()[-2000:] for _, err in outputs]
        for n in (0, 2):
            lines = [json.loads(line) for line in (tmp_path / f"machine{n}" / "out.jsonl").read_text().splitlines()]
            assert [line["id"] for line in lines] == [f"r{i}" for i in range(rows)]  # every row, once, in order
            summary = json.loads(outputs[n][0])
            assert summary["shared"]["complete"] and len(summary["shared"]["workers"]) == 3
        answered = server.calls_by(r"question \d+", answered=True)
        assert sorted(answered) == sorted(f"question {i}" for i in range(rows))
        assert sum(answered.values()) - rows <= 8  # a crash costs at most the calls in flight (-c 8)
        assert arrivals.most_in(5.0) <= rpm + 5 * 2 + 2  # one shared bucket: not 3 x 120 at once
    finally:
        server.stop()
