"""``mmo tune`` on the full MMLU-Pro set (11,954 questions, 8 models): what it finds, choosing on
train only, against the issue's targets on the test split, and how long it takes.

    python -m benchmarks.tune_mmlu_pro [--bench DIR] [--texts DIR]

Builds the bench run of ``builtin:mmlu_pro`` (the real output texts of the eight models;
``benchmarks.mmlu_pro_bench``) unless ``--bench`` names one, then runs the ``tune`` use case (what
``mmo tune`` runs) once per objective: match the best single model (the default), beat the
shipped ``cascade-agree`` (``--beat cascade-agree``), and the most accurate at 6 % and 15 % of
gpt-4o's train cost per task (``--max-cost``). Every figure of a chosen strategy is from its live
run through the run API on the recorded answers. Targets (issue 10), on the test split:

* the bar: beat ``cascade-agree`` (more accurate at no more cost, or as accurate for less);
* stretch: gpt-4o's accuracy at <= 6 % of its cost; gpt-4o + 2.0 points at <= 15 % of its cost;
* ``mmo tune`` over the whole set in under a minute, learned-router training included.

Writes ``benchmarks/results/tune_mmlu_pro.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.mmlu_pro_bench import REPLAY, build
from mmo.app.bench.tune import TuneOutcome, TuneRequest, tune
from mmo.app.bench.tune_live import run_live
from mmo.app.bench.tune_objective import Objective
from mmo.app.bench.tune_sim import Figures
from mmo.app.profile_choice import resolve_profile
from mmo.app.settings import AppEnv, ProfileChoice
from mmo.core.paths import MmoPaths

RESULTS = Path(__file__).resolve().parent / "results" / "tune_mmlu_pro.json"
GPT4O = "replay:gpt-4o-2024-05-13"


def environment(home: Path) -> AppEnv:
    environ = {"MMO_HOME": str(home)}
    return AppEnv(environ, Path.cwd(), MmoPaths.from_env(environ), notice=lambda _: None)


def run(bench: Path, objective: Objective, env: AppEnv) -> tuple[TuneOutcome, float]:
    started = time.perf_counter()
    outcome = asyncio.run(tune(TuneRequest(str(bench), objective=objective), env))
    return outcome, time.perf_counter() - started


def gpt4o_cost_per_task(outcome: TuneOutcome, split: str) -> float:
    view = outcome.tune_set.train if split == "train" else outcome.tune_set.test
    return sum(answer.cost_usd for answer in view.answers[GPT4O]) / view.size


def row(name: str, test: Figures, gpt4o: Figures, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "strategy": name,
        "test_accuracy": round(100 * test.accuracy, 2),
        "test_cost_per_task": test.cost_per_task,
        "share_of_gpt4o_cost": round(100 * test.cost_usd / gpt4o.cost_usd, 2),
        **(extra or {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, help="a bench run of the full set (default: built in a temporary directory)")
    parser.add_argument("--texts", type=Path, help="output texts over the recorded ones (benchmarks.mmlu_pro_bench)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mmo-tune-bench-") as scratch:
        started = time.perf_counter()
        bench = args.bench or build(REPLAY, Path(scratch) / "mmlu-pro-full", args.texts).root
        built_s = time.perf_counter() - started
        env = environment(Path(scratch) / "home")
        report(bench, env, built_s)


def report(bench: Path, env: AppEnv, built_s: float) -> None:
    match, seconds = run(bench, Objective(), env)
    gpt4o_train = gpt4o_cost_per_task(match, "train")
    objectives = {
        "beat cascade-agree (--beat cascade-agree)": Objective("beat", profile="cascade-agree"),
        "at most 6 % of gpt-4o's cost (--max-cost)": Objective("max-cost", 0.06 * gpt4o_train),
        "at most 15 % of gpt-4o's cost (--max-cost)": Objective("max-cost", 0.15 * gpt4o_train),
    }
    outcomes: dict[str, TuneOutcome | str] = {"match the best single model (default)": match}
    for name, objective in objectives.items():
        try:
            outcomes[name] = run(bench, objective, env)[0]
        except Exception as error:  # an objective nothing meets: reported, not fatal
            outcomes[name] = f"{type(error).__name__}: {error}"
    best = match.baselines[0]
    cascade = shipped("cascade-agree", match, env)
    rows = [row("gpt-4o alone (the best single model on train)", best.test, best.test), row("oracle", match.baselines[1].test, best.test)]
    rows.append(row("cascade-agree (the shipped profile)", cascade, best.test))
    for name, outcome in outcomes.items():
        if isinstance(outcome, str):
            rows.append({"strategy": name, "error": outcome})
            continue
        assert outcome.measured is not None and outcome.chosen is not None
        m = outcome.measured
        rows.append(row(name, m.test, best.test, {"chosen": outcome.describe(outcome.chosen.node), "kind": outcome.chosen.kind,
                                                  "train_accuracy": round(100 * m.train.accuracy, 2), "warnings": list(outcome.warnings)}))  # fmt: skip
    targets = judge(rows, cascade, best.test, outcomes)
    summary = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "bench": {"tasks": match.tune_set.train.size + match.tune_set.test.size, "built_s": round(built_s, 1)},
        "tune_seconds": round(seconds, 1),
        "tune_phases_s": {k: round(v, 1) for k, v in match.seconds.items()},
        "strategies_tried": match.tried,
        "rows": rows,
        "targets": targets,
    }
    print_table(summary)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    temporary = RESULTS.with_suffix(".tmp")
    temporary.write_text(json.dumps(summary, indent=2) + "\n")
    temporary.replace(RESULTS)


def shipped(name: str, outcome: TuneOutcome, env: AppEnv) -> Figures:
    """A shipped profile run live on the test split's recorded answers, as tune runs its choice."""
    profile = resolve_profile(ProfileChoice(profile=name), env).profile
    return asyncio.run(run_live(profile, outcome.tune_set.test, env)).figures


