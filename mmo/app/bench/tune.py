"""The ``tune`` use case: the best strategy over a bench run's models, found from the stored answers
only (no new calls), chosen on the train split, and measured on the test split.

1. ``load_tune_set``: the bench's model answers, split (``tune_data``);
2. ``search``: thousands of strategies scored on train from the recorded answers (``tune_search``);
3. ``choose``: one of them, by the objective, on train figures (``tune_objective``);
4. the chosen strategy run for real through the run API on the recorded answers, on train and on
   test (``tune_live``); its figures are the ones reported, and every task's answering model and
   cost must equal the simulation's (a difference is reported as a warning, never hidden);
5. beside it: the best single model (chosen on train) and the oracle (the cheapest right model of
   each task, or the cheapest model where none is right), on test; and a warning when train and
   test disagree by more than chance allows (over-fitting).

The test split is read only after the choice, and only to report it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Callable, Mapping, Sequence

from mmo.app.bench.store import find_bench
from mmo.app.bench.tune_bits import mask_of
from mmo.app.bench.tune_data import TuneSet, TuneView, in_fit_half, load_tune_set
from mmo.app.bench.tune_live import LiveRun, mismatches, run_live
from mmo.app.bench.tune_objective import Objective, choose
from mmo.app.bench.tune_profile import Written, aliases, profile_data, target_path, write_profile
from mmo.app.bench.tune_search import SHORTLIST, Candidate, SearchOptions, frontier, search, validate
from mmo.app.bench.tune_signals import Signals
from mmo.app.bench.tune_sim import Figures, SimNode, Single, figures, per_task
from mmo.app.settings import AppEnv, ProfileChoice
from mmo.config.schema import Profile
from mmo.core.errors import ConfigError
from mmo.providers.replay import replay_data_path

Progress = Callable[[str], None]
MIN_HALF = 20


@dataclass(frozen=True, slots=True)
class TuneRequest:
    bench: str = "latest"
    models: tuple[str, ...] | None = None
    objective: Objective = field(default_factory=Objective)
    learned: bool = True
    replay: str | None = None  # --replay-data: what a written profile's replay providers read (a built-in's name or a file)
    name: str = "tuned"


@dataclass(frozen=True, slots=True)
class Measured:
    """A strategy's figures on both splits; ``selected``: what the choice compared (train, out of
    fold for a learned or category router)."""

    label: str
    train: Figures
    test: Figures
    selected: Figures | None = None
    right: int = 0  # the train tasks it got right


@dataclass(frozen=True, slots=True)
class TuneOutcome:
    tune_set: TuneSet
    objective: Objective
    tried: int
    frontier: tuple[Candidate, ...]
    best_single: Candidate
    baselines: tuple[Measured, ...]  # the best single model, the oracle, a profile to beat
    halves: tuple[int, int] = (0, 0)  # train tasks strategies were fitted on, and chosen on
    chosen: Candidate | None = None
    measured: Measured | None = None
    mismatched: Mapping[str, int] = field(default_factory=dict)  # split -> tasks where live != simulated
    profile: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    seconds: Mapping[str, float] = field(default_factory=dict)
    created_at: str = ""

    @property
    def names(self) -> dict[str, str]:
        """Each model's alias in the written profile: what tables and the header call it."""
        return aliases(self.tune_set.train.model_ids)

    def describe(self, node: SimNode) -> str:
        return node.describe(self.names)

    def to_json(self) -> dict[str, Any]:
        s = self.tune_set
        out: dict[str, Any] = {
            "bench": s.bench_id,
            "data_sha256": s.data_sha256,
            "tasks": {"train": s.train.size, "test": s.test.size},
            "left_out": dict(s.left_out),
            "models": list(s.labels),
            "tried": self.tried,
            "objective": self.objective.describe(self.best_single, self.names),
            "frontier": [{"strategy": self.describe(c.node), "kind": c.kind, "train": _json(c.select)} for c in self.frontier],
            "baselines": [{"name": b.label, "train": _json(b.train), "test": _json(b.test)} for b in self.baselines],
            "warnings": list(self.warnings),
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }
        if self.chosen is not None and self.measured is not None:
            m = self.measured
            out["chosen"] = {"strategy": self.describe(self.chosen.node), "kind": self.chosen.kind, "train": _json(m.train), "test": _json(m.test)}
            if m.selected is not None:
                out["chosen"]["selected"] = _json(m.selected)
            out["simulation_differs"] = dict(self.mismatched)
        return out

    def header(self) -> list[str]:
        """The comment at the top of the written profile: how it was tuned."""
        assert self.chosen is not None and self.measured is not None
        s, m = self.tune_set, self.measured
        lines = [
            f"Tuned by `mmo tune` on {self.created_at} from bench run {s.bench_id} (data sha256 {s.data_sha256[:16]}).",
            f"Split: train = tasks whose int(sha256(id), 16) is even ({s.train.size:,}), test = the others ({s.test.size:,}); chosen on train only:",
            f"  fitted on {self.halves[0]:,} train tasks (int(sha256(id), 16) // 2 even), chosen by their figures on the other {self.halves[1]:,}.",
            f"Objective: {self.objective.describe(self.best_single, self.names)}.",
            f"Strategy: {self.describe(self.chosen.node)}.",
            f"Train: {_figures(m.train)} (run live on the recorded answers){_selected(m)}.",
            f"Test:  {_figures(m.test)}.",
        ]
        lines += [f"{b.label}: test {_figures(b.test)}." for b in self.baselines]
        lines += [f"Warning: {w}" for w in self.warnings]
        return lines


