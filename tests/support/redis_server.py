"""A real Redis for the shared-state tests: the distribution's ``redis-server`` on a free
127.0.0.1 port, no persistence, its files in a temporary directory, stopped (by its PID) after
the test. Without ``redis-server`` the tests that need it are skipped, saying how to install it;
under ``CI`` a missing server fails them instead (CI installs it: ``.ci/run``)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

INSTALL = "install redis-server (apt-get install redis-server; brew install redis) to run the shared-state tests"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    """A started server's URL (``redis://127.0.0.1:PORT/0``)."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail(f"redis-server is missing under CI: {INSTALL}")
        pytest.skip(INSTALL)
    port = _free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(directory)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):  # bounded: at most ~10 s
            if _answers(port):
                break
            if process.poll() is not None:
                pytest.fail(f"redis-server exited with {process.returncode} before answering")
            time.sleep(0.1)
        else:
            pytest.fail("redis-server did not answer within 10 s")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
