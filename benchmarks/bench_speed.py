"""How long ``mmo bench`` takes over N tasks x the eight recorded models of the replay data.

    python -m benchmarks.bench_speed [--tasks 10000] [--data builtin:mmlu_pro] [--concurrency 64]

Writes a task set of the first N tasks of the replay data and a profile with the eight replay
models, runs ``mmo bench`` in a fresh ``MMO_HOME`` as a user would (a subprocess, ``--no-log``
off: every row is logged as in a real run), and reports its wall time beside the time it takes
only to read and parse the replay file (which every bench of replay data pays once per process),
and the rows per second. Target: under a minute for 10,000 x 8 on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODELS = (
    "Mistral-7B-Instruct-v0.2",
    "Llama-3.1-8B-Instruct",
    "Mixtral-8x7B-Instruct-v0.1",
    "Llama-3.1-70B-Instruct",
    "gemini-1.5-flash-002",
    "jamba-1.5-large",
    "gemini-1.5-pro-002",
    "gpt-4o-2024-05-13",
)


def profile_text(data: str) -> str:
    models = "\n".join(f"  m{i}: replay:{name}" for i, name in enumerate(MODELS))
    return f'providers:\n  replay:\n    kind: replay\n    path: "{data}"\n    key: none\nmodels:\n{models}\nstrategy: m0\n'


def replay_read_seconds(data: str) -> float:
    from mmo.providers.replay import ReplayFile, read_replay_source

    started = time.perf_counter()
    ReplayFile.parse(data, read_replay_source(data))
    return time.perf_counter() - started


def write_tasks(data: str, count: int, target: Path) -> int:
    import gzip

    from mmo.providers.replay import read_replay_source

    raw = read_replay_source(data)
    lines = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8").splitlines()[:count]
    with target.open("w", encoding="utf-8") as out:
        for line in lines:
            row = json.loads(line)
            out.write(json.dumps({"id": row["id"], "prompt": row["prompt"], "reference": row["reference"], "category": row["category"], "check": "choice"}) + "\n")
    return len(lines)


def run_bench(workdir: Path, tasks: Path, concurrency: int) -> tuple[float, int]:
    environ = {**os.environ, "MMO_HOME": str(workdir / "home"), "COLUMNS": "80"}
    models = ",".join(f"m{i}" for i in range(len(MODELS)))
    command = [sys.executable, "-m", "mmo", "bench", str(tasks), "-P", str(workdir / "replay8.yaml"), "--models", models, "-c", str(concurrency), "--json"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=workdir, env=environ, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"mmo bench exited {done.returncode}: {done.stderr[-2000:]}")
    return wall, done.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--data", default="builtin:mmlu_pro")
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args(argv)
    read_s = replay_read_seconds(args.data)
    with tempfile.TemporaryDirectory(prefix="mmo-bench-speed-") as tmp:
        workdir = Path(tmp)
        (workdir / "replay8.yaml").write_text(profile_text(args.data))
        count = write_tasks(args.data, args.tasks, workdir / "tasks.jsonl")
        wall, _ = run_bench(workdir, workdir / "tasks.jsonl", args.concurrency)
    rows = count * len(MODELS)
    print(f"replay file {args.data}: read and parsed in {read_s:.2f} s")
    print(f"mmo bench: {count:,} tasks x {len(MODELS)} models = {rows:,} answers in {wall:.1f} s ({rows / wall:,.0f} answers/s), -c {args.concurrency}")
    print(f"target: under 60 s: {'met' if wall < 60 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