def _json(f: Figures) -> dict[str, Any]:
    return {"tasks": f.tasks, "correct": f.correct, "accuracy": round(f.accuracy, 6), "cost_usd": round(f.cost_usd, 9), "cost_per_task_usd": round(f.cost_per_task, 9)}


def _figures(f: Figures) -> str:
    return f"{f.accuracy:.1%} right, ${f.cost_per_task:.6f} per task"


def _selected(m: Measured) -> str:
    if m.selected is None or m.selected == m.train:
        return ""
    return f"; {m.selected.accuracy:.1%} at ${m.selected.cost_per_task:.6f} on the train tasks it was chosen on"


async def tune(request: TuneRequest, env: AppEnv, progress: Progress | None = None) -> TuneOutcome:
    say = progress or (lambda _: None)
    clock = _Clock()
    named_replay = replay_data_path(request.replay, env.cwd) if request.replay else None  # a bad name fails before the search
    tune_set = load_tune_set(find_bench(request.bench, env.paths, env.cwd), request.models)
    fit, check = halves(tune_set.train)
    clock.lap("read")
    say(f"fitting strategies over {len(tune_set.labels)} models on {fit.size:,} train tasks")
    found = search(fit, SearchOptions(learned=request.learned), say)
    say(f"checking the {min(len(found), SHORTLIST)} best on the other {check.size:,} train tasks")
    candidates = validate(found, check)
    clock.lap("search")
    names = aliases(tune_set.train.model_ids)
    single = _best_single(tune_set, candidates)
    baselines = [_measured(f"Best single model on train ({single.node.describe(names)})", single.node, tune_set), _oracle(tune_set)]
    beat = await _profile_to_beat(request.objective, tune_set, check, env) if request.objective.goal == "beat" else None
    base = dict(frontier=tuple(frontier(candidates)), best_single=single, tried=len(found), objective=request.objective, tune_set=tune_set, halves=(fit.size, check.size))
    if request.objective.goal == "frontier":
        return TuneOutcome(**base, baselines=tuple(baselines), seconds=clock.laps)  # type: ignore[arg-type]
    chosen = choose(candidates, request.objective, reference=single, baseline=(beat.selected or beat.train, beat.right) if beat else None)
    say(f"chosen on train: {chosen.node.describe(names)}; running it on the recorded answers")
    description = f"Tuned by mmo tune: {chosen.node.describe(names)}"
    description = description if len(description) <= 160 else description[:157] + "..."
    replay = named_replay or tune_set.replay_data
    data = profile_data(chosen.node, tune_set, request.name, description=description, replay=replay, base=_base_profile(tune_set, env))
    measured, mismatched = await _measure_live(chosen, data, tune_set, env)
    clock.lap("live")
    warnings = _warnings(measured, mismatched, tune_set)
    if beat is not None:
        baselines.append(beat)
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    return TuneOutcome(**base, baselines=tuple(baselines), chosen=chosen, measured=measured, mismatched=mismatched,  # type: ignore[arg-type]
                       profile=data, warnings=tuple(warnings), seconds=clock.laps, created_at=when)  # fmt: skip


def halves(train: TuneView) -> tuple[TuneView, TuneView]:
    """The train split's two halves: one to fit strategies on, one to choose among them."""
    fitting = [in_fit_half(task.id) for task in train.tasks]
    fit, check = train.subset("fit", fitting), train.subset("check", [not f for f in fitting])
    if fit.size < MIN_HALF or check.size < MIN_HALF:
        raise ConfigError(
            f"the train split has {train.size} tasks that every tuned model answered ({fit.size} to fit strategies on, {check.size} to choose among them): "
            f"tune needs at least {MIN_HALF} in each; bench more tasks"
        )
    return fit, check


def _best_single(tune_set: TuneSet, candidates: Sequence[Candidate]) -> Candidate:
    """The most accurate model on the whole train split (the cheaper of equals), as scored on the
    half that chooses."""
    full = {label: figures(tune_set.train, Single(label).outcome(tune_set.train, Signals(tune_set.train))) for label in tune_set.labels}
    label = max(full, key=lambda m: (full[m].correct, -full[m].cost_usd))
    return next(c for c in candidates if c.node == Single(label))


