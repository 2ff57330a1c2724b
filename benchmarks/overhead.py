"""What mmo adds to one call, inside one process (start-up excluded), against a raw httpx call to
the same loopback server.

    python benchmarks/overhead.py [--calls 1000] [--warmup 100]

The loopback server runs in a separate process (so its CPU does not count against the client),
answering instantly in OpenAI's shape. Four ways of making the same call, in two pairs whose calls
alternate (the overhead is the median of the per-pair differences):

* ``raw httpx, new client``: what a one-shot script does: a new AsyncClient (and connection) per call;
* ``mmo ask()``: the whole ``ask`` use case per call: profile load, tree, new client, call,
  pricing, trace, run-log write; compared with the line above;
* ``raw httpx, shared client``: one AsyncClient, keep-alive;
* ``mmo execute()``: one open session (shared client), one call through the strategy tree with
  pricing and trace, plus the run-log write; compared with the line above.

Prints a table and writes ``benchmarks/results/overhead.json``. Target (issue 3): the ask use
case adds <= 2 ms at p50 over a raw httpx call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Awaitable, Callable

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
TARGET_MS = 2.0
BODY = {"model": "bench-model", "messages": [{"role": "user", "content": "ping"}], "max_tokens": 16}


def start_server() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.loopback", "--port", "0", "--lifetime-s", "600"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("listening on "):
        proc.kill()
        raise SystemExit(f"loopback server did not start: {line!r}")
    return proc, line.split()[-1].strip()


async def paired(labels: tuple[str, str], calls: int, warmup: int, base: Callable[[], Awaitable[None]], mmo: Callable[[], Awaitable[None]]) -> list[dict[str, float | str]]:
    """The baseline and mmo's variant, alternating call by call, so drift in the machine's load
    (and the ~30 ms, noisy cost of a new client's TLS context) hits both alike. The overhead is
    the median of the per-pair differences."""
    for _ in range(warmup):
        await base()
        await mmo()
    samples: dict[str, list[float]] = {labels[0]: [], labels[1]: []}
    cpu = {labels[0]: 0.0, labels[1]: 0.0}
    for _ in range(calls):
        for label, one in zip(labels, (base, mmo), strict=True):
            start, start_cpu = time.perf_counter(), time.process_time()
            await one()
            cpu[label] += time.process_time() - start_cpu
            samples[label].append((time.perf_counter() - start) * 1000)
    diffs = sorted(b - a for a, b in zip(samples[labels[0]], samples[labels[1]], strict=True))
    rows: list[dict[str, float | str]] = []
    for label in labels:
        ordered = sorted(samples[label])
        rows.append({
            "name": label,
            "p50_ms": round(statistics.median(ordered), 3),
            "p90_ms": round(ordered[int(len(ordered) * 0.9)], 3),
            "cpu_ms_per_call": round(cpu[label] * 1000 / calls, 3),
        })
    rows[1]["added_p50_ms"] = round(statistics.median(diffs), 3)
    rows[1]["added_cpu_ms"] = round(rows[1]["cpu_ms_per_call"] - rows[0]["cpu_ms_per_call"], 3)  # type: ignore[operator]
    return rows


def write_profile(directory: Path, url: str) -> Path:
    profile = directory / "bench.yaml"
    profile.write_text(
        "providers:\n"
        f"  loop: {{kind: openai, base_url: '{url}/v1', key: none}}\n"
        "models:\n"
        "  m: {model: 'loop:bench-model', price: {input: 1, output: 2}}\n"
        "defaults: {max_tokens: 16}\n"
        "strategy: m\n"
    )
    return profile


async def run(calls: int, warmup: int, url: str, home: Path) -> list[dict[str, float | str]]:
    import httpx

    from mmo.app.ask import AskInput, ask
    from mmo.app.engine import open_engine
    from mmo.app.settings import AppEnv, ProfileChoice, RunSettings
    from mmo.core.paths import MmoPaths
    from mmo.core.types import Request

    endpoint = f"{url}/v1/chat/completions"
    profile = write_profile(home, url)
    env = AppEnv({"MMO_HOME": str(home)}, home, MmoPaths.from_env({"MMO_HOME": str(home)}))
    settings = RunSettings(choice=ProfileChoice(str(profile)), read_cache=False, write_cache=False)
    item = AskInput(prompt="ping", settings=settings)

    async def raw_new_client() -> None:
        async with httpx.AsyncClient() as client:
            (await client.post(endpoint, json=BODY)).json()

    async def mmo_ask() -> None:
        result = await ask(item, env)
        assert result.completion is not None, result.error

    shared = httpx.AsyncClient()

    async def raw_shared() -> None:
        (await shared.post(endpoint, json=BODY)).json()

    engine = open_engine(settings, env)
    request = Request.from_prompt("ping")

    async def mmo_execute() -> None:
        outcome = await engine.run(request)
        assert outcome.completion is not None, outcome.error
        engine.log(outcome, request, command="bench")

    rows = [
        *await paired(("raw httpx, new client", "mmo ask() use case"), calls, warmup, raw_new_client, mmo_ask),
        *await paired(("raw httpx, shared client", "mmo Engine.run() + run log, open engine"), calls, warmup, raw_shared, mmo_execute),
    ]
    await shared.aclose()
    await engine.aclose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    args = parser.parse_args()
    proc, url = start_server()
    try:
        with tempfile.TemporaryDirectory() as home:
            rows = asyncio.run(run(args.calls, args.warmup, url, Path(home)))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    overhead_ask = float(rows[1]["added_p50_ms"])
    overhead_session = float(rows[3]["added_p50_ms"])
    print(f"{'call':42} {'p50 ms':>8} {'p90 ms':>8} {'CPU ms':>8}")
    for row in rows:
        print(f"{row['name']:42} {row['p50_ms']:8.3f} {row['p90_ms']:8.3f} {row['cpu_ms_per_call']:8.3f}")
    print(f"\nask() use case adds {overhead_ask:.3f} ms (median of paired differences) over raw httpx with a new client (target <= {TARGET_MS} ms)")
    print(f"execute() on an open session adds {overhead_session:.3f} ms (median of paired differences) over raw httpx with a shared client")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {
        "benchmark": "overhead",
        "calls": args.calls,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "results": rows,
        "ask_overhead_p50_ms": round(overhead_ask, 3),
        "session_overhead_p50_ms": round(overhead_session, 3),
        "target_ms": TARGET_MS,
    }
    tmp = RESULTS / "overhead.json.tmp"
    tmp.write_text(json.dumps(out, indent=2) + "\n")
    tmp.replace(RESULTS / "overhead.json")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