def judge(rows: list[dict[str, Any]], cascade: Figures | None, gpt4o: Figures, outcomes: dict[str, Any]) -> dict[str, Any]:
    chosen = [o.measured.test for o in outcomes.values() if not isinstance(o, str) and o.measured is not None]
    share = [(f, f.cost_usd / gpt4o.cost_usd) for f in chosen]
    bar = cascade is not None and any(
        (f.correct > cascade.correct and f.cost_usd <= cascade.cost_usd) or (f.correct >= cascade.correct and f.cost_usd < cascade.cost_usd) for f in chosen
    )
    return {
        "beats cascade-agree on test": bar,
        "gpt-4o accuracy at <= 6 % of its cost": any(f.correct >= gpt4o.correct and s <= 0.06 for f, s in share),
        "gpt-4o + 2.0 points at <= 15 % of its cost": any(f.accuracy >= gpt4o.accuracy + 0.02 and s <= 0.15 for f, s in share),
    }


def print_table(summary: dict[str, Any]) -> None:
    print(f"MMLU-Pro, {summary['bench']['tasks']:,} tasks, 8 models; mmo tune {summary['tune_seconds']} s "
          f"({', '.join(f'{k} {v} s' for k, v in summary['tune_phases_s'].items())}), {summary['strategies_tried']:,} strategies")  # fmt: skip
    print(f"{'strategy':48} {'test acc':>8} {'$/task':>10} {'% gpt-4o':>9}")
    for r in summary["rows"]:
        if "error" in r:
            print(f"{r['strategy'][:48]:48} {r['error']}")
            continue
        print(f"{r['strategy'][:48]:48} {r['test_accuracy']:7.2f}% {r['test_cost_per_task']:10.6f} {r['share_of_gpt4o_cost']:8.2f}%")
        if "chosen" in r:
            print(f"    chosen ({r['kind']}): {r['chosen']}")
            for warning in r["warnings"]:
                print(f"    warning: {warning}")
    for target, met in summary["targets"].items():
        print(f"target: {target}: {'met' if met else 'not met'}")


if __name__ == "__main__":
    main()
