"""Ctrl-C during ``mmo ask`` (a real process, a real SIGINT, the loopback server holding the
call): the run is logged as interrupted with what it spent, so ``mmo logs`` and the daily budget
that reads the log see it. SIGTERM (``kill``, a service manager) and SIGHUP (the terminal closed)
are handled the same way, exiting 128 + their number."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmo.cli.main import app
from mmo.core.paths import MmoPaths
from mmo.runtime.runlog import RunLog
from tests.support.batch_harness import MODEL, loop_profile
from tests.support.loopback import Behaviour, LoopbackServer


def wait_for_requests(server: LoopbackServer, count: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while server.stats().total < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"the server saw fewer than {count} requests in {timeout_s} s")
        time.sleep(0.02)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_during_a_call_logs_the_run_as_interrupted_with_its_spend(
    tmp_path: Path, loopback: LoopbackServer, signum: int, code: int
) -> None:
    loopback.set_default(Behaviour(latency_s=30))
    profile = loop_profile(tmp_path, loopback, timeout_s=60)
    prompt = "a question that takes long " * 20
    process = subprocess.Popen(
        [sys.executable, "-m", "mmo", "ask", "-P", str(profile), "--no-cache", "--no-stream", prompt],
        cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_for_requests(loopback, 1, timeout_s=15)
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)  # bounded; slow only on a loaded machine
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == code, err
    assert "interrupted" in err and ": $" in err and "spent so far" in err and "Traceback" not in err

    listed = CliRunner().invoke(app, ["logs", "--json"])
    assert listed.exit_code == 0, listed.stderr
    (run,) = json.loads(listed.stdout)
    assert run["command"] == "ask" and run["status"] == "interrupted" and run["error_class"] == "Interrupted"
    assert run["prompt"] == prompt and run["cost_usd"] > 0  # the prompt the vendor read, at the input price
    shown = json.loads(CliRunner().invoke(app, ["logs", "show", run["run_id"], "--json"]).stdout)
    (attempt,) = shown["attempts"]
    assert attempt["model_id"] == f"loop:{MODEL}" and attempt["status"] == "cancelled"
    assert attempt["cost_source"].endswith("estimated input only (cancelled)") and attempt["cost_usd"] == pytest.approx(run["cost_usd"])
    with RunLog(MmoPaths.from_env().runlog_path) as log:  # what a daily budget reads
        assert log.spent_usd(profile="loop", since=datetime(2000, 1, 1, tzinfo=UTC)) == pytest.approx(run["cost_usd"])
    only = CliRunner().invoke(app, ["logs", "--status", "interrupted", "--json"])
    assert [r["run_id"] for r in json.loads(only.stdout)] == [run["run_id"]]
