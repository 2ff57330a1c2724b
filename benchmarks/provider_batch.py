"""A 10,000-row provider batch job beside the same rows run live, against the loopback fake of the
batch APIs (``tests.support.fake_batch``, which also serves the live routes)::

    python -m benchmarks.provider_batch [--rows 10000] [--vendor openai|anthropic|gemini]

Runs, in a temporary ``MMO_HOME``, as a user would (the ``mmo`` commands, in process):

1. ``mmo batch rows.jsonl --run-id live --no-cache`` (live, one call per row);
2. ``mmo batch rows.jsonl --provider-batch`` (submit), ``mmo jobs wait --poll 0 --collect``.

Checks that both outputs hold every row once with the same answers, and reports the wall time of
each phase, the HTTP requests the batch path made (uploads, creates, polls, downloads) against the
live path's, and the cost of each (the batch at half the live price). Writes
``benchmarks/results/provider_batch.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from mmo.cli.main import app
from tests.support.fake_batch.server import FakeBatchServer

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "provider_batch.json"
MODELS = {"openai": ("oa", "gpt-4o-mini"), "anthropic": ("an", "claude-haiku-4-5"), "gemini": ("gm", "gemini-2.5-flash")}


def write_profile(directory: Path, server: FakeBatchServer, vendor: str) -> Path:
    name, model = MODELS[vendor]
    base = {"openai": server.openai_base_url, "anthropic": server.anthropic_base_url, "gemini": server.gemini_base_url}[vendor]
    path = directory / "bench.yaml"
    path.write_text(textwrap.dedent(f"""
        name: bench
        providers:
          {name}: {{kind: {vendor}, base_url: "{base}", key: none}}
        models:
          m: {{model: "{name}:{model}", price: {{input: 0.15, output: 0.6}}}}
        defaults: {{max_tokens: 64}}
        strategy: m
        """))
    return path


def write_rows(path: Path, rows: int) -> Path:
    with path.open("w") as out:
        for i in range(rows):
            out.write(json.dumps({"id": f"q{i}", "prompt": f"Question {i}: what is {i} plus {i}?"}) + "\n")
    return path


def invoke(*args: str) -> float:
    started = time.perf_counter()
    result = CliRunner().invoke(app, list(args))
    if result.exit_code != 0:
        raise SystemExit(f"mmo {' '.join(args)} exited {result.exit_code}: {result.stderr[-2000:]}")
    return time.perf_counter() - started


def read_output(path: Path) -> dict[str, dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    by_id = {row["id"]: row for row in rows}
    if len(by_id) != len(rows):
        raise SystemExit(f"{path}: a row appears more than once")
    return by_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.provider_batch", description=__doc__.split("::")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--vendor", choices=sorted(MODELS), default="openai")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mmo-provider-batch-") as tmp, FakeBatchServer(lifetime_s=3600, max_requests=10_000_000) as server:
        home = Path(tmp)
        os.environ.update({"MMO_HOME": str(home / "mmo"), "NO_COLOR": "1"})
        profile, rows = write_profile(home, server, args.vendor), write_rows(home / "rows.jsonl", args.rows)
        live_s = invoke("batch", str(rows), "-P", str(profile), "--run-id", "live", "--no-cache", "-o", str(home / "live.jsonl"), "-c", "64")
        live_requests = server.stats().answered
        before = sum(server.route_counts().values())
        submit_s = invoke("batch", str(rows), "-P", str(profile), "--provider-batch", "-o", str(home / "batch.jsonl"))
        collect_s = invoke("jobs", "wait", "--poll", "0", "--collect")
        batch_routes = server.route_counts()
        live, batch = read_output(home / "live.jsonl"), read_output(home / "batch.jsonl")
    same = set(live) == set(batch) and all(live[i]["answer"] == batch[i]["answer"] for i in live)
    live_cost = sum(row["cost_usd"] for row in live.values())
    batch_cost = sum(row["cost_usd"] for row in batch.values())
    report = {
        "benchmark": "provider_batch",
        "python": platform.python_version(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "vendor": args.vendor,
        "rows": args.rows,
        "outputs_identical": same,
        "rows_done": {"live": sum(r["status"] == "done" for r in live.values()), "batch": sum(r["status"] == "done" for r in batch.values())},
        "wall_s": {"live": round(live_s, 2), "submit": round(submit_s, 2), "wait_and_collect": round(collect_s, 2)},
        "http_requests": {"live": live_requests, "batch": sum(batch_routes.values()) - before, "batch_routes": batch_routes},
        "cost_usd": {"live": live_cost, "batch": batch_cost, "ratio": batch_cost / live_cost if live_cost else None},
    }
    print(json.dumps(report, indent=2))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
