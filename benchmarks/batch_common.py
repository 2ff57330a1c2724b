"""What the batch benchmarks share: a priced profile pointing at the loopback fake provider,
generated input, one real ``mmo batch`` run in this process (the use case ``run_batch``, exactly
what the command runs, without the terminal), percentiles, and an atomic results file.

The loopback server itself runs in its own process (``benchmarks.load_loopback.ServerProcess``),
so its CPU never counts against the client's.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
MODEL = "bench-model"
MAX_TOKENS = 16


def write_profile(directory: Path, url: str) -> Path:
    """One priced model on the loopback server, no key; every row costs a known amount."""
    path = directory / "bench.yaml"
    path.write_text(
        "providers:\n"
        f"  loop: {{kind: openai, base_url: '{url}/v1', key: none}}\n"
        "models:\n"
        f"  m: {{model: 'loop:{MODEL}', price: {{input: 1, output: 2}}}}\n"
        f"defaults: {{max_tokens: {MAX_TOKENS}}}\n"
        "strategy: m\n"
    )
    return path


def prompt_of(row: int) -> str:
    return f"row-{row}: say something short"


def write_input(path: Path, rows: int) -> Path:
    """``rows`` JSONL rows, written as a stream (100,000 rows never sit in memory)."""
    with path.open("w", encoding="utf-8") as out:
        for row in range(rows):
            out.write(json.dumps({"id": f"row-{row}", "prompt": prompt_of(row)}) + "\n")
    return path


def request_body(row: int) -> dict[str, Any]:
    """What the OpenAI adapter sends for a row of ``write_input`` under ``write_profile``."""
    return {"model": MODEL, "messages": [{"role": "user", "content": prompt_of(row)}], "max_tokens": MAX_TOKENS}


def clean_environ(home: Path) -> dict[str, str]:
    """The process environment for a run: its own MMO_HOME, and no proxy (the server is local)."""
    environ = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy") and not k.startswith("MMO_")}
    environ["MMO_HOME"] = str(home)
    return environ


@dataclass(frozen=True)
class BatchRun:
    """One ``mmo batch`` invocation, measured from the call of ``run_batch`` to its return
    (input hashing, session, rows, output file, summary and run-log record included)."""

    rows: int
    done: int
    errors: int
    cache_hits: int
    wall_s: float
    cpu_s: float
    p50_ms: float
    p95_ms: float
    stopped: str | None

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall_s if self.wall_s else 0.0

    @property
    def cpu_ms_per_row(self) -> float:
        return self.cpu_s * 1000.0 / max(self.rows, 1)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows_per_s": round(self.rows_per_s, 1), "cpu_ms_per_row": round(self.cpu_ms_per_row, 3)}


def run_mmo_batch(input_path: Path, profile: Path, home: Path, concurrency: int, *, run_id: str | None = None) -> BatchRun:
    """Run ``mmo batch INPUT --profile PROFILE -c CONCURRENCY [--run-id RUN_ID]`` in this process."""
    from mmo.app.batch.job import BatchJob
    from mmo.app.batch.run import run_batch
    from mmo.app.settings import AppEnv, ProfileChoice, RunSettings
    from mmo.core.paths import MmoPaths

    environ = clean_environ(home)
    env = AppEnv(environ, input_path.parent, MmoPaths.from_env(environ))
    job = BatchJob(input=str(input_path), settings=RunSettings(choice=ProfileChoice(str(profile))), concurrency=concurrency, run_id=run_id)
    wall, cpu = time.perf_counter(), time.process_time()
    report = asyncio.run(run_batch(job, env))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    progress = report.progress
    latencies = sorted(_latencies(report.output)) if report.output is not None else []
    return BatchRun(
        rows=progress.finished_now,
        done=progress.done,
        errors=progress.errors,
        cache_hits=progress.cache_hits,
        wall_s=round(wall, 3),
        cpu_s=round(cpu, 3),
        p50_ms=round(percentile(latencies, 0.50), 2),
        p95_ms=round(percentile(latencies, 0.95), 2),
        stopped=report.stop.reason if report.stop is not None else None,
    )


def _latencies(output: Path) -> list[float]:
    with output.open(encoding="utf-8") as lines:
        return [json.loads(line)["latency_ms"] for line in lines if line.strip()]


def percentile(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile of sorted values (nearest rank); 0 for none."""
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(), "reference_cpu_ms": reference_cpu_ms()}


def reference_cpu_ms() -> float:
    """CPU time of a fixed pure-Python workload (20,000 JSON round trips; 250-290 ms here, late 2026).
    On a shared machine the speed of the whole box drifts by tens of percent over an hour:
    compare this figure across runs to tell a slower machine from a slower mmo."""
    payload = {"model": MODEL, "messages": [{"role": "user", "content": prompt_of(n)} for n in range(8)], "max_tokens": MAX_TOKENS}
    started = time.process_time()
    for _ in range(20_000):
        json.loads(json.dumps(payload))
    return round((time.process_time() - started) * 1000, 1)


def write_results(name: str, payload: Mapping[str, Any], directory: Path = RESULTS) -> Path:
    """``benchmarks/results/NAME.json``, written whole to a temporary file and renamed over the
    old one, so a reader never sees half a file."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{name}.json"
    temporary = target.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, target)
    return target


def print_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(h) for h in header]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for number, row in enumerate(cells):
        print("  ".join(value.rjust(width) if i else value.ljust(width) for i, (value, width) in enumerate(zip(row, widths, strict=True))))
        if number == 0:
            print("  ".join("-" * width for width in widths))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)
