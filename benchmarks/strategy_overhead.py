"""CPU and latency that strategy nodes add per request, against the loopback server.

    python benchmarks/strategy_overhead.py [--calls 2000] [--warmup 200]

The loopback server runs in its own process and answers instantly (OpenAI shape). One session per
profile, no cache; each request goes through ``execute`` (trace, pricing, guards included). Shapes:

* ``model``: a single model (the baseline);
* ``fallback``: fallback -> model (one node);
* ``router``: router (a keyword rule, not matching) -> default model;
* ``cascade``: cascade with a regex gate that passes -> model;
* ``three levels``: router -> cascade (regex gate) -> fallback -> model.

Prints the client CPU per request and its difference from the baseline, per node, and writes
``benchmarks/results/strategy_overhead.json``. Targets (issue 4): <= 0.2 ms of CPU per node, and a
three-level profile adds <= 1 ms per request over a single model.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"

MODEL = "m"
SHAPES: dict[str, tuple[int, Any]] = {
    "model": (0, MODEL),
    "fallback": (1, {"fallback": [MODEL]}),
    "router": (1, {"rules": [{"when": {"keywords": ["zebra"]}, "use": MODEL}], "default": MODEL}),
    "cascade": (1, {"cascade": [MODEL], "accept": {"regex": "echo"}}),
    "three levels": (
        3,
        {"rules": [{"when": {"keywords": ["zebra"]}, "use": MODEL}], "default": {"cascade": [{"fallback": [MODEL]}], "accept": {"regex": "echo"}}},
    ),
}


def profile_text(url: str, strategy: Any) -> str:
    return json.dumps(
        {
            "providers": {"loop": {"kind": "openai", "base_url": f"{url}/v1", "key": "none"}},
            "models": {MODEL: {"model": "loop:bench-model", "price": {"input": 1, "output": 2}}},
            "defaults": {"max_tokens": 16},
            "strategy": strategy,
        }
    )


async def measure_all(profiles: dict[str, Path], env: Any, calls: int, warmup: int, fake: bool) -> dict[str, dict[str, float]]:
    """Every shape in turn, in rounds of 50 calls, so drift in the machine's load hits all alike.
    With ``fake``, the model is an in-process scripted provider (no HTTP): the strategy's own CPU."""
    from mmo.app.engine import open_engine
    from mmo.app.settings import ProfileChoice, RunSettings
    from mmo.core.types import Request
    from mmo.providers.fake import FakeProvider, FakeReply
    from mmo.runtime.context import execute

    extra = {"loop": FakeProvider("loop").script("bench-model", default=FakeReply("echo: ping"))} if fake else None

    def settings(path: Path) -> RunSettings:
        return RunSettings(choice=ProfileChoice(str(path)), read_cache=False, write_cache=False)

    sessions = {name: open_engine(settings(path), env, providers=extra, log_runs=False) for name, path in profiles.items()}
    request = Request.from_prompt("ping")
    options = settings(Path(".")).options
    wall: dict[str, list[float]] = {name: [] for name in sessions}
    cpu: dict[str, list[float]] = {name: [] for name in sessions}

    async def one(name: str, record: bool) -> None:
        session = sessions[name]
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        await execute(session.root, request, session.services, options)
        if record:
            cpu[name].append((time.process_time() - start_cpu) * 1000)
            wall[name].append((time.perf_counter() - start_wall) * 1000)

    try:
        for name in sessions:
            for _ in range(warmup):
                await one(name, False)
        for _ in range(max(1, calls // 50)):
            for name in sessions:
                for _ in range(50):
                    await one(name, True)
    finally:
        for session in sessions.values():
            await session.aclose()
    return {name: {"wall_p50_ms": statistics.median(wall[name]), "cpu_mean_ms": statistics.fmean(cpu[name])} for name in sessions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from benchmarks.overhead import start_server
    from mmo.app.settings import AppEnv
    from mmo.core.paths import MmoPaths

    proc, url = start_server()
    tables: dict[str, list[dict[str, Any]]] = {}
    try:
        with tempfile.TemporaryDirectory() as home:
            env = AppEnv({"MMO_HOME": home}, Path(home), MmoPaths.from_env({"MMO_HOME": home}))
            profiles = {}
            for name, (_, strategy) in SHAPES.items():
                profiles[name] = Path(home) / f"{name.replace(' ', '_')}.yaml"
                profiles[name].write_text(profile_text(url, strategy))
            for mode, fake in (("in-process model (strategy CPU only)", True), ("loopback HTTP", False)):
                measured = asyncio.run(measure_all(profiles, env, args.calls, args.warmup, fake))
                tables[mode] = [{"shape": name, "nodes": SHAPES[name][0], **{k: round(v, 4) for k, v in measured[name].items()}} for name in SHAPES]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    for mode, rows in tables.items():
        base = rows[0]
        print(f"\n{mode}")
        print(f"{'shape':14} {'nodes':>5} {'wall p50 ms':>12} {'CPU ms':>8} {'+CPU ms':>8} {'+CPU/node':>10}")
        for row in rows:
            added = row["cpu_mean_ms"] - base["cpu_mean_ms"]
            row["added_cpu_ms"] = round(added, 4)
            row["added_cpu_per_node_ms"] = round(added / row["nodes"], 4) if row["nodes"] else None
            per_node = f"{row['added_cpu_per_node_ms']:.3f}" if row["nodes"] else "-"
            print(f"{row['shape']:14} {row['nodes']:>5} {row['wall_p50_ms']:12.3f} {row['cpu_mean_ms']:8.3f} {added:8.3f} {per_node:>10}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {"benchmark": "strategy_overhead", "calls": args.calls, "results": tables, "targets": {"per_node_cpu_ms": 0.2, "three_levels_added_ms": 1.0}}
    tmp = RESULTS / "strategy_overhead.json.tmp"
    tmp.write_text(json.dumps(out, indent=2) + "\n")
    tmp.replace(RESULTS / "strategy_overhead.json")


if __name__ == "__main__":
    main()
