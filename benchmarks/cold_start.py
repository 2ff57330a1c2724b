"""Cold-start benchmark: how long a fresh process takes, for bare Python, the CLI's libraries and
mmo itself, all measured in the same run so the numbers compare.

Targets (issue 3): ``mmo --help`` <= 250 ms and ``mmo --version`` <= 100 ms on the 2-core
reference machine. mmo is timed both as ``python -m mmo`` and as the console script installed
next to the interpreter. Commands are run round-robin, after one warm-up each (which also fills
the bytecode caches), so drift on the machine spreads evenly over them::

    python -m benchmarks.cold_start --repeat 20

prints a table (median and p90 in ms) and writes ``benchmarks/results/cold_start.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "cold_start.json"
_HANG_S = 60.0


@dataclass(frozen=True)
class Command:
    name: str
    argv: tuple[str, ...]
    target_ms: float | None = None


@dataclass(frozen=True)
class Timing:
    name: str
    command: str
    status: str  # "ok", or why it was not measured
    runs: int = 0
    median_ms: float | None = None
    p90_ms: float | None = None
    min_ms: float | None = None
    target_ms: float | None = None
    meets_target: bool | None = None


def console_script() -> Path:
    """The ``mmo`` script installed beside this interpreter (``Scripts\\mmo.exe`` on Windows)."""
    folder = Path(sys.executable).parent
    return folder / ("mmo.exe" if os.name == "nt" else "mmo")


def commands() -> list[Command]:
    python = sys.executable
    script = str(console_script())
    return [
        Command("python -c pass", (python, "-c", "pass")),
        Command("import typer", (python, "-c", "import typer")),
        Command("import rich.console", (python, "-c", "import rich.console")),
        Command("python -m mmo --version", (python, "-m", "mmo", "--version"), 100.0),
        Command("python -m mmo --help", (python, "-m", "mmo", "--help"), 250.0),
        Command("mmo --version", (script, "--version"), 100.0),
        Command("mmo --help", (script, "--help"), 250.0),
    ]


def run_once(command: Command, env: dict[str, str]) -> float:
    """Wall time of one run in ms; raises CalledProcessError when the command fails.

    No ``timeout=`` on the wait: with one, subprocess polls with sleeps of up to 50 ms, which
    would round every measurement up. A timer kills a run that hangs instead."""
    started = time.perf_counter()
    process = subprocess.Popen(command.argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    watchdog = threading.Timer(_HANG_S, process.kill)
    watchdog.start()
    try:
        code = process.wait()
    finally:
        watchdog.cancel()
    elapsed = (time.perf_counter() - started) * 1000
    if code != 0:
        raise subprocess.CalledProcessError(code, command.argv)
    return elapsed


def why_not_runnable(command: Command, env: dict[str, str]) -> str | None:
    """None when the command runs; otherwise a one-line reason (the last line it printed)."""
    if not Path(command.argv[0]).exists():
        return f"not found: {command.argv[0]} (is mmo installed in this environment?)"
    try:
        done = subprocess.run(command.argv, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=_HANG_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"{type(error).__name__}: {error}"
    if done.returncode == 0:
        return None
    lines = [line for line in (done.stderr or done.stdout).strip().splitlines() if line.strip()]
    return f"exit {done.returncode}: {lines[-1] if lines else 'no output'}"


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def measure(commands_: list[Command], repeat: int, env: dict[str, str]) -> list[Timing]:
    reasons = {c.name: why_not_runnable(c, env) for c in commands_}  # also the warm-up run
    runnable = [c for c in commands_ if reasons[c.name] is None]
    samples: dict[str, list[float]] = {c.name: [] for c in runnable}
    for _ in range(repeat):
        for command in runnable:
            samples[command.name].append(run_once(command, env))
    timings = []
    for command in commands_:
        shown = " ".join(Path(command.argv[0]).name if i == 0 else a for i, a in enumerate(command.argv))
        values = samples.get(command.name)
        if not values:
            timings.append(Timing(command.name, shown, f"unavailable: {reasons[command.name]}",
                                  target_ms=command.target_ms))
            continue
        median = statistics.median(values)
        timings.append(Timing(
            command.name, shown, "ok", len(values), round(median, 1), round(percentile(values, 0.9), 1),
            round(min(values), 1), command.target_ms,
            None if command.target_ms is None else median <= command.target_ms,
        ))
    return timings


def print_table(timings: list[Timing]) -> None:
    header = f"{'command':<26}{'median ms':>10}{'p90 ms':>9}{'min ms':>9}{'target':>9}  result"
    print(header)
    print("-" * len(header))
    for t in timings:
        target = f"{t.target_ms:.0f}" if t.target_ms is not None else "-"
        if t.status != "ok":
            print(f"{t.name:<26}{'-':>10}{'-':>9}{'-':>9}{target:>9}  {t.status}")
            continue
        verdict = "" if t.meets_target is None else ("meets target" if t.meets_target else "OVER TARGET")
        print(f"{t.name:<26}{t.median_ms:>10.1f}{t.p90_ms:>9.1f}{t.min_ms:>9.1f}{target:>9}  {verdict}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cold_start", description=__doc__.split("::")[0])
    parser.add_argument("--repeat", type=int, default=20, help="measured runs per command")
    parser.add_argument("--output", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mmo-cold-start-") as home:
        # A throw-away MMO_HOME: start-up must not depend on (or touch) the user's files.
        env = {**os.environ, "MMO_HOME": home, "NO_COLOR": "1", "COLUMNS": "100"}
        timings = measure(commands(), args.repeat, env)
    print_table(timings)
    missing = [t.name for t in timings if t.status != "ok"]
    if missing:
        print(f"\nnot measured: {', '.join(missing)} (see the result column)")
    report = {
        "benchmark": "cold_start",
        "python": platform.python_version(),
        "executable": sys.executable,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "repeat": args.repeat,
        "results": [asdict(t) for t in timings],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
