"""Batch from cache: 10,000 rows all answered by the response cache.

    python -m benchmarks.batch_cache [--rows 10000] [--concurrency 256] [--latency-ms 50]

A first ``mmo batch`` run fills the cache from the loopback fake provider (in its own process);
then runs over the same input, each under a new ``--run-id`` (so no row is skipped as already
finished), must answer every row from the cache; the server's request count confirms they sent
nothing. A run from cache lasts only a second or two, so it is repeated (``--repeat``) and the
median counts. All are the real use case (``mmo.app.batch.run.run_batch``). Writes
``benchmarks/results/batch_cache.json``. Target (issue 5): >= 5,000 rows/s from cache.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
from pathlib import Path

from benchmarks.batch_common import machine, print_table, run_mmo_batch, write_input, write_profile, write_results
from benchmarks.batch_throughput import warm_up
from benchmarks.load_loopback import ServerProcess

TARGET_ROWS_PER_S = 5000.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.batch_cache", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--concurrency", "-c", type=int, default=256)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--repeat", type=int, default=3, help="runs from cache (the median counts)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    warm_up()
    with ServerProcess(args.latency_ms, 120 + args.rows / 50) as server, tempfile.TemporaryDirectory(prefix="mmo-batch-cache-") as work:
        workdir = Path(work)
        profile = write_profile(workdir, server.url)
        input_path = write_input(workdir / "rows.jsonl", args.rows)
        home = workdir / "home"
        fill = run_mmo_batch(input_path, profile, home, args.concurrency, run_id="fill")
        print(f"fill: {fill.rows_per_s:,.0f} rows/s", flush=True)
        before = server.stats()["total"]
        cached = []
        for number in range(1, args.repeat + 1):
            gc.collect()
            cached.append(run_mmo_batch(input_path, profile, home, args.concurrency, run_id=f"from-cache-{number}"))
            print(f"from cache ({number}): {cached[-1].rows_per_s:,.0f} rows/s", flush=True)
        sent = server.stats()["total"] - before  # control requests (stats) are not counted
    print()
    print(f"{args.rows:,} rows at -c {args.concurrency}; each run from cache under a new run id")
    rows = [["fill (loopback)", fill.rows, fill.cache_hits, fill.errors, fill.wall_s, round(fill.rows_per_s, 1), round(fill.cpu_ms_per_row, 3)]]
    rows += [[f"from cache ({n})", r.rows, r.cache_hits, r.errors, r.wall_s, round(r.rows_per_s, 1), round(r.cpu_ms_per_row, 3)] for n, r in enumerate(cached, 1)]
    print_table(["run", "rows", "cache hits", "errors", "wall s", "rows/s", "CPU-ms/row"], rows)
    middle = sorted(cached, key=lambda r: r.rows_per_s)[len(cached) // 2]
    every_hit = all(r.cache_hits == r.rows == args.rows for r in cached) and sent == 0
    met = middle.rows_per_s >= TARGET_ROWS_PER_S and every_hit
    print(f"\nmedian from cache: {middle.rows_per_s:,.0f} rows/s at {middle.cpu_ms_per_row:.3f} CPU-ms/row; requests sent by the "
          f"runs from cache: {sent}; target >= {TARGET_ROWS_PER_S:,.0f} rows/s, every row from cache ({'met' if met else 'NOT met'})")
    payload_machine = machine()
    path = write_results("batch_cache", {
        "benchmark": "batch_cache",
        "machine": payload_machine,
        "rows": args.rows,
        "concurrency": args.concurrency,
        "latency_ms": args.latency_ms,
        "target_rows_per_s": TARGET_ROWS_PER_S,
        "fill": fill.to_dict(),
        "from_cache": [r.to_dict() for r in cached],
        "from_cache_median_rows_per_s": round(middle.rows_per_s, 1),
        "requests_sent_from_cache": sent,
    })
    print(f"machine reference: {payload_machine['reference_cpu_ms']} CPU-ms for a fixed workload (lower is a faster machine)")
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
