"""Batch memory: peak RSS of ``mmo batch`` over 10,000, 50,000 and 100,000 rows, to show it stays
flat as the input grows (the input is streamed, finished rows go to SQLite, the output is written
from the state).

    python -m benchmarks.batch_memory [--sizes 10000 50000 100000] [--concurrency 256] [--latency-ms 50]

Each size runs in a fresh child process (peak RSS is a high-water mark of a whole process) against
the loopback fake provider in its own process. The child generates its input into a temporary
file, records its RSS after importing mmo (the baseline), runs the real use case
(``mmo.app.batch.run.run_batch``), and reports its peak RSS (``VmHWM`` from ``/proc/self/status``,
or ``ru_maxrss``). Writes ``benchmarks/results/batch_memory.json``. Target (issue 5): 100,000 rows
with <= 150 MiB peak RSS, flat as rows grow.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.batch_common import ROOT, machine, print_table, run_mmo_batch, write_input, write_profile, write_results
from benchmarks.load_loopback import ServerProcess

TARGET_PEAK_MIB = 150.0
MIB = 1024 * 1024


def peak_rss_mib() -> float:
    """This process's peak resident set: ``VmHWM`` (Linux), else ``ru_maxrss``."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / MIB
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / MIB


def current_rss_mib() -> float:
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / MIB
    return peak_rss_mib()


def child(rows: int, concurrency: int, url: str) -> dict[str, Any]:
    """One measurement, in this (fresh) process."""
    import mmo.app.batch.run  # noqa: F401 - the baseline includes mmo's own modules

    with tempfile.TemporaryDirectory(prefix="mmo-batch-mem-") as work:
        workdir = Path(work)
        input_path = write_input(workdir / "rows.jsonl", rows)
        baseline = current_rss_mib()
        run = run_mmo_batch(input_path, write_profile(workdir, url), workdir / "home", concurrency)
        return {
            "rows": rows,
            "input_mib": round(input_path.stat().st_size / MIB, 2),
            "baseline_rss_mib": round(baseline, 1),
            "peak_rss_mib": round(peak_rss_mib(), 1),
            "run": run.to_dict(),
        }


def run_child(rows: int, concurrency: int, url: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "benchmarks.batch_memory", "--child", str(rows), "--concurrency", str(concurrency), "--url", url]
    finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60 + rows / 20)
    if finished.returncode != 0:
        raise SystemExit(f"child for {rows} rows failed:\n{finished.stderr}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.batch_memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 100_000])
    parser.add_argument("--concurrency", "-c", type=int, default=256)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child, args.concurrency, args.url)))
        return 0
    results = []
    lifetime = 120 + sum(args.sizes) / 50
    with ServerProcess(args.latency_ms, lifetime) as server:
        for rows in args.sizes:
            results.append(run_child(rows, args.concurrency, server.url))
            print(f"{rows:,} rows: peak RSS {results[-1]['peak_rss_mib']:.1f} MiB", flush=True)
    print()
    print(f"-c {args.concurrency}, loopback latency {args.latency_ms:g} ms; each size in a fresh process")
    print_table(
        ["rows", "input MiB", "RSS after import MiB", "peak RSS MiB", "rows/s", "errors"],
        [[r["rows"], r["input_mib"], r["baseline_rss_mib"], r["peak_rss_mib"], r["run"]["rows_per_s"], r["run"]["errors"]] for r in results],
    )
    peaks = [r["peak_rss_mib"] for r in results]
    largest = results[-1]
    growth = peaks[-1] - peaks[0]
    print(f"\npeak grows {growth:+.1f} MiB from {results[0]['rows']:,} to {largest['rows']:,} rows; "
          f"target <= {TARGET_PEAK_MIB:g} MiB ({'met' if largest['peak_rss_mib'] <= TARGET_PEAK_MIB else 'NOT met'})")
    payload_machine = machine()
    path = write_results("batch_memory", {
        "benchmark": "batch_memory",
        "machine": payload_machine,
        "concurrency": args.concurrency,
        "latency_ms": args.latency_ms,
        "target_peak_mib": TARGET_PEAK_MIB,
        "results": results,
    })
    print(f"machine reference: {payload_machine['reference_cpu_ms']} CPU-ms for a fixed workload (lower is a faster machine)")
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
