"""Before and after in the same run: this checkout against another one (an earlier commit), each
with its own virtualenv, measured in turn so the machine's drift hits both alike::

    git worktree add ../before <commit> && (cd ../before && python3 -m venv .venv && .venv/bin/pip install -q . aiohttp)
    git worktree add ../after HEAD && (cd ../after && python3 -m venv .venv && .venv/bin/pip install -q . aiohttp)
    python -m benchmarks.compare --before ../before --after ../after [--rounds 3] [--batch-rows 20000]

Both sides are plain installs (no test or dev extras: with click installed, httpx imports its own
command line at start-up, which would be measured as mmo's).

Measured, each as its own process with the checkout's own interpreter and code:

* cold start: ``mmo --version`` and ``mmo --help`` (median of ``--cold-runs`` each, the two
  checkouts taking turns run by run);
* ``mmo ask`` end to end, as a user runs it, against the loopback fake provider at 0 ms latency:
  a model the profile prices, and a model priced by the price library (genai-prices), which
  ``mmo ask`` must load;
* the checkout's own ``benchmarks/overhead.py`` (``ask()`` and an open session/engine per call,
  each beside a raw httpx call) and ``benchmarks.batch_throughput`` (``mmo batch`` beside raw
  aiohttp and raw httpx-aiohttp in the same run: rows/s, client CPU-ms per row, and mmo's CPU per
  row over raw aiohttp's).

Prints one table and writes ``benchmarks/results/compare.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.batch_common import write_results
from benchmarks.load_loopback import ServerProcess
from benchmarks.overhead import write_profile

ROOT = Path(__file__).resolve().parents[1]


def python_of(checkout: Path) -> str:
    return str(checkout / ".venv" / "bin" / "python")


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("MMO_") and not k.endswith(("_API_KEY", "_BASE_URL"))}
    return {**keep, "MMO_HOME": str(home), "NO_COLOR": "1", **extra}


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - started) * 1000


def process_commands(python: str, home: Path, url: str) -> dict[str, tuple[list[str], dict[str, str]]]:
    home.mkdir(parents=True)
    profile = write_profile(home, url)  # a model the profile prices, on the loopback server
    library_env = clean_env(home / "lib", OPENAI_BASE_URL=f"{url}/v1", OPENAI_API_KEY="sk-loopback-not-a-key")
    return {
        "mmo --version": ([python, "-m", "mmo", "--version"], clean_env(home)),
        "mmo --help": ([python, "-m", "mmo", "--help"], clean_env(home)),
        "mmo ask (profile price)": ([python, "-m", "mmo", "ask", "-P", str(profile), "--no-cache", "ping"], clean_env(home)),
        "mmo ask (library price)": ([python, "-m", "mmo", "ask", "-m", "openai:gpt-4o-mini", "-p", "max_tokens=16", "--no-cache", "ping"], library_env),
    }


def process_timings(checkouts: dict[str, Path], url: str, runs: int) -> dict[str, dict[str, float]]:
    """Median wall ms of each whole-process command per checkout, after one warm-up (bytecode
    caches, the price memo). The checkouts take turns run by run, so drift hits both alike."""
    out: dict[str, dict[str, float]] = {name: {} for name in checkouts}
    with tempfile.TemporaryDirectory() as work:
        commands = {name: process_commands(python_of(checkout), Path(work) / name, url) for name, checkout in checkouts.items()}
        for metric in commands[next(iter(checkouts))]:
            samples: dict[str, list[float]] = {name: [] for name in checkouts}
            for name in checkouts:
                argv, env = commands[name][metric]
                timed(argv, Path(work), env)  # not in the checkout: ``-m`` would import its source tree
            for _ in range(runs):
                for name in checkouts:
                    argv, env = commands[name][metric]
                    samples[name].append(timed(argv, Path(work), env))
            for name in checkouts:
                out[name][metric] = statistics.median(samples[name])
    return out


def script_results(checkout: Path, args: list[str], result_file: str) -> dict[str, Any]:
    """Run one of the checkout's own benchmark scripts; read the JSON it writes."""
    subprocess.run([python_of(checkout), *args], cwd=checkout, check=True, stdout=subprocess.DEVNULL)
    data: dict[str, Any] = json.loads((checkout / "benchmarks" / "results" / result_file).read_text())
    return data


def overhead(checkout: Path, calls: int) -> dict[str, float]:
    data = script_results(checkout, ["benchmarks/overhead.py", "--calls", str(calls), "--warmup", "50"], "overhead.json")
    return {"ask() adds over raw httpx, new client (ms)": data["ask_overhead_p50_ms"], "open engine adds over raw httpx (ms)": data["session_overhead_p50_ms"]}


def batch(checkout: Path, rows: int) -> dict[str, float]:
    data = script_results(checkout, ["-m", "benchmarks.batch_throughput", "--rows", str(rows), "--repeat", "1"], "batch_throughput.json")
    by_client = {row["client"]: row for row in data["results"]}
    mmo, raw = by_client["mmo batch"], by_client["raw aiohttp"]
    return {
        "batch rows/s": mmo["rows_per_s"],
        "batch client CPU-ms/row": mmo["cpu_ms_per_row"],
        "raw aiohttp CPU-ms/row (same run)": raw["cpu_ms_per_row"],
        "batch CPU / raw aiohttp CPU": mmo["cpu_ms_per_row"] / raw["cpu_ms_per_row"],
    }


def collect(checkouts: dict[str, Path], rounds: int, url: str, args: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in checkouts}
    for _ in range(rounds):
        started = process_timings(checkouts, url, args.cold_runs)
        for name, checkout in checkouts.items():
            for metric, value in {**started[name], **overhead(checkout, args.overhead_calls), **batch(checkout, args.batch_rows)}.items():
                samples[name].setdefault(metric, []).append(value)
            print(f"round done for {name}", file=sys.stderr)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the other checkout (with its own .venv)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cold-runs", type=int, default=10)
    parser.add_argument("--overhead-calls", type=int, default=300)
    parser.add_argument("--batch-rows", type=int, default=20000)
    parser.add_argument("--after", type=Path, default=ROOT, help="this checkout by default; a clean worktree of it compares installs alike")
    args = parser.parse_args()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # both sides run with their bytecode cached, as installed
    checkouts = {"before": args.before.resolve(), "after": args.after.resolve()}
    with ServerProcess(latency_ms=0, lifetime_s=3600) as server:
        samples = collect(checkouts, args.rounds, server.url, args)
    medians = {name: {metric: statistics.median(values) for metric, values in found.items()} for name, found in samples.items()}
    print(f"{'metric':46} {'before':>10} {'after':>10}")
    for metric in medians["after"]:
        print(f"{metric:46} {medians['before'].get(metric, float('nan')):10.3f} {medians['after'][metric]:10.3f}")
    write_results("compare", {"benchmark": "compare", "rounds": args.rounds, "medians": medians, "samples": samples})


if __name__ == "__main__":
    main()
