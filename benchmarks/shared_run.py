"""One ``mmo batch --shared`` run worked on by several worker processes through a Redis server
this script starts, against one loopback server::

    python -m benchmarks.shared_run [--rows 3000] [--kill-rows 1500] [--rpm 600]

Two measurements:

* scaling: the same ``--rows`` rows (``-c 16``, 200 ms answers as a provider's are, no rate
  limit) by 1, 2 and 3 workers sharing one run, beside one plain ``mmo batch`` of them (no
  Redis): rows per second (wall time from the first start to the last exit, process start-up
  included), and the Redis round trips per row (the server's ``INFO commandstats``: script calls,
  reset before each run). With answers this slow a worker waits on the provider, not on the CPU,
  so more workers mean more rows at once, as across machines; on this 2-core machine with
  instant answers the workers would only share the two cores;
* a worker killed: three workers share a run of ``--kill-rows`` rows with one model limited to
  ``--rpm`` (shared); once a third of the rows are answered, one worker gets SIGKILL. Reported:
  whether the output of each surviving worker has every row exactly once, in order; the rows the
  server answered twice (at most the killed worker's rows in flight, ``-c``: answers it had
  been sent but had not yet committed); the largest number of requests the
  server saw in any sliding 60-second window (at most the limit plus its burst: 2 x rpm).

Writes ``benchmarks/results/shared_run.json``. Needs ``redis-server``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.batch_common import machine, write_results
from benchmarks.shared_limits import Sampler, busiest_window, redis_commands
from tests.support.loop_profile import loop_profile
from tests.support.loopback import Behaviour, LoopbackServer
from tests.support.redis_server import redis_server

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "benchmarks" / "results"
CONCURRENCY = 16


def write_rows(path: Path, rows: int, tag: str) -> Path:
    path.write_text("".join(json.dumps({"id": f"{tag}-{i}", "prompt": f"{tag} row {i}"}) + "\n" for i in range(rows)))
    return path


def write_profile(directory: Path, server: LoopbackServer, rpm: int | None) -> Path:
    return loop_profile(directory / ("limited.yaml" if rpm else "open.yaml"), server, rpm=rpm)


def start_workers(count: int, data: Path, profile: Path, home: Path, state_url: str | None, run_id: str) -> list[subprocess.Popen[bytes]]:
    """``count`` workers, each as on its own machine: its own home and its own copy of the input."""
    workers = []
    for n in range(count):
        machine = home / f"machine{n}"
        machine.mkdir(parents=True)
        copy = machine / "rows.jsonl"
        copy.write_bytes(data.read_bytes())
        env = {**os.environ, "MMO_HOME": str(machine / "mmo"), "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
        env.pop("MMO_STATE_URL", None)
        argv = [sys.executable, "-m", "mmo", "batch", str(copy), "-P", str(profile), "-c", str(CONCURRENCY), "--no-cache", "--json",
                "-o", str(machine / "out.jsonl")]
        if state_url is not None:
            env["MMO_STATE_URL"] = state_url
            argv += ["--shared", "--run-id", run_id, "--claim-timeout", "10"]
        workers.append(subprocess.Popen(argv, env=env, cwd=machine, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    return workers


def finish(workers: list[subprocess.Popen[bytes]], *, allow_killed: bool = False) -> list[dict[str, Any] | None]:
    summaries: list[dict[str, Any] | None] = []
    for worker in workers:
        out, err = worker.communicate(timeout=1800)
        if worker.returncode == -signal.SIGKILL and allow_killed:
            summaries.append(None)
            continue
        if worker.returncode != 0:
            raise SystemExit(f"a worker exited {worker.returncode}: {err.decode()[-1500:]}")
        summaries.append(json.loads(out))
    return summaries


def reset_stats(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.config_resetstat()
    finally:
        client.close()


def scaling(server: LoopbackServer, home: Path, url: str, rows: int) -> dict[str, Any]:
    data = write_rows(home / "scaling.jsonl", rows, "scale")
    profile = write_profile(home, server, None)
    results: dict[str, Any] = {}
    started = time.monotonic()
    finish(start_workers(1, data, profile, home / "plain", None, ""))
    plain = time.monotonic() - started
    results["plain_batch"] = {"wall_s": round(plain, 2), "rows_per_s": round(rows / plain, 1)}
    for count in (1, 2, 3):
        reset_stats(url)
        started = time.monotonic()
        summaries = finish(start_workers(count, data, profile, home / f"shared{count}", url, f"scaling-{count}"))
        wall = time.monotonic() - started
        shared = summaries[0]["shared"] if summaries[0] else {}
        results[f"workers_{count}"] = {
            "wall_s": round(wall, 2), "rows_per_s": round(rows / wall, 1),
            "rows_by_worker": sorted((w["rows"] for w in shared.get("workers", [])), reverse=True),
            "redis_round_trips_per_row": round(redis_commands(url) / rows, 3),
        }
    return results


def killed_worker(server: LoopbackServer, home: Path, url: str, rows: int, rpm: int) -> dict[str, Any]:
    data = write_rows(home / "killed.jsonl", rows, "kill")
    profile = write_profile(home, server, rpm)
    base = server.stats().total
    sampler = Sampler(server)
    started = time.monotonic()
    workers = start_workers(3, data, profile, home / "killed", url, "killed")
    deadline = time.monotonic() + 600
    while server.stats().total - base < rows // 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    killed_at = server.stats().total - base
    workers[1].send_signal(signal.SIGKILL)
    summaries = finish(workers, allow_killed=True)
    wall = time.monotonic() - started
    samples = sampler.stop()
    expected = [f"kill-{i}" for i in range(rows)]
    outputs_exact = []
    for n in (0, 2):
        ids = [json.loads(line)["id"] for line in (home / "killed" / f"machine{n}" / "out.jsonl").read_text().splitlines()]
        outputs_exact.append(ids == expected)
    answered = server.calls_by(r"kill row \d+", answered=True)
    survivor = summaries[0] or {}
    return {
        "rows": rows, "rpm": rpm, "allowed_per_60s": 2 * rpm, "wall_s": round(wall, 1),
        "killed_after_requests": killed_at,
        "every_row_once_in_each_output": all(outputs_exact) and len(answered) == rows,
        "requests": server.stats().total - base,
        "rows_answered_twice": sum(answered.values()) - len(answered),
        "busiest_60s_window": busiest_window(samples, base),
        "rows_by_worker": {w["worker"]: w["rows"] for w in survivor.get("shared", {}).get("workers", [])},
        "duplicates_by_worker": {w["worker"]: w["duplicates"] for w in survivor.get("shared", {}).get("workers", [])},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.shared_run", description=__doc__.split("::")[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--kill-rows", type=int, default=1500)
    parser.add_argument("--rpm", type=int, default=600)
    parser.add_argument("--output-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mmo-shared-run-") as tmp:
        home = Path(tmp)
        (home / "redis").mkdir()
        with redis_server(home / "redis") as url:
            with LoopbackServer(Behaviour(latency_s=0.2), lifetime_s=3600) as server:
                scale = scaling(server, home, url, args.rows)
            with LoopbackServer(Behaviour(latency_s=0.02), lifetime_s=3600) as server:
                killed = killed_worker(server, home, url, args.kill_rows, args.rpm)
    report = {
        "benchmark": "shared_run",
        "machine": machine(),
        "concurrency_per_worker": CONCURRENCY,
        "scaling": scale,
        "killed_worker": killed,
        "held": killed["every_row_once_in_each_output"] and killed["busiest_60s_window"] <= killed["allowed_per_60s"]
        and killed["rows_answered_twice"] <= CONCURRENCY,
    }
    print(json.dumps(report, indent=2))
    write_results("shared_run", report, args.output_dir)
    return 0 if report["held"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
