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

Hostile endpoints (``tests.support.hostile``): ``mmo ask`` (and, for the gzip bomb, a 20-row
``mmo batch``) with a fallback from a model on the hostile server to one on a healthy loopback
server; the hostile provider's ``transport:`` sets ``attempt_deadline_s: 10`` and
``read_idle_timeout_s: 5``, everything else is the default. Reported: the error that ended the
hostile attempt, how long that attempt took (from the trace), the process's wall time and peak
RSS, and whether the fallback answered. Targets: peak RSS <= 250 MB, the hostile attempt ends
within its deadline + 1 s, and the fallback answers.

``--python`` runs mmo with another interpreter (another checkout's venv), so the same run can
compare before and after (``--skip-hostile`` for a checkout without transport limits).
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
from tests.support.hostile import HostileServer, Hostility

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
    process = subprocess.Popen(command, cwd=workdir, env=environ, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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


# --- hostile endpoints ---------------------------------------------------------------------------

DEADLINE_S, IDLE_S = 10.0, 5.0
HOSTILE_CASES: tuple[tuple[str, Hostility, bool], ...] = (
    ("gzip bomb, 1 GiB inflated", Hostility.gzip_bomb(1 << 30), False),
    ("gzip bomb, streamed", Hostility.gzip_bomb(1 << 30), True),
    ("JSON nested 100,000 deep", Hostility.deep_json(100_000), False),
    ("endless stream", Hostility.endless_stream(0.01), True),
    ("trickle, 1 byte / 0.5 s", Hostility.trickle(0.5), False),
    ("trickle, streamed", Hostility.trickle(0.5), True),
    ("stream stalls", Hostility.stall(200), True),
    ("one 64 MiB event", Hostility.huge_event(64 << 20), True),
)


@dataclass(frozen=True)
class HostileOutcome:
    case: str
    command: str
    error: str
    attempt_s: float
    wall_s: float
    peak_rss_mb: float
    fallback_answered: bool
    exit_code: int


def hostile_profile(bad_url: str, good_url: str) -> str:
    return (
        "providers:\n"
        f"  bad: {{kind: openai, base_url: '{bad_url}/v1', key: none, transport: {{attempt_deadline_s: {DEADLINE_S}, read_idle_timeout_s: {IDLE_S}}}}}\n"
        f"  good: {{kind: openai, base_url: '{good_url}/v1', key: none}}\n"
        "models:\n"
        f"  a: {{model: 'bad:{MODEL}', price: {{input: 1, output: 2}}}}\n"
        f"  b: {{model: 'good:{MODEL}', price: {{input: 1, output: 2}}}}\n"
        "defaults: {max_tokens: 16}\n"
        "strategy: {fallback: [a, b], retry: {attempts: 1}}\n"
    )


def hostile_case(python: str, name: str, hostility: Hostility, stream: bool, good_url: str) -> HostileOutcome:
    with tempfile.TemporaryDirectory(prefix="mmo-hostile-") as tmp, HostileServer(hostility, lifetime_s=120) as server:
        workdir = Path(tmp)
        profile = workdir / "hostile.yaml"
        profile.write_text(hostile_profile(server.base_url, good_url))
        flag = "--stream" if stream else "--no-stream"
        command = [python, "-m", "mmo", "ask", "--profile", str(profile), "--no-cache", "--json", flag, "What is 2+2?"]
        code, wall, rss, stdout = _measured(command, workdir)
    data = json.loads(stdout) if stdout.strip().startswith("{") else {}
    bad = next((a for a in _attempt_spans(data.get("trace", {})) if a.get("model_id") == f"bad:{MODEL}"), {})
    answered = data.get("completion", {}).get("model_id") == f"good:{MODEL}"
    return HostileOutcome(name, "ask", str(bad.get("error", "-")), round(bad.get("duration_ms", 0.0) / 1000, 2), round(wall, 2), round(rss, 1), answered, code)


def hostile_batch(python: str, good_url: str, rows: int, concurrency: int) -> HostileOutcome:
    with tempfile.TemporaryDirectory(prefix="mmo-hostile-") as tmp, HostileServer(Hostility.gzip_bomb(1 << 30), lifetime_s=300) as server:
        workdir = Path(tmp)
        profile = workdir / "hostile.yaml"
        profile.write_text(hostile_profile(server.base_url, good_url))
        rows_path = write_input(workdir / "in.jsonl", rows)
        out = workdir / "out.jsonl"
        command = [python, "-m", "mmo", "batch", str(rows_path), "--profile", str(profile), "-c", str(concurrency), "-o", str(out)]
        code, wall, rss, _ = _measured(command, workdir)
        lines = read_statuses(out) if out.exists() else []
    answered = len(lines) == rows and all(line.get("model") == f"good:{MODEL}" for line in lines)
    return HostileOutcome("gzip bomb, 1 GiB inflated", f"batch {rows} rows -c {concurrency}", "AnswerOverLimit" if answered else "-", 0.0, round(wall, 2), round(rss, 1), answered, code)


def _measured(command: list[str], workdir: Path) -> tuple[int, float, float, str]:
    """Run ``command``: exit code, wall seconds, peak RSS (MB, 10^6 bytes), standard output."""
    environ = clean_environ(workdir / "home")
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=workdir, env=environ, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    stdout = process.stdout.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, time.perf_counter() - started, usage.ru_maxrss * 1024 / 1e6, stdout


def _attempt_spans(span: dict[str, Any]) -> list[dict[str, Any]]:
    found = [span] if span.get("model_id") else []
    for child in span.get("children", []):
        found += _attempt_spans(child)
    return found


def run_hostile(python: str) -> list[HostileOutcome]:
    with ServerProcess(latency_ms=20, lifetime_s=600) as healthy:
        outcomes = [hostile_case(python, name, hostility, stream, healthy.url) for name, hostility, stream in HOSTILE_CASES]
        outcomes += [hostile_batch(python, healthy.url, rows, concurrency) for rows, concurrency in ((20, 8), (256, 128))]
    return outcomes


def print_hostile(outcomes: list[HostileOutcome]) -> None:
    print(f"\n{'hostile endpoint':<28}{'command':<22}{'ended by':<18}{'attempt s':>10}{'wall s':>8}{'peak MB':>9}  fallback")
    for o in outcomes:
        print(f"{o.case:<28}{o.command:<22}{o.error:<18}{o.attempt_s:>10}{o.wall_s:>8}{o.peak_rss_mb:>9}  {'answered' if o.fallback_answered else 'NO'}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--fault-rate", type=float, default=0.05)
    parser.add_argument("--python", default=sys.executable, help="the interpreter whose mmo runs the batch")
    parser.add_argument("--skip-transient", action="store_true", help="only the hostile endpoints")
    parser.add_argument("--skip-hostile", action="store_true", help="only the transient faults")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    transient: list[Outcome] = []
    if not args.skip_transient:
        transient = [
            scenario("single model", args.python, args.rows, args.concurrency, args.fault_rate, two_vendors=False),
            scenario("two vendors", args.python, args.rows, args.concurrency, args.fault_rate, two_vendors=True),
        ]
        print_transient(transient)
    hostile = [] if args.skip_hostile else run_hostile(args.python)
    if hostile:
        print_hostile(hostile)
    payload = {"machine": machine(), "args": vars(args), "transient": [asdict(o) for o in transient], "hostile": [asdict(o) for o in hostile]}
    write_results("faults", payload)
    return 0


def print_transient(outcomes: list[Outcome]) -> None:
    print(f"{'scenario':<14}{'done 1st pass':>15}{'failed':>8}{'never sent':>12}{'req/row':>9}{'dups':>6}{'wall s':>8}{'RSS MiB':>9}")
    for o in outcomes:
        print(f"{o.scenario:<14}{o.done:>9} {o.done_share:>5.1%}{o.failed:>8}{o.failed_never_sent:>12}{o.requests_per_row:>9}{o.duplicates:>6}{o.wall_s:>8}{o.peak_rss_mib:>9}")


if __name__ == "__main__":
    raise SystemExit(main())
