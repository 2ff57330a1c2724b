"""Start-up beside ``llm``: one whole ``mmo ask`` process against the loopback server, next to
``llm`` (0.36 or later, in its own virtualenv) making the same call, and ``mmo --help`` next to
``python -c 'import typer'``, all in the same run::

    python -m benchmarks.startup_vs_llm --repeat 40 [--llm PATH/TO/llm]

Targets (issue 12): ``mmo ask`` at most 0.4 times ``llm``'s time; ``mmo --help`` at most 1.5
times ``import typer``. The machine is shared and noisy, so the commands run round-robin (one
round: every command once), after a warm-up round; each ratio is the median of the per-round
ratios, with their 10th-90th percentile as the spread.

Both CLIs call ``gpt-4o-mini`` on the loopback server (``tests.support.loopback``, in this
process) with a new prompt each run (so mmo's response cache never answers) and their default
settings otherwise: mmo prices the call (genai-prices) and writes its run log, ``llm`` streams
and logs to its database. mmo uses a profile naming the ``openai`` provider at the loopback URL;
``llm`` an ``extra-openai-models.yaml`` model with a dummy key, in a temporary ``LLM_USER_PATH``.
Each run's request is counted by the server: a run that did not make its HTTP call fails the
benchmark. ``PYTHONDONTWRITEBYTECODE`` is removed from the environment, so mmo's modules are
read from bytecode as they are in an installed copy (``llm``'s were compiled when installed).

``--mmo-checkout DIR`` times another checkout of mmo instead of the installed one (``python -m
mmo`` run in DIR, with this interpreter and its packages), to compare before and after a change.
``llm`` is looked for at ``--llm``, then ``.llm-venv/bin/llm`` in the repository, then on PATH::

    python3 -m venv .llm-venv && .llm-venv/bin/pip install 'llm>=0.36'

Prints a table and writes ``benchmarks/results/startup_vs_llm.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "startup_vs_llm.json"
ASK_TARGET = 0.4
HELP_TARGET = 1.5
_HANG_S = 60.0


@dataclass(frozen=True)
class Command:
    name: str
    argv: Callable[[int], list[str]]  # run number -> argv
    calls: int  # HTTP calls one run makes
    cwd: Path | None = None


def find_llm(given: str | None) -> Path:
    for candidate in (given, ROOT / ".llm-venv" / "bin" / "llm", shutil.which("llm")):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    raise SystemExit("llm not found: install it in its own virtualenv (python3 -m venv .llm-venv && "
                     ".llm-venv/bin/pip install 'llm>=0.36') or pass --llm PATH")


def llm_version(llm: Path, env: dict[str, str]) -> str:
    done = subprocess.run([str(llm), "--version"], env=env, capture_output=True, text=True, timeout=_HANG_S, check=True)
    return done.stdout.strip()


def write_configs(home: Path, base_url: str) -> tuple[Path, Path]:
    """mmo's profile and llm's user directory, both for gpt-4o-mini at ``base_url``."""
    profile = home / "loop.yaml"
    profile.write_text(
        "providers:\n"
        f"  openai: {{base_url: '{base_url}', key: none}}\n"
        "models:\n"
        "  mini: {model: 'openai:gpt-4o-mini'}\n"
        "strategy: mini\n",
        encoding="utf-8",
    )
    llm_home = home / "llm"
    llm_home.mkdir()
    (llm_home / "extra-openai-models.yaml").write_text(
        f"- model_id: loop-mini\n  model_name: gpt-4o-mini\n  api_base: '{base_url}'\n  api_key_name: loop\n",
        encoding="utf-8",
    )
    (llm_home / "keys.json").write_text(json.dumps({"loop": "dummy-key-not-secret"}), encoding="utf-8")
    return profile, llm_home


def commands(mmo: list[str], checkout: Path | None, llm: Path, profile: Path) -> list[Command]:
    python = sys.executable
    return [
        Command("python -c pass", lambda i: [python, "-c", "pass"], 0),
        Command("import typer", lambda i: [python, "-c", "import typer"], 0),
        Command("mmo --help", lambda i: [*mmo, "--help"], 0, checkout),
        Command("mmo ask", lambda i: [*mmo, "ask", "-P", str(profile), f"ping {i}"], 1, checkout),
        Command("llm", lambda i: [str(llm), "-m", "loop-mini", f"ping {i}"], 1),
    ]


def run_once(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    """Wall time in ms. No ``timeout=`` on the wait (it polls with sleeps that round every
    measurement up): a hung run is killed by a timer instead."""
    import threading

    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    watchdog = threading.Timer(_HANG_S, process.kill)
    watchdog.start()
    try:
        _, err = process.communicate()
    finally:
        watchdog.cancel()
    elapsed = (time.perf_counter() - started) * 1000
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed (exit {process.returncode}):\n{err.decode(errors='replace')[-2000:]}")
    return elapsed


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def measure(cmds: list[Command], repeat: int, env: dict[str, str], answered: Callable[[], int]) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {c.name: [] for c in cmds}
    run = 0
    for round_ in range(repeat + 1):  # round 0 warms up: bytecode, price memo, profile cache
        for command in cmds:
            before = answered()
            elapsed = run_once(command.argv(run), env, command.cwd)
            run += 1
            made = answered() - before
            if made != command.calls:
                raise SystemExit(f"{command.name} made {made} HTTP calls, not {command.calls}")
            if round_:
                samples[command.name].append(elapsed)
    return samples


def summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 1), "p10": round(percentile(values, 0.1), 1),
            "p90": round(percentile(values, 0.9), 1), "min": round(min(values), 1)}


def ratio(samples: dict[str, list[float]], top: str, bottom: str, target: float) -> dict[str, float | bool | str]:
    per_round = [a / b for a, b in zip(samples[top], samples[bottom], strict=True)]
    median = statistics.median(per_round)
    return {"of": f"{top} / {bottom}", "median": round(median, 3), "p10": round(percentile(per_round, 0.1), 3),
            "p90": round(percentile(per_round, 0.9), 3), "of_medians": round(statistics.median(samples[top]) / statistics.median(samples[bottom]), 3),
            "target": target, "meets_target": median <= target}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup_vs_llm", description=__doc__.split("::")[0])
    parser.add_argument("--repeat", type=int, default=40, help="measured rounds (each runs every command once)")
    parser.add_argument("--llm", default=None, help="the llm executable (default: .llm-venv/bin/llm, then PATH)")
    parser.add_argument("--mmo-checkout", type=Path, default=None, help="time `python -m mmo` in this checkout instead of the installed mmo")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from tests.support.loopback import LoopbackServer

    checkout = args.mmo_checkout.resolve() if args.mmo_checkout else None
    mmo = [sys.executable, "-m", "mmo"] if checkout else [str(Path(sys.executable).parent / ("mmo.exe" if os.name == "nt" else "mmo"))]
    llm = find_llm(args.llm)
    with tempfile.TemporaryDirectory(prefix="mmo-startup-") as tmp, LoopbackServer(lifetime_s=3600) as server:
        home = Path(tmp)
        profile, llm_home = write_configs(home, server.openai_base_url)
        env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
        env.update({"MMO_HOME": str(home / "mmo"), "LLM_USER_PATH": str(llm_home), "NO_COLOR": "1", "COLUMNS": "100"})
        version = llm_version(llm, env)
        samples = measure(commands(mmo, checkout, llm, profile), args.repeat, env, lambda: server.stats().answered)
    timings = {name: summary(values) for name, values in samples.items()}
    ratios = {"ask": ratio(samples, "mmo ask", "llm", ASK_TARGET), "help": ratio(samples, "mmo --help", "import typer", HELP_TARGET)}
    print(f"{'command':<16}{'median ms':>10}{'p10':>8}{'p90':>8}{'min':>8}   ({args.repeat} rounds, {version})")
    for name, t in timings.items():
        print(f"{name:<16}{t['median']:>10.1f}{t['p10']:>8.1f}{t['p90']:>8.1f}{t['min']:>8.1f}")
    print()
    for r in ratios.values():
        verdict = "meets target" if r["meets_target"] else "OVER TARGET"
        print(f"{r['of']:<24} {r['median']:.3f} (p10-p90 {r['p10']:.3f}-{r['p90']:.3f}; of medians {r['of_medians']:.3f})  target <= {r['target']}: {verdict}")
    report = {
        "benchmark": "startup_vs_llm",
        "python": platform.python_version(),
        "llm": version,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "repeat": args.repeat,
        "mmo": " ".join(mmo) + (f" (in {checkout})" if checkout else ""),
        "timings_ms": timings,
        "ratios": ratios,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
