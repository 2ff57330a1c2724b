"""Batch throughput: ``mmo batch`` at ``-c 256`` against the loopback fake provider at 50 ms
latency, with raw clients making the same requests at the same concurrency in the same run.

    python -m benchmarks.batch_throughput [--rows 20000] [--concurrency 256] [--latency-ms 50] [--repeat 3]

The server runs in its own process, and each measurement in a fresh one of its own, in turn:

* ``raw aiohttp``: one ``aiohttp.ClientSession``, N POSTs of the body the OpenAI adapter sends;
* ``raw httpx-aiohttp``: the same through ``httpx.AsyncClient`` over the httpx-aiohttp transport;
* ``mmo batch``: the real use case (``mmo.app.batch.run.run_batch``) on an N-row JSONL file, with
  a fresh ``MMO_HOME``: transport, cache lookups and writes, trace, state commits, output file,
  summary and run-log record, from the call to its return.

With ``--repeat N`` the three run N rounds in turn and each client's median round (by rows/s) is
shown: on a shared 2-core machine single runs vary by +-20 %. Reported: rows (requests) per
second, client CPU-ms per row (``time.process_time`` of this process over the measured span),
p50 / p95 latency (mmo: each row's ``latency_ms`` in the output, the time its strategy tree ran),
and the server's own CPU per request from its stats. Writes
``benchmarks/results/batch_throughput.json``. Targets (issue 5): >= 1,500 rows/s and <= 0.6
CPU-ms per row for ``mmo batch``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

from benchmarks.batch_common import (
    ROOT,
    machine,
    percentile,
    print_table,
    request_body,
    run_mmo_batch,
    write_input,
    write_profile,
    write_results,
)
from benchmarks.load_loopback import ServerProcess

TARGET_ROWS_PER_S = 1500.0
TARGET_CPU_MS_PER_ROW = 0.6

Send = Callable[[int], Awaitable[None]]


@dataclass(frozen=True)
class Measured:
    client: str
    rows: int
    errors: int
    wall_s: float
    rows_per_s: float
    cpu_ms_per_row: float
    p50_ms: float
    p95_ms: float
    server_cpu_ms_per_request: float


async def drive(send: Send, rows: int, concurrency: int) -> tuple[list[float], int]:
    """``rows`` requests over ``concurrency`` workers: latencies (ms) and errors."""
    latencies: list[float] = []
    errors = 0
    numbers = iter(range(rows))

    async def worker() -> None:
        nonlocal errors
        for row in numbers:
            started = time.perf_counter()
            try:
                await send(row)
            except Exception:
                errors += 1
                continue
            latencies.append((time.perf_counter() - started) * 1000.0)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


async def raw_aiohttp(url: str, rows: int, concurrency: int) -> tuple[list[float], int]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def send(row: int) -> None:
            async with session.post(url, json=request_body(row)) as response:
                response.raise_for_status()
                (await response.json())["choices"][0]["message"]["content"]

        return await drive(send, rows, concurrency)


async def raw_httpx_aiohttp(url: str, rows: int, concurrency: int) -> tuple[list[float], int]:
    import httpx
    from httpx_aiohttp import AiohttpTransport

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(transport=AiohttpTransport(limits=limits), timeout=60) as client:

        async def send(row: int) -> None:
            response = await client.post(url, json=request_body(row))
            response.raise_for_status()
            response.json()["choices"][0]["message"]["content"]

        return await drive(send, rows, concurrency)


RAW_CLIENTS = {"raw aiohttp": raw_aiohttp, "raw httpx-aiohttp": raw_httpx_aiohttp}
MMO = "mmo batch"
CLIENTS = (*RAW_CLIENTS, MMO)


def server_stats(url: str) -> dict[str, Any]:
    import httpx

    return httpx.get(f"{url}/_loopback/stats", timeout=10, trust_env=False).json()


def measure_raw(url: str, client: str, rows: int, concurrency: int) -> Measured:
    before = server_stats(url)
    wall, cpu = time.perf_counter(), time.process_time()
    latencies, errors = asyncio.run(RAW_CLIENTS[client](f"{url}/v1/chat/completions", rows, concurrency))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    done = len(latencies)
    latencies.sort()
    return Measured(client, done, errors, round(wall, 3), round(done / wall, 1), round(cpu * 1000 / max(done, 1), 3),
                    round(percentile(latencies, 0.5), 2), round(percentile(latencies, 0.95), 2), server_cpu(url, before))


def measure_mmo(url: str, rows: int, concurrency: int, workdir: Path) -> tuple[Measured, dict[str, Any]]:
    profile = write_profile(workdir, url)
    input_path = write_input(workdir / "rows.jsonl", rows)
    before = server_stats(url)
    run = run_mmo_batch(input_path, profile, workdir / "home", concurrency)
    measured = Measured(MMO, run.rows, run.errors, run.wall_s, round(run.rows_per_s, 1), round(run.cpu_ms_per_row, 3),
                        run.p50_ms, run.p95_ms, server_cpu(url, before))
    return measured, run.to_dict()


def server_cpu(url: str, before: dict[str, Any]) -> float:
    after = server_stats(url)
    served = after["total"] - before["total"]  # control requests (stats) are not counted
    return round((after["cpu_s"] - before["cpu_s"]) * 1000 / max(served, 1), 3)


def warm_up() -> None:
    """Import what every client needs before any clock starts (the mmo run still pays its own
    lazy import of sqlite3, as the command would)."""
    import aiohttp  # noqa: F401
    import httpx  # noqa: F401
    import httpx_aiohttp  # noqa: F401

    import mmo.app.batch.run  # noqa: F401


def child(client: str, url: str, rows: int, concurrency: int) -> dict[str, Any]:
    """One measurement in this (fresh) process: no client inherits another's heap or imports."""
    warm_up()
    if client != MMO:
        return {"measured": asdict(measure_raw(url, client, rows, concurrency)), "detail": None}
    with tempfile.TemporaryDirectory(prefix="mmo-batch-bench-") as work:
        measured, detail = measure_mmo(url, rows, concurrency, Path(work))
    return {"measured": asdict(measured), "detail": detail}


