"""Three ``mmo batch`` workers against one loopback server with one shared limit of 600 rpm
(``MMO_STATE_URL``: the buckets live on a Redis server this script starts), beside the same three
workers with their limits kept per process::

    python -m benchmarks.shared_limits [--rows-per-worker 500] [--rpm 600]

Each worker runs its own input of ``--rows-per-worker`` rows (``-c 16``), all to one model with
``limits: {rpm: 600}``. The server's request count is sampled every 10 ms; the report gives the
largest number of requests in any sliding 60-second window, which may be at most the limit plus
the bucket's burst (the bucket starts full: 600 + 600), the wall time, and the Redis round
trips the workers made per row (the server's ``INFO commandstats``). Needs ``redis-server``. Writes
``benchmarks/results/shared_limits.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tests.support.loop_profile import loop_profile
from tests.support.loopback import Behaviour, LoopbackServer
from tests.support.redis_server import redis_server

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "shared_limits.json"
WORKERS = 3
WINDOW_S = 60.0


def write_inputs(directory: Path, workers: int, rows: int) -> list[Path]:
    paths = []
    for worker in range(workers):
        path = directory / f"worker{worker}.jsonl"
        path.write_text("".join(json.dumps({"id": f"w{worker}-{i}", "prompt": f"worker {worker} row {i}"}) + "\n" for i in range(rows)))
        paths.append(path)
    return paths


def write_profile(directory: Path, server: LoopbackServer, rpm: int) -> Path:
    return loop_profile(directory / "limited.yaml", server, rpm=rpm)


class Sampler:
    """The server's request count every 10 ms, in a thread: (seconds, total) pairs."""

    def __init__(self, server: LoopbackServer) -> None:
        self.server, self.samples = server, [(0.0, 0)]
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.samples.append((time.monotonic() - self._started, self.server.stats().total))

    def stop(self) -> list[tuple[float, int]]:
        self._stop.set()
        self._thread.join(timeout=5)
        return self.samples


def busiest_window(samples: list[tuple[float, int]], base: int) -> int:
    """The most requests in any 60-second window (two pointers over the cumulative counts)."""
    best, start = 0, 0
    for end in range(len(samples)):
        while samples[end][0] - samples[start][0] >= WINDOW_S:
            start += 1
        best = max(best, samples[end][1] - (samples[start - 1][1] if start else base))
    return best


def run_workers(inputs: list[Path], profile: Path, home: Path, state_url: str | None) -> float:
    env = {**os.environ, "MMO_HOME": str(home), "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    env.pop("MMO_STATE_URL", None)
    if state_url:
        env["MMO_STATE_URL"] = state_url
    started = time.monotonic()
    processes = [subprocess.Popen([sys.executable, "-m", "mmo", "batch", str(path), "-P", str(profile), "-c", "16", "--no-cache"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for path in inputs]
    for process in processes:
        _, err = process.communicate(timeout=1800)
        if process.returncode != 0:
            raise SystemExit(f"a worker exited {process.returncode}: {err.decode()[-1500:]}")
    return time.monotonic() - started


def redis_commands(url: str) -> int:
    import redis

    client = redis.Redis.from_url(url)
    try:
        # Round trips: the scripts' calls (the commands they run inside the server are not trips).
        stats = client.info("commandstats")
        return sum(int(stats[name]["calls"]) for name in ("cmdstat_evalsha", "cmdstat_eval", "cmdstat_script|load", "cmdstat_script") if name in stats)
    finally:
        client.close()


def measure(label: str, server: LoopbackServer, inputs: list[Path], profile: Path, home: Path, state_url: str | None) -> dict[str, Any]:
    base = server.stats().total
    sampler = Sampler(server)
    wall = run_workers(inputs, profile, home / label, state_url)
    samples = sampler.stop()
    requests = server.stats().total - base
    return {"wall_s": round(wall, 1), "requests": requests, "busiest_60s_window": busiest_window(samples, base)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.shared_limits", description=__doc__.split("::")[0])
    parser.add_argument("--rows-per-worker", type=int, default=500)
    parser.add_argument("--rpm", type=int, default=600)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mmo-shared-") as tmp, LoopbackServer(Behaviour(latency_s=0.02), lifetime_s=3600) as server:
        home = Path(tmp)
        (home / "redis").mkdir()
        inputs, profile = write_inputs(home, WORKERS, args.rows_per_worker), write_profile(home, server, args.rpm)
        with redis_server(home / "redis") as url:
            shared = measure("shared", server, inputs, profile, home, url)
            shared["redis_round_trips_per_row"] = round(redis_commands(url) / (WORKERS * args.rows_per_worker), 2)
        local = measure("local", server, inputs, profile, home, None)
    allowed = 2 * args.rpm  # the limit, plus the bucket's burst (it starts full)
    report = {
        "benchmark": "shared_limits",
        "python": platform.python_version(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "workers": WORKERS, "rows_per_worker": args.rows_per_worker, "rpm": args.rpm, "allowed_per_60s": allowed,
        "shared": shared, "per_process": local,
        "shared_held": shared["busiest_60s_window"] <= allowed,
    }
    print(json.dumps(report, indent=2))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0 if report["shared_held"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
