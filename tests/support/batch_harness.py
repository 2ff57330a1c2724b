"""Shared pieces of the batch tests: a profile pointing at the loopback server, input files,
running ``mmo batch`` in-process or as a subprocess, and reading what it left behind."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from mmo.cli.main import app
from tests.support.loopback import LoopbackServer

MODEL = "fake-model"
ROW_PATTERN = r"row-(\d+)\b"


def loop_profile(
    directory: Path,
    server: LoopbackServer,
    *,
    price: tuple[float, float] | None = (1.0, 2.0),
    timeout_s: float = 2.0,
    max_tokens: int = 16,
    attempts: int = 1,
    max_retry_after_s: float = 1.0,
) -> Path:
    """A one-model profile on the loopback server (OpenAI shape), as a fallback so a retry
    policy applies when ``attempts`` > 1."""
    priced = f", price: {{input: {price[0]}, output: {price[1]}}}" if price is not None else ""
    path = directory / "loop.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            name: loop
            providers:
              loop: {{kind: openai, base_url: "{server.openai_base_url}", key: none}}
            models:
              m: {{model: "loop:{MODEL}"{priced}}}
            defaults: {{timeout_s: {timeout_s}, max_tokens: {max_tokens}}}
            limits:
              m: {{breaker: {{failures: 1000}}}}
            strategy:
              fallback: [m]
              retry: {{attempts: {attempts}, backoff_s: 0.01, max_backoff_s: 0.05, max_retry_after_s: {max_retry_after_s}}}
            """
        )
    )
    return path


def write_rows(path: Path, count: int, *, extra_lines: dict[int, str] | None = None) -> Path:
    """``count`` rows ``{"id": "r<i>", "prompt": "row-<i> ..."}``; ``extra_lines`` inserts raw
    lines before the row of that number (0-based), e.g. malformed ones."""
    extra_lines = extra_lines or {}
    with path.open("w", encoding="utf-8") as handle:
        for i in range(count):
            if i in extra_lines:
                handle.write(extra_lines[i] + "\n")
            handle.write(json.dumps({"id": f"r{i}", "prompt": f"row-{i} what is {i} + {i}?"}) + "\n")
    return path


def run_cli(*args: str, input: str | bytes | None = None) -> Any:
    return CliRunner().invoke(app, ["batch", *args], input=input)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def batches_dir() -> Path:
    return Path(os.environ["MMO_HOME"]) / "data" / "batches"


def state_files() -> list[Path]:
    return sorted(batches_dir().glob("*/state.sqlite3"))


def committed_rows(state_file: Path, statuses: tuple[str, ...] = ("done",)) -> dict[int, str]:
    """Line number -> status of rows committed with one of ``statuses`` (what a reader of the
    state sees: what survived)."""
    if not state_file.exists():
        return {}
    db = sqlite3.connect(f"file:{state_file}?mode=ro", uri=True)
    try:
        marks = ", ".join("?" * len(statuses))
        return dict(db.execute(f"SELECT idx, status FROM rows WHERE status IN ({marks})", statuses).fetchall())
    except sqlite3.OperationalError:  # killed before the schema existed
        return {}
    finally:
        db.close()


def spawn_batch(*args: str, cwd: Path, stdin: int | None = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    """``python -m mmo batch ARGS`` in its own process (the environment is the test's: its own
    MMO_HOME, no keys)."""
    return subprocess.Popen(
        [sys.executable, "-m", "mmo", "batch", *args],
        cwd=cwd,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
