"""Load test of the loopback fake provider itself, to show it is not the bottleneck of the batch
benchmark (target: 1,500 rows/s at -c 256 and 50 ms latency).

The server runs in its own process (``python -m tests.support.loopback``), as it would beside a
batch run; each client (raw httpx, raw aiohttp, httpx over the httpx-aiohttp transport, those
that are importable) sends N non-streaming OpenAI-shaped requests at each concurrency. It prints
requests/s, latency percentiles and CPU-ms per request on both sides (client from
``process_time``, server from its ``/_loopback/stats``), and writes
``benchmarks/results/loopback_load.json``::

    python -m benchmarks.load_loopback --requests 5000 --concurrency 64 256 --latency-ms 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "loopback_load.json"
BODY = {"model": "gpt-load", "messages": [{"role": "user", "content": "row-0: say something short"}]}

Send = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class RunResult:
    client: str
    concurrency: int
    requests: int
    errors: int
    wall_s: float
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    client_cpu_ms_per_request: float
    server_cpu_ms_per_request: float
    server_counted: int
    stopped_early: bool


# --- the server process ---------------------------------------------------------------------


class ServerProcess:
    """``python -m tests.support.loopback`` on a free port, stopped on exit."""

    def __init__(self, latency_ms: float, lifetime_s: float, extra_args: Sequence[str] = ()) -> None:
        self._args = [sys.executable, "-m", "tests.support.loopback", "--port", "0",
                      "--latency-ms", str(latency_ms), "--lifetime-s", str(lifetime_s), *extra_args]
        self.url = ""

    def __enter__(self) -> ServerProcess:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        self._process = subprocess.Popen(self._args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        if not line.startswith("listening on "):
            self._process.kill()
            raise RuntimeError(f"loopback server did not start: {line!r}")
        self.url = line.removeprefix("listening on ")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()

    def stats(self) -> dict[str, Any]:
        import httpx

        return httpx.get(f"{self.url}/_loopback/stats", timeout=10).json()


# --- clients --------------------------------------------------------------------------------


async def _drive(send: Send, requests: int, concurrency: int, max_s: float) -> tuple[list[float], int, bool]:
    """Send ``requests`` requests over ``concurrency`` workers; latencies (s), errors, stopped early."""
    latencies: list[float] = []
    errors = 0
    issued = 0
    deadline = time.perf_counter() + max_s

    async def worker() -> None:
        nonlocal issued, errors
        while issued < requests and time.perf_counter() < deadline:
            issued += 1
            started = time.perf_counter()
            try:
                await send()
            except Exception:
                errors += 1
                continue
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors, issued < requests


async def _with_httpx(url: str, concurrency: int, body: Callable[[Send], Awaitable[Any]]) -> Any:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        async def send() -> None:
            response = await client.post(url, json=BODY)
            response.raise_for_status()
            response.json()

        return await body(send)


async def _with_httpx_aiohttp(url: str, concurrency: int, body: Callable[[Send], Awaitable[Any]]) -> Any:
    import httpx
    from httpx_aiohttp import HttpxAiohttpClient

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with HttpxAiohttpClient(limits=limits, timeout=30) as client:
        async def send() -> None:
            response = await client.post(url, json=BODY)
            response.raise_for_status()
            response.json()

        return await body(send)


async def _with_aiohttp(url: str, concurrency: int, body: Callable[[Send], Awaitable[Any]]) -> Any:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        async def send() -> None:
            async with session.post(url, json=BODY) as response:
                response.raise_for_status()
                await response.json()

        return await body(send)


CLIENTS = {"httpx": (_with_httpx, "httpx"), "aiohttp": (_with_aiohttp, "aiohttp"),
           "httpx-aiohttp": (_with_httpx_aiohttp, "httpx_aiohttp")}


def available_clients(names: list[str]) -> list[str]:
    import importlib.util

    return [name for name in names if importlib.util.find_spec(CLIENTS[name][1]) is not None]


# --- one measurement ------------------------------------------------------------------------


def measure(server: ServerProcess, client: str, concurrency: int, requests: int, max_s: float) -> RunResult:
    """Warm the client's connections up, then send ``requests`` requests and count both sides."""
    url = f"{server.url}/v1/chat/completions"
    with_client = CLIENTS[client][0]
    outcome: dict[str, Any] = {}

    async def body(send: Send) -> None:
        await _drive(send, concurrency, concurrency, max_s)  # open the connections first
        before, cpu_before, started = server.stats(), time.process_time(), time.perf_counter()
        outcome["run"] = await _drive(send, requests, concurrency, max_s)
        outcome["wall"] = time.perf_counter() - started
        outcome["cpu"] = time.process_time() - cpu_before
        outcome["before"] = before

    asyncio.run(with_client(url, concurrency, body))
    after = server.stats()
    latencies, errors, stopped_early = outcome["run"]
    done = len(latencies)
    served = after["total"] - outcome["before"]["total"] - 1  # less our own stats call
    server_cpu = after["cpu_s"] - outcome["before"]["cpu_s"]
    ordered = sorted(latencies) or [0.0]
    return RunResult(
        client=client,
        concurrency=concurrency,
        requests=done,
        errors=errors,
        wall_s=round(outcome["wall"], 3),
        requests_per_s=round(done / outcome["wall"], 1) if outcome["wall"] else 0.0,
        p50_ms=round(statistics.median(ordered) * 1000, 2),
        p99_ms=round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
        client_cpu_ms_per_request=round(outcome["cpu"] * 1000 / max(done, 1), 3),
        server_cpu_ms_per_request=round(server_cpu * 1000 / max(served, 1), 3),
        server_counted=max(served, 0),
        stopped_early=stopped_early,
    )


def print_table(results: list[RunResult]) -> None:
    header = (f"{'client':<14}{'c':>5}{'requests':>10}{'errors':>8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
              f"{'client CPU-ms/req':>19}{'server CPU-ms/req':>19}")
    print(header)
    print("-" * len(header))
    for r in results:
        note = "  (stopped at --max-seconds)" if r.stopped_early else ""
        print(f"{r.client:<14}{r.concurrency:>5}{r.requests:>10}{r.errors:>8}{r.requests_per_s:>10.1f}"
              f"{r.p50_ms:>9.1f}{r.p99_ms:>9.1f}{r.client_cpu_ms_per_request:>19.3f}"
              f"{r.server_cpu_ms_per_request:>19.3f}{note}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load_loopback", description=__doc__.split("::")[0])
    parser.add_argument("--requests", type=int, default=5000, help="requests per client and concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--clients", nargs="+", choices=list(CLIENTS), default=list(CLIENTS))
    parser.add_argument("--max-seconds", type=float, default=90.0, help="cap on one measurement's duration")
    parser.add_argument("--output", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    clients = available_clients(args.clients)
    skipped = sorted(set(args.clients) - set(clients))
    if skipped:
        print(f"not installed, skipped: {', '.join(skipped)}")
    runs = len(clients) * len(args.concurrency)
    lifetime = runs * (2 * args.max_seconds + 10) + 30
    results: list[RunResult] = []
    with ServerProcess(args.latency_ms, lifetime) as server:
        for client in clients:
            for concurrency in args.concurrency:
                result = measure(server, client, concurrency, args.requests, args.max_seconds)
                results.append(result)
                print(f"{client} c={concurrency}: {result.requests_per_s:.0f} req/s", flush=True)
    print()
    print_table(results)
    report = {
        "benchmark": "loopback_load",
        "python": platform.python_version(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "latency_ms": args.latency_ms,
        "requests_per_run": args.requests,
        "results": [asdict(r) for r in results],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
