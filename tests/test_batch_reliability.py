"""Never lose work, never pay twice: ``mmo batch`` killed at random moments, interrupted with
Ctrl-C, and run through a server that fails 5 % of its calls. Reduced sizes for CI; each test is
bounded in time (the loops by count and by a deadline)."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

from tests.support.batch_harness import ROW_PATTERN, committed_rows, loop_profile, read_jsonl, run_cli, spawn_batch, state_files, write_rows
from tests.support.loopback import Behaviour, FaultMix, LoopbackServer

INFRA_CLASSES = {"RateLimited", "ServerError", "ConnectionFailed", "Timeout", "Overloaded"}


def wait_for_rows(count: int, timeout_s: float) -> dict[int, str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        files = state_files()
        rows = committed_rows(files[0]) if files else {}
        if len(rows) >= count:
            return rows
        time.sleep(0.02)
    raise AssertionError(f"fewer than {count} rows were committed within {timeout_s} s")


def wait_until_reading_a_pipe(pid: int, timeout_s: float) -> None:
    """Until the process blocks reading standard input (Linux tells; elsewhere, a while)."""
    wchan = Path(f"/proc/{pid}/wchan")
    if not wchan.exists():
        time.sleep(2.0)
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and "pipe" not in wchan.read_text():
        time.sleep(0.02)
    time.sleep(0.1)


def test_sigkill_at_random_moments_loses_no_row_and_never_re_asks_a_committed_one(tmp_path: Path, loopback: LoopbackServer) -> None:
    rows_total, kills_wanted, concurrency = 600, 6, 16
    loopback.set_default(Behaviour(latency_s=0.02))
    profile = loop_profile(tmp_path, loopback)
    data = write_rows(tmp_path / "in.jsonl", rows_total)
    args = (str(data), "-P", str(profile), "-c", str(concurrency), "--no-cache")
    rng = random.Random(5)
    snapshots: list[tuple[set[int], dict[str, int]]] = []  # after each kill: committed rows, requests per row
    deadline = time.monotonic() + 12.0
    while len(snapshots) < kills_wanted and time.monotonic() < deadline:
        process = spawn_batch(*args, cwd=tmp_path)
        time.sleep(rng.uniform(0.3, 1.4))  # sometimes during start-up, mostly while rows run
        if process.poll() is not None:
            break  # it finished before the kill
        process.kill()
        process.wait(10)
        files = state_files()
        committed = set(committed_rows(files[0])) if files else set()
        snapshots.append((committed, loopback.calls_by(ROW_PATTERN)))

    final = spawn_batch(*args, cwd=tmp_path)
    _, err = final.communicate(timeout=30)
    assert final.returncode == 0, err.decode()
    assert len(snapshots) >= 2, "the batch ran too fast to be killed: raise rows_total"

    output = read_jsonl(tmp_path / "in.out.jsonl")
    assert Counter(r["id"] for r in output) == Counter(f"r{i}" for i in range(rows_total))  # each exactly once
    assert all(r["status"] == "done" for r in output)
    asked = loopback.calls_by(ROW_PATTERN)
    answered = loopback.calls_by(ROW_PATTERN, answered=True)
    # A row committed as finished before a kill was never asked again, by any later run.
    for committed, asked_then in snapshots:
        re_asked = {row: (asked_then.get(str(row - 1)), asked.get(str(row - 1))) for row in committed if asked.get(str(row - 1)) != asked_then.get(str(row - 1))}
        assert not re_asked, f"committed rows asked again (line: before, after): {re_asked}"
    # A row may be asked again only for a kill that caught it in flight (answered but not yet
    # committed, or still waiting for its answer): at most once per kill, and never otherwise;
    # so a kill wastes at most one answer per row in flight (-c 16), not the work done before it.
    assert sum(answered.values()) - rows_total <= len(snapshots) * concurrency
    for number in range(rows_total):
        line = number + 1
        in_flight_at_kills = sum(1 for committed, asked_then in snapshots if line not in committed and asked_then.get(str(number), 0) > 0)
        assert 1 <= answered[str(number)] <= 1 + in_flight_at_kills, (number, answered[str(number)], in_flight_at_kills)


def test_faults_at_high_concurrency_lose_and_duplicate_nothing(tmp_path: Path, loopback: LoopbackServer) -> None:
    rows_total = 1500
    loopback.set_faults(FaultMix(rate=0.05, kinds=("429", "500", "drop", "hang"), seed=11, retry_after_s=0.05))
    profile = loop_profile(tmp_path, loopback, timeout_s=0.5, max_retry_after_s=1.0)  # one attempt a row
    data = write_rows(tmp_path / "in.jsonl", rows_total)
    result = run_cli(str(data), "-P", str(profile), "-c", "128", "--no-cache")
    assert result.exit_code in (0, 1), result.stderr
    output = read_jsonl(tmp_path / "in.out.jsonl")
    assert [r["id"] for r in output] == [f"r{i}" for i in range(rows_total)]  # none lost, none twice
    failures = [r for r in output if r["status"] != "done"]
    assert failures, "5 % faults with one attempt a row must leave some rows failed"
    assert all(r["status"] == "infra_error" and r["error"]["class"] in INFRA_CLASSES and r["error"]["message"] for r in failures)
    answered = loopback.calls_by(ROW_PATTERN, answered=True)
    done = {r["id"][1:] for r in output if r["status"] == "done"}
    assert all(answered.get(number) == 1 for number in done)  # every delivered answer was asked once
    assert max(answered.values()) == 1  # (an answer can also arrive after the client gave up: a Timeout)
    assert loopback.handler_errors() == []

    loopback.set_faults(None)
    retried = run_cli(str(data), "-P", str(profile), "-c", "128", "--no-cache", "--retry-errors")
    assert retried.exit_code == 0, retried.stderr
    assert all(r["status"] == "done" for r in read_jsonl(tmp_path / "in.out.jsonl"))
    answered_again = loopback.calls_by(ROW_PATTERN, answered=True)
    assert all(answered_again[number] == 1 for number in done)  # delivered rows were not run again
    assert all(answered_again[str(number)] >= 1 for number in range(rows_total))


def test_ctrl_c_stops_cleanly_with_a_summary_and_a_resumable_state(tmp_path: Path, loopback: LoopbackServer) -> None:
    rows_total = 400
    loopback.set_default(Behaviour(latency_s=0.05))
    profile = loop_profile(tmp_path, loopback)
    data = write_rows(tmp_path / "in.jsonl", rows_total)
    args = (str(data), "-P", str(profile), "-c", "8", "--no-cache")
    process = spawn_batch(*args, cwd=tmp_path)
    wait_for_rows(16, timeout_s=15)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=15)
    stderr = err.decode()
    assert process.returncode == 130, stderr
    assert "interrupted:" in stderr and "run the same command to resume" in stderr
    assert "batch run in-" in stderr and "loop:" in stderr  # the summary table
    partial = read_jsonl(tmp_path / "in.out.jsonl")
    assert 16 <= len(partial) < rows_total and all(r["status"] == "done" for r in partial)
    asked_before = loopback.calls_by(ROW_PATTERN)
    assert sum(asked_before.values()) == len(partial)  # rows in flight were let finish, and kept

    resumed = spawn_batch(*args, cwd=tmp_path)
    _, err = resumed.communicate(timeout=30)
    assert resumed.returncode == 0, err.decode()
    assert f"{len(partial)} of {rows_total} rows already finished" in err.decode()
    assert [r["id"] for r in read_jsonl(tmp_path / "in.out.jsonl")] == [f"r{i}" for i in range(rows_total)]
    assert set(loopback.calls_by(ROW_PATTERN).values()) == {1}


def test_a_second_ctrl_c_cancels_the_rows_in_flight_at_once(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.set_default(Behaviour(latency_s=0.2))
    profile = loop_profile(tmp_path, loopback, timeout_s=30)
    data = write_rows(tmp_path / "in.jsonl", 200)
    process = spawn_batch(str(data), "-P", str(profile), "-c", "4", "--no-cache", cwd=tmp_path)
    wait_for_rows(4, timeout_s=15)
    loopback.set_default(Behaviour(latency_s=20))  # rows now in flight would outlast the grace time
    time.sleep(0.4)
    process.send_signal(signal.SIGINT)
    time.sleep(0.3)
    assert process.poll() is None  # the first Ctrl-C waits for the rows in flight
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=10)
    assert process.returncode == 130, err.decode()
    assert time.monotonic() - started < 5
    assert "cancelling the rows in flight" in err.decode()
    done = committed_rows(state_files()[0])
    assert len(read_jsonl(tmp_path / "in.out.jsonl")) == len(done) < 200  # cancelled rows stay pending


def test_ctrl_c_before_any_row_runs_stops_at_once(tmp_path: Path) -> None:
    # Waiting for standard input that never comes: only an immediate stop can end it.
    process = spawn_batch("-", "--profile", "demo", cwd=tmp_path, stdin=subprocess.PIPE)
    wait_until_reading_a_pipe(process.pid, timeout_s=10)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=10)
    assert process.returncode == 130, err.decode()
    assert "interrupted" in err.decode() and "Traceback" not in err.decode()
