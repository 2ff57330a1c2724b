"""Where ``mmo batch`` writes, tried as a demanding user would: a device node or a FIFO as ``-o``
(written in place, never replaced by a file), outputs that cannot be written (refused before the
first call), a reader that closes standard output early (``| head``, for ``mmo ask`` too), and
two runs writing one output (the second refused, naming the first). Device nodes are made in the test's temporary
directory, never the real ``/dev``."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mmo.app.demo import demo_task
from mmo.cli.main import app
from tests.support.batch_harness import ROW_PATTERN, loop_profile, read_jsonl, run_cli, spawn_batch, write_rows
from tests.support.loopback import Behaviour, LoopbackServer
from tests.support.unprivileged import permission_bound, run_bound


def run_cli_command(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


LONG_ANSWER = "x" * 2000  # 200 rows then make ~400 KB of output, far more than a pipe holds


def make_char_device(path: Path) -> Path:
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # the null device's numbers, in tmp_path
    except PermissionError:
        pytest.skip("making a device node needs root")
    return path


def test_a_character_device_as_output_is_written_in_place_not_replaced(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = loop_profile(tmp_path, loopback)
    data = write_rows(tmp_path / "in.jsonl", 5, extra_lines={2: "not json"})
    device = make_char_device(tmp_path / "out-device")
    result = run_cli(str(data), "-P", str(profile), "-o", str(device), "--no-cache")
    assert result.exit_code == 1, result.stderr  # the malformed line
    assert stat.S_ISCHR(device.stat().st_mode)  # still the device node
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("out-device", ".out-device"))) == ["out-device"]
    assert read_jsonl(tmp_path / "in.errors.jsonl")[0]["line"] == 3  # the report goes where standard output's does


def test_a_fifo_as_output_is_written_in_place_for_its_reader(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = loop_profile(tmp_path, loopback)
    data = write_rows(tmp_path / "in.jsonl", 6)
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    try:
        result = run_cli(str(data), "-P", str(profile), "-o", str(fifo), "--no-cache")
        reader.join(10)
    finally:
        if reader.is_alive():  # the batch never opened it: let the reader see an end
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            reader.join(10)
    assert result.exit_code == 0, result.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert [json.loads(line)["id"] for line in received[0].decode().splitlines()] == [f"r{i}" for i in range(6)]


@pytest.mark.parametrize(
    ("output", "named"),
    [
        ("a-dir", "is a directory"),
        ("missing/out.jsonl", "does not exist (create it first"),
        ("in.jsonl/out.jsonl", "Not a directory"),
    ],
)
def test_an_output_that_cannot_be_written_is_refused_before_the_first_call(
    tmp_path: Path, loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch, output: str, named: str
) -> None:
    monkeypatch.chdir(tmp_path)
    profile = loop_profile(tmp_path, loopback)
    write_rows(tmp_path / "in.jsonl", 3)
    (tmp_path / "a-dir").mkdir()
    result = run_cli("in.jsonl", "-P", str(profile), "-o", output, "--no-cache")
    assert result.exit_code == 2, result.stderr
    assert named in result.stderr and output.split("/")[0] in result.stderr and "-o" in result.stderr
    assert loopback.stats().total == 0  # nothing was paid for


def test_an_output_in_a_read_only_directory_is_refused_before_the_first_call(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = loop_profile(tmp_path, loopback)
    data = write_rows(tmp_path / "in.jsonl", 3)
    locked = tmp_path / "read-only"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = run_bound([sys.executable, "-m", "mmo", "batch", str(data), "-P", str(profile), "-o", str(locked / "out.jsonl"), "--no-cache"])
    finally:
        locked.chmod(0o755)
    assert result.returncode == 2, result.stderr
    assert f"cannot write the output '{locked / 'out.jsonl'}'" in result.stderr and "Permission denied" in result.stderr
    assert loopback.stats().total == 0


def test_a_read_only_input_directory_sends_the_errors_report_to_the_run_state(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = loop_profile(tmp_path, loopback)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    data = write_rows(inputs / "in.jsonl", 3, extra_lines={1: "not json"})
    inputs.chmod(0o555)
    try:
        result = run_bound([sys.executable, "-m", "mmo", "batch", str(data), "-P", str(profile), "-o", "-", "--no-cache"])
    finally:
        inputs.chmod(0o755)
    assert result.returncode == 1, result.stderr
    assert len(result.stdout.splitlines()) == 3
    reports = list((Path(os.environ["MMO_HOME"]) / "data" / "batches").glob("*/errors.jsonl"))
    assert len(reports) == 1 and json.loads(reports[0].read_text())["line"] == 2
    assert f"see {reports[0]}" in result.stderr.replace("\n", "")


def read_some_then_close(process: subprocess.Popen[bytes]) -> bytes:
    """What ``| head -c 100`` does: read a little of standard output, then close it."""
    assert process.stdout is not None
    first = process.stdout.read(100)
    process.stdout.close()
    return first


@pytest.mark.parametrize("unordered", [False, True])
def test_a_reader_closing_standard_output_ends_the_batch_quietly(tmp_path: Path, loopback: LoopbackServer, unordered: bool) -> None:
    rows = 200
    loopback.set_default(Behaviour(text=LONG_ANSWER, latency_s=0.01 if unordered else 0.0))
    profile = loop_profile(tmp_path, loopback, max_tokens=1000)
    data = write_rows(tmp_path / "in.jsonl", rows)
    args = [str(data), "-P", str(profile), "-o", "-", "--no-cache", "-c", "2", *(["--unordered"] if unordered else [])]
    process = spawn_batch(*args, cwd=tmp_path)
    first = read_some_then_close(process)
    assert process.stderr is not None
    err = process.stderr.read().decode()
    assert process.wait(30) == 141, err
    assert first.startswith(b'{"id":"r') and "Traceback" not in err and "internal error" not in err
    assert "closed it" in err and "run the same command to write them again" in err
    if unordered:
        assert sum(loopback.calls_by(ROW_PATTERN).values()) < rows  # no new row started once it was gone

    again = run_cli(*args[:-1] if unordered else args)  # every row written, none paid twice
    assert again.exit_code == 0, again.stderr
    assert [json.loads(line)["id"] for line in again.stdout.splitlines()] == [f"r{i}" for i in range(rows)]
    assert set(loopback.calls_by(ROW_PATTERN).values()) == {1}


def test_a_second_run_writing_the_same_output_is_refused_naming_the_first(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.set_default(Behaviour(latency_s=0.2))
    profile = loop_profile(tmp_path, loopback)
    first_input = write_rows(tmp_path / "first.jsonl", 40)
    second_input = tmp_path / "second.jsonl"
    second_input.write_text("".join(json.dumps({"id": f"s{i}", "prompt": f"second-{i}"}) + "\n" for i in range(5)))
    output = tmp_path / "shared.jsonl"
    first = spawn_batch(str(first_input), "-P", str(profile), "-o", str(output), "-c", "2", "--no-cache", cwd=tmp_path)
    try:
        deadline = time.monotonic() + 15
        while loopback.stats().total == 0 and time.monotonic() < deadline:  # the first run is calling
            time.sleep(0.02)
        second = run_cli(str(second_input), "-P", str(profile), "-o", str(output), "--no-cache")
        assert second.exit_code == 2, second.stderr
        assert "is being written by another `mmo batch` (run first-" in second.stderr and "choose another -o" in second.stderr
        assert loopback.calls("second-") == 0  # the second run asked nothing
    finally:
        first.kill()
        first.wait(10)
    # Killed, the first run no longer holds the file: a later run takes it.
    third = run_cli(str(second_input), "-P", str(profile), "-o", str(output), "--no-cache")
    assert third.exit_code == 0, third.stderr
    assert [r["id"] for r in read_jsonl(output)] == [f"s{i}" for i in range(5)]
    assert not (tmp_path / ".shared.jsonl.lock").exists()


@pytest.mark.parametrize("view", [[], ["--json"], ["--stream"]])
def test_ask_whose_reader_has_gone_exits_quietly_and_logs_the_run(tmp_path: Path, view: list[str]) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "mmo", "ask", "--profile", "demo", *view, demo_task(None).prompt],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # gone before the answer comes
    err = process.stderr.read().decode()
    assert process.wait(30) == 141, err
    assert "Traceback" not in err and "error" not in err
    logged = run_cli_command("logs", "--json")
    assert [run["status"] for run in json.loads(logged.stdout)] == ["ok"]  # paid for, so recorded


def test_an_output_that_becomes_unwritable_during_the_run_is_named_and_nothing_is_paid_twice(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.set_default(Behaviour(latency_s=0.05))
    profile = loop_profile(tmp_path, loopback)
    data = write_rows(tmp_path / "in.jsonl", 30)
    results = tmp_path / "results"
    results.mkdir()
    args = [sys.executable, "-m", "mmo", "batch", str(data), "-P", str(profile), "-o", str(results / "out.jsonl"), "-c", "2", "--no-cache"]
    process = subprocess.Popen(args, preexec_fn=permission_bound(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while loopback.stats().total == 0 and time.monotonic() < deadline:  # checked, and calling
            time.sleep(0.02)
        results.chmod(0o555)
        _, err = process.communicate(timeout=30)
    finally:
        results.chmod(0o755)
    message = " ".join(err.split())
    assert process.returncode == 2, err
    assert f"cannot write the output '{results / 'out.jsonl'}'" in message and "nothing is paid twice" in message
    again = run_cli(str(data), "-P", str(profile), "-o", str(results / "out.jsonl"), "--no-cache")
    assert again.exit_code == 0, again.stderr
    assert len(read_jsonl(results / "out.jsonl")) == 30
    assert set(loopback.calls_by(ROW_PATTERN).values()) == {1}