async def _measure_live(chosen: Candidate, data: Mapping[str, Any], tune_set: TuneSet, env: AppEnv) -> tuple[Measured, dict[str, int]]:
    profile = _validated(data)
    mismatched: dict[str, int] = {}
    runs: dict[str, LiveRun] = {}
    for view in (tune_set.train, tune_set.test):
        runs[view.name] = await run_live(profile, view, env)
        simulated = per_task(view, chosen.node.outcome(view, Signals(view)))
        mismatched[view.name] = len(mismatches(runs[view.name], simulated))
    return Measured("Chosen", runs["train"].figures, runs["test"].figures, chosen.select), mismatched


def _validated(data: Mapping[str, Any]) -> Profile:
    """The profile as ``mmo`` will load it (its tree built: a learned router's model checked)."""
    from mmo.strategies.build import build_tree

    profile = Profile.model_validate(data)
    build_tree(profile)
    return profile


def _measured(label: str, node: SimNode, tune_set: TuneSet) -> Measured:
    train, test = (figures(v, node.outcome(v, Signals(v))) for v in (tune_set.train, tune_set.test))
    return Measured(label, train, test)


def _oracle(tune_set: TuneSet) -> Measured:
    return Measured("Oracle (the cheapest right model of each task)", oracle(tune_set.train), oracle(tune_set.test))


def oracle(view: TuneView) -> Figures:
    right, cost = 0, 0.0
    for index in range(view.size):
        answers = [view.answers[label][index] for label in view.labels]
        good = [a.cost_usd for a in answers if a.correct]
        right += bool(good)
        cost += min(good) if good else min(a.cost_usd for a in answers)
    return Figures(view.size, right, cost)


async def _profile_to_beat(objective: Objective, tune_set: TuneSet, check: TuneView, env: AppEnv) -> Measured:
    from mmo.app.profile_choice import resolve_profile
    from mmo.core.protocols import leaf_targets
    from mmo.strategies.build import build_tree

    assert objective.profile is not None
    profile = resolve_profile(ProfileChoice(profile=objective.profile), env).profile
    known = set(tune_set.train.model_ids.values())
    missing = sorted({t.id for t in leaf_targets(build_tree(profile))} - known)
    if missing:
        raise ConfigError(f"--beat {objective.profile}: it calls {', '.join(missing)}, which the bench run did not answer with (it has {', '.join(sorted(known))})")
    train = await run_live(profile, tune_set.train, env)
    test = await run_live(profile, tune_set.test, env)
    chosen_on = await run_live(profile, check, env)
    return Measured(f"Profile {objective.profile}", train.figures, test.figures, chosen_on.figures, mask_of(t.correct for t in chosen_on.tasks))


def _base_profile(tune_set: TuneSet, env: AppEnv) -> Profile | None:
    if not tune_set.base_profile:
        return None
    from mmo.app.profile_choice import resolve_profile

    try:
        return resolve_profile(ProfileChoice(profile=tune_set.base_profile), env).profile
    except ConfigError:
        return None  # gone since the bench: providers then come from the bench's own data


def _warnings(measured: Measured, mismatched: Mapping[str, int], tune_set: TuneSet) -> list[str]:
    out = [f"on {n} {split} tasks the live run's answering model or cost differs from the simulation's: the figures are the live run's" for split, n in mismatched.items() if n]
    reference = measured.selected or measured.train
    margin = 2 * _standard_error(reference.accuracy, reference.tasks, measured.test.tasks)
    if reference.accuracy - measured.test.accuracy > max(margin, 0.005):
        out.append(f"train and test disagree: {reference.accuracy:.1%} on train, {measured.test.accuracy:.1%} on test (more than chance explains: over-fitting?)")
    if measured.test.cost_per_task > 1.2 * reference.cost_per_task:
        out.append(f"the strategy costs {measured.test.cost_per_task / reference.cost_per_task - 1:.0%} more per task on test than on train")
    return out


def _standard_error(p: float, n1: int, n2: int) -> float:
    return math.sqrt(max(p * (1 - p), 1e-9) * (1 / max(n1, 1) + 1 / max(n2, 1)))


def save(outcome: TuneOutcome, env: AppEnv, *, name: str | None, output: str | None, force: bool) -> Written:
    """Write the chosen strategy as a profile (``name`` in the user profile dir, or ``output``)."""
    if outcome.chosen is None:
        raise ConfigError("the frontier objective chooses no strategy to write: drop --frontier, or choose with --max-cost / --min-accuracy")
    path = target_path(name, output, env.paths, env.cwd)
    data = dict(outcome.profile) | {"name": path.stem}
    _validated(data)
    return write_profile(path, data, outcome.header(), force=force)


class _Clock:
    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = now - self.last
        self.last = now

