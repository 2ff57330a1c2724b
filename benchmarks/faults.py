"""Faults and hostile endpoints: does ``mmo batch`` finish under transient faults without
amplifying them, and does mmo give up on a hostile endpoint in bounded time and memory?

    python -m benchmarks.faults [--rows 5000] [--concurrency 128] [--fault-rate 0.05]
                                [--python OTHER/.venv/bin/python]   # another checkout's mmo

Transient faults (each scenario a fresh ``mmo batch`` process, servers in their own processes):

* **single model**: one OpenAI-shaped model; the server gives ``--fault-rate`` of its requests a
  random fault: 429 (Retry-After 1 s), 500, a dropped connection, or a hang (the profile's
  ``timeout_s: 2`` ends it);
* **two vendors**: a fallback from that model to an Anthropic-shaped model on a second, healthy
  server.

Reported per scenario: rows done in the first pass (no ``--retry-errors``), rows failed (and how
many of them the server never saw: failed without being sent), requests per row, duplicates
(rows the server answered more than once: paid twice), wall time and the batch's peak RSS.

Targets: a single model finishes >= 99.5 % of rows in one pass, two vendors 100 %; no row fails
without its own retries (failed rows never sent: 0).

``--python`` runs the batch with another interpreter (another checkout's venv), so the same run
can compare before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.batch_common import clean_environ, machine, write_results
from benchmarks.load_loopback import ServerProcess

MODEL = "bench-model"
ROW = r"row-(\d+)\b"


@dataclass(frozen=True)
class Outcome:
    scenario: str
    rows: int
    done: int
    failed: int
    failed_never_sent: int
    requests: int
    requests_per_row: float
    duplicates: int
    wall_s: float
    peak_rss_mib: float
    exit_code: int

    @property
    def done_share(self) -> float:
        return self.done / self.rows if self.rows else 0.0


def write_input(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for row in range(rows):
            out.write(json.dumps({"id": f"row-{row}", "prompt": f"row-{row}: say something short"}) + "\n")
    return path


def profile_text(faulty_url: str, healthy_url: str | None) -> str:
    """One model on the faulty server; with ``healthy_url``, a fallback to a second vendor."""
    lines = [
        "providers:",
        f"  loop: {{kind: openai, base_url: '{faulty_url}/v1', key: none}}",
    ]
    if healthy_url is not None:
        lines.append(f"  other: {{kind: anthropic, base_url: '{healthy_url}', key: none}}")
    lines += ["models:", f"  m: {{model: 'loop:{MODEL}', price: {{input: 1, output: 2}}}}"]
    if healthy_url is not None:
        lines.append(f"  backup: {{model: 'other:{MODEL}', price: {{input: 1, output: 2}}}}")
    lines += ["defaults: {max_tokens: 16, timeout_s: 2}", "strategy: " + ("{fallback: [m, backup]}" if healthy_url else "m")]
    return "\n".join(lines) + "\n"


def run_batch_process(python: str, workdir: Path, profile: Path, rows_path: Path, concurrency: int) -> tuple[int, float, float, Path]:
    """``mmo batch`` in its own process: exit code, wall seconds, peak RSS (MiB), output path."""
    out = workdir / "out.jsonl"
    environ = clean_environ(workdir / "home")
    command = [python, "-m", "mmo", "batch", str(rows_path), "--profile", str(profile), "-c", str(concurrency), "-o", str(out)]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=workdir, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):
        stderr = process.stderr.read().decode() if process.stderr else ""
        raise RuntimeError(f"mmo batch exited {process.returncode}: {stderr[-2000:]}")
    return process.returncode, wall, usage.ru_maxrss / 1024, out


def read_statuses(out: Path) -> list[dict[str, Any]]:
    with out.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def scenario(name: str, python: str, rows: int, concurrency: int, fault_rate: float, two_vendors: bool) -> Outcome:
    fault_args = ["--fault-rate", str(fault_rate), "--fault-kinds", "429,500,drop,hang", "--seed", "7"]
    with tempfile.TemporaryDirectory(prefix="mmo-faults-") as tmp:
        workdir = Path(tmp)
        with ServerProcess(latency_ms=50, lifetime_s=1800, extra_args=fault_args) as faulty, ServerProcess(latency_ms=50, lifetime_s=1800) as healthy:
            profile = workdir / "faults.yaml"
            profile.write_text(profile_text(faulty.url, healthy.url if two_vendors else None))
            rows_path = write_input(workdir / "in.jsonl", rows)
            code, wall, rss, out = run_batch_process(python, workdir, profile, rows_path, concurrency)
            lines = read_statuses(out)
            sent = {int(k) for k in _calls(faulty.url, answered=False)} | {int(k) for k in _calls(healthy.url, answered=False)}
            answered = _merge(_calls(faulty.url, answered=True), _calls(healthy.url, answered=True))
            requests = faulty.stats()["total"] + (healthy.stats()["total"] if two_vendors else 0)
    failed = [line for line in lines if line["status"] != "done"]
    return Outcome(
        scenario=name,
        rows=rows,
        done=len(lines) - len(failed),
        failed=len(failed),
        failed_never_sent=sum(1 for line in failed if _row_number(line) not in sent),
        requests=requests,
        requests_per_row=round(requests / rows, 3),
        duplicates=sum(count - 1 for count in answered.values() if count > 1),
        wall_s=round(wall, 2),
        peak_rss_mib=round(rss, 1),
        exit_code=code,
    )


def _row_number(line: dict[str, Any]) -> int:
    return int(str(line["id"]).removeprefix("row-"))


def _calls(url: str, *, answered: bool) -> dict[str, int]:
    import httpx

    params = {"pattern": ROW, "answered": "1" if answered else "0"}
    return dict(httpx.get(f"{url}/_loopback/calls", params=params, timeout=30).json())


def _merge(*counts: dict[str, int]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for count in counts:
        for key, value in count.items():
            merged[key] = merged.get(key, 0) + value
    return merged


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--fault-rate", type=float, default=0.05)
    parser.add_argument("--python", default=sys.executable, help="the interpreter whose mmo runs the batch")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    outcomes = [
        scenario("single model", args.python, args.rows, args.concurrency, args.fault_rate, two_vendors=False),
        scenario("two vendors", args.python, args.rows, args.concurrency, args.fault_rate, two_vendors=True),
    ]
    header = f"{'scenario':<14}{'done 1st pass':>15}{'failed':>8}{'never sent':>12}{'req/row':>9}{'dups':>6}{'wall s':>8}{'RSS MiB':>9}"
    print(header)
    for o in outcomes:
        print(f"{o.scenario:<14}{o.done:>9} {o.done_share:>5.1%}{o.failed:>8}{o.failed_never_sent:>12}{o.requests_per_row:>9}{o.duplicates:>6}{o.wall_s:>8}{o.peak_rss_mib:>9}")
    write_results("faults", {"machine": machine(), "args": vars(args), "transient": [asdict(o) for o in outcomes]})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
