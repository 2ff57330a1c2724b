"""SIGTERM (``kill``, a service manager, a container stopping) and SIGHUP (a closed terminal) during
``mmo batch`` behave like Ctrl-C: rows in flight finish and are kept, the output and the summary
are written, and a resume pays for no row twice. Bounded in time like the Ctrl-C tests."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.batch_harness import ROW_PATTERN, committed_rows, loop_profile, read_jsonl, spawn_batch, state_files, write_rows
from tests.support.loopback import Behaviour, LoopbackServer
from tests.test_batch_reliability import wait_until_reading_a_pipe


def wait_for_committed(count: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        files = state_files()
        if files and len(committed_rows(files[0])) >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"fewer than {count} rows were committed within {timeout_s} s")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_like_ctrl_c_and_nothing_is_paid_twice(tmp_path: Path, loopback: LoopbackServer, signum: int) -> None:
    rows_total = 240
    loopback.set_default(Behaviour(latency_s=0.05))
    profile = loop_profile(tmp_path, loopback)
    data = write_rows(tmp_path / "in.jsonl", rows_total)
    args = (str(data), "-P", str(profile), "-c", "8", "--no-cache")
    process = spawn_batch(*args, cwd=tmp_path)
    wait_for_committed(16, timeout_s=15)
    process.send_signal(signum)
    _, err = process.communicate(timeout=15)
    stderr = err.decode()
    assert process.returncode == 128 + signum, stderr
    assert f"{signal.Signals(signum).name}: no new rows start" in stderr
    assert "interrupted:" in stderr and "run the same command to resume" in stderr
    assert "batch run in-" in stderr and "loop:" in stderr  # the summary table
    written = read_jsonl(tmp_path / "in.out.jsonl")
    assert 16 <= len(written) < rows_total and all(r["status"] == "done" for r in written)
    assert sum(loopback.calls_by(ROW_PATTERN).values()) == len(written)  # rows in flight finished, and were kept

    resumed = spawn_batch(*args, cwd=tmp_path)
    _, err = resumed.communicate(timeout=30)
    assert resumed.returncode == 0, err.decode()
    assert [r["id"] for r in read_jsonl(tmp_path / "in.out.jsonl")] == [f"r{i}" for i in range(rows_total)]
    assert set(loopback.calls_by(ROW_PATTERN).values()) == {1}  # no row was asked twice


def test_sigterm_before_the_rows_start_stops_at_once(tmp_path: Path) -> None:
    process = spawn_batch("-", "--profile", "demo", cwd=tmp_path, stdin=subprocess.PIPE)
    wait_until_reading_a_pipe(process.pid, timeout_s=10)  # standard input that never comes: only an immediate stop ends it
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=10)
    assert process.returncode == 143, err.decode()
    assert "interrupted (SIGTERM)" in err.decode() and "Traceback" not in err.decode()