def run_child(client: str, url: str, rows: int, concurrency: int) -> tuple[Measured, dict[str, Any] | None]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "benchmarks.batch_throughput", "--child", client, "--url", url,
               "--rows", str(rows), "--concurrency", str(concurrency)]
    finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60 + rows / 20)
    if finished.returncode != 0:
        raise SystemExit(f"{client} failed:\n{finished.stderr}")
    result = json.loads(finished.stdout.strip().splitlines()[-1])
    return Measured(**result["measured"]), result["detail"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.batch_throughput", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--concurrency", "-c", type=int, default=256)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--skip-raw", action="store_true", help="measure mmo batch only")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of every client; the median round per client is shown")
    parser.add_argument("--child", choices=CLIENTS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child, args.url, args.rows, args.concurrency)))
        return 0
    clients = [MMO] if args.skip_raw else list(CLIENTS)
    rounds: list[list[Measured]] = []
    mmo_details: list[dict[str, Any] | None] = []
    lifetime = 120 + args.repeat * len(clients) * args.rows / 150  # bounded even if every client crawls
    with ServerProcess(args.latency_ms, lifetime) as server:
        for number in range(1, args.repeat + 1):
            measured = [run_child(client, server.url, args.rows, args.concurrency) for client in clients]
            rounds.append([m for m, _ in measured])
            mmo_details.append(measured[-1][1])
            print(f"round {number}: " + ", ".join(f"{r.client} {r.rows_per_s:,.0f} rows/s" for r in rounds[-1]), flush=True)
    medians = [median_run([round_[i] for round_ in rounds]) for i in range(len(clients))]
    print()
    print(f"{args.rows:,} rows at -c {args.concurrency}, loopback latency {args.latency_ms:g} ms; each client in a fresh process"
          + (f"; the median of {args.repeat} rounds (by rows/s) per client" if args.repeat > 1 else ""))
    print_table(
        ["client", "rows", "errors", "wall s", "rows/s", "client CPU-ms/row", "p50 ms", "p95 ms", "server CPU-ms/req"],
        [[r.client, r.rows, r.errors, r.wall_s, r.rows_per_s, r.cpu_ms_per_row, r.p50_ms, r.p95_ms, r.server_cpu_ms_per_request] for r in medians],
    )
    mmo = medians[-1]
    print(f"\ntargets: >= {TARGET_ROWS_PER_S:,.0f} rows/s ({'met' if mmo.rows_per_s >= TARGET_ROWS_PER_S else 'NOT met'}), "
          f"<= {TARGET_CPU_MS_PER_ROW} CPU-ms/row ({'met' if mmo.cpu_ms_per_row <= TARGET_CPU_MS_PER_ROW else 'NOT met'})")
    payload_machine = machine()
    path = write_results("batch_throughput", {
        "benchmark": "batch_throughput",
        "machine": payload_machine,
        "rows": args.rows,
        "concurrency": args.concurrency,
        "latency_ms": args.latency_ms,
        "targets": {"rows_per_s": TARGET_ROWS_PER_S, "cpu_ms_per_row": TARGET_CPU_MS_PER_ROW},
        "results": [asdict(r) for r in medians],
        "rounds": [[asdict(r) for r in round_] for round_ in rounds],
        "mmo_batch": mmo_details,
    })
    print(f"machine reference: {payload_machine['reference_cpu_ms']} CPU-ms for a fixed workload (lower is a faster machine)")
    print(f"written to {path}")
    return 0


def median_run(runs: list[Measured]) -> Measured:
    return sorted(runs, key=lambda r: r.rows_per_s)[len(runs) // 2]


if __name__ == "__main__":
    raise SystemExit(main())
