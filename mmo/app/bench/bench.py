"""The ``bench`` use case: a task set through every model and profile asked for, answers scored
and stored with a lockfile, so reports, ``--compare`` and ``mmo tune`` need no new calls.

The targets run one after another, each as a batch (``mmo.app.bench.runner``); a stop (Ctrl-C,
``--max-cost`` reached, a budget) ends the bench after that target's batch has written what it
finished, and ``--resume`` goes on from there. Whatever was answered is scored and stored, so
nothing paid for is lost. No typer, no rich.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from mmo.app.batch.control import BatchControl, BatchObserver
from mmo.app.batch.estimate import BatchEstimate
from mmo.app.batch.progress import INTERRUPTED, BatchStop
from mmo.app.bench.results import BenchDir, BenchInfo, Target, TaskResult, write_results
from mmo.app.bench.runner import BenchPlan, TargetRun, run_target, write_inputs
from mmo.app.bench.store import bench_root, find_bench, mark_latest, new_bench_id, read_info, sha256_of, write_info, write_lock, write_tasks
from mmo.app.bench.tasks import TaskSet, load_task_set, task_to_json
from mmo.app.settings import AppEnv, ProfileChoice, RunSettings
from mmo.core.errors import ConfigError
from mmo.core.protocols import Provider
from mmo.runtime.spend import RunCap


@dataclass(frozen=True, slots=True)
class BenchRequest:
    """What ``mmo bench`` is asked to do."""

    tasks: str  # a task-set path or builtin:NAME
    models: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    settings: RunSettings = field(default_factory=RunSettings)  # choice.profile: the base profile for --models
    concurrency: int = 16
    max_cost_usd: float | None = None
    allow_unknown_prices: bool = False
    log_text: bool = True
    resume: str | None = None  # a bench id (or "latest") to continue
    output_dir: str | None = None  # keep the run here instead of the data dir
    default_check: Any = None  # --check

    @property
    def targets(self) -> tuple[Target, ...]:
        found = [Target("model", name) for name in self.models] + [Target("profile", name) for name in self.profiles]
        if not found:
            raise ConfigError("nothing to bench: name models with --models a,b and/or profiles with --profiles p1,p2")
        labels = [target.label for target in found]
        if len(set(labels)) != len(labels):
            raise ConfigError(f"a target is named twice: {', '.join(sorted({x for x in labels if labels.count(x) > 1}))}")
        return tuple(found)


@dataclass(frozen=True, slots=True)
class BenchOutcome:
    bench: BenchDir
    info: BenchInfo
    runs: tuple[TargetRun, ...]
    results: tuple[TaskResult, ...]
    stop: BatchStop | None  # why the bench ended before its last target, if it did
    not_run: tuple[Target, ...]  # targets a stop left untouched
    pending: int  # tasks of the targets that ran that have no answer yet (resume to finish)


def open_plan(request: BenchRequest, env: AppEnv, providers: Mapping[str, Provider] | None = None) -> tuple[BenchPlan, TaskSet]:
    """The task set read and checked (every check builds before anything is spent), every
    target found, and the bench's directory chosen: new, or the one ``--resume`` names (same
    tasks and targets)."""
    where = request.tasks if request.tasks.startswith("builtin:") else env.cwd / Path(request.tasks).expanduser()
    task_set = load_task_set(where, default_check=request.default_check)
    targets = request.targets
    check_targets(targets, request.settings, env, providers)
    if request.resume is not None:
        bench = find_bench(request.resume, env.paths, env.cwd)
        info = read_info(bench)
        if info.tasks_sha256 != task_set.sha256 or tuple(info.targets) != targets:
            raise ConfigError(f"bench run {info.bench_id} was for other tasks or targets: run it with the same TASKS, --models and --profiles, or start a new one")
        bench_id = info.bench_id
    else:
        bench_id = _unused_id(bench_root(env.paths), new_bench_id(request.tasks))
        bench = BenchDir(env.cwd / Path(request.output_dir).expanduser()) if request.output_dir else BenchDir(bench_root(env.paths) / bench_id)
        if bench.info_path.exists():
            raise ConfigError(f"{bench.root} already holds a bench run: continue it with --resume {bench.root}, or choose another -o DIR")
    plan = BenchPlan(
        bench_id=bench_id,
        directory=bench.root,
        tasks=task_set.tasks,
        targets=targets,
        settings=request.settings,
        concurrency=request.concurrency,
        max_cost_usd=request.max_cost_usd,
        allow_unknown_prices=request.allow_unknown_prices,
        log_text=request.log_text,
        retry_errors=request.resume is not None,
    )
    return plan, task_set


def check_targets(targets: Sequence[Target], settings: RunSettings, env: AppEnv, providers: Mapping[str, Provider] | None) -> None:
    """Every profile loads and every model is known to the base profile, before the bench writes
    or spends anything (a typo is not an empty run left in the store)."""
    from mmo.app.model_nodes import model_check
    from mmo.app.profile_choice import resolve_profile

    quiet = replace(env, notice=lambda _: None)  # the runs themselves say what must be said
    for target in targets:
        if target.kind == "model":  # as its batch will resolve it: -m NAME over the base profile
            model_check(resolve_profile(replace(settings.choice, model=target.name), quiet).profile, providers)(target.name)
        else:
            resolve_profile(ProfileChoice(profile=target.name, replay_data=settings.choice.replay_data), quiet)


def _unused_id(root: Path, wanted: str) -> str:
    """``wanted``, or ``wanted-2``, ``-3``... when a run started in the same second holds it."""
    found, count = wanted, 1
    while (root / found).exists() and count < 1000:
        count += 1
        found = f"{wanted}-{count}"
    return found


async def run_bench(
    request: BenchRequest,
    env: AppEnv,
    *,
    observer_for: Callable[[Target], BatchObserver] | None = None,
    control: BatchControl | None = None,
    providers: Mapping[str, Provider] | None = None,
) -> BenchOutcome:
    from mmo.app.bench.scoring import score_answers

    plan, task_set = open_plan(request, env, providers)
    bench = BenchDir(plan.directory)
    info = _start(bench, plan, task_set, env)
    runs: list[TargetRun] = []
    stop: BatchStop | None = None
    spent = 0.0
    for target in plan.targets:
        if control is not None and control.presses:  # Ctrl-C between two targets' batches
            stop = BatchStop(INTERRUPTED, "interrupted before this target started")
            break
        observer = observer_for(target) if observer_for is not None else None
        run = await run_target(plan, target, env, spent_by_others=spent, observer=observer, control=control, providers=providers)
        runs.append(run)
        spent += run.report.spent_usd
        if run.report.stop is not None:
            stop = run.report.stop
            break
    cap = RunCap(plan.max_cost_usd, spent, plan.allow_unknown_prices) if plan.max_cost_usd is not None else None
    results = await score_answers(task_set, runs, plan.settings, env, providers=providers, log_text=plan.log_text, cap=cap)
    write_results(bench.results_path, results)
    write_lock(bench, lock_of(info, runs, env))
    mark_latest(env.paths, bench)
    # Unanswered, or failed for infrastructure reasons (429, 5xx, timeouts): --resume asks again.
    pending = sum(len(plan.tasks) - len(run.answers) + sum(1 for a in run.answers.values() if a.status == "infra_error") for run in runs)
    return BenchOutcome(bench, info, tuple(runs), tuple(results), stop, tuple(plan.targets[len(runs) :]), pending)


def _start(bench: BenchDir, plan: BenchPlan, task_set: TaskSet, env: AppEnv) -> BenchInfo:
    """The bench's metadata and tasks, written once (a resumed bench keeps its own)."""
    if bench.info_path.is_file():
        return read_info(bench)
    info = BenchInfo(
        bench_id=plan.bench_id,
        tasks_path=str(task_set.path),
        tasks_sha256=task_set.sha256,
        targets=tuple(plan.targets),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        task_count=len(plan.tasks),
        notes={"base_profile": plan.settings.choice.profile, "params": dict(plan.settings.params)},
    )
    write_tasks(bench, (task_to_json(task) for task in plan.tasks))
    write_inputs(plan)
    write_info(bench, info)
    return info


def lock_of(info: BenchInfo, runs: Sequence[TargetRun], env: AppEnv) -> dict[str, Any]:
    """What a later ``--compare`` needs to say why answers may differ: the models the servers
    reported, where prices came from, the profiles' contents, the task set."""
    models: dict[str, Any] = {}
    profiles: dict[str, str] = {}
    for run in runs:
        answered = run.answers.values()
        models[run.target.label] = {
            "resolved": sorted({a.reported_model or a.model_id for a in answered if a.model_id}),
            "price_source": "; ".join(sorted({a.price_source for a in answered if a.price_source})),
        }
        if run.target.kind == "profile":
            profiles[run.target.name] = profile_hash(run.target.name, env)
    return {
        "bench_id": info.bench_id,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tasks_sha256": info.tasks_sha256,
        "tasks_path": info.tasks_path,
        "models": models,
        "profiles": profiles,
    }


def profile_hash(name: str, env: AppEnv) -> str:
    from mmo.app.profile_choice import resolve_profile

    resolved = resolve_profile(ProfileChoice(profile=name), env)
    return sha256_of(resolved.profile.model_dump(mode="json", by_alias=True))


async def dry_run_bench(request: BenchRequest, env: AppEnv, *, providers: Mapping[str, Provider] | None = None) -> list[tuple[Target, BatchEstimate]]:
    """Each target's expected and worst-case cost, before anything is spent (nothing is written
    but the inputs the estimate reads, in a temporary directory)."""
    import tempfile

    from mmo.app.batch.dry_run import dry_run

    plan, _ = open_plan(request, env, providers)
    estimates: list[tuple[Target, BatchEstimate]] = []
    with tempfile.TemporaryDirectory(prefix="mmo-bench-dry-") as scratch:
        plan = replace(plan, directory=Path(scratch))
        write_inputs(plan)
        for target in plan.targets:
            estimates.append((target, await dry_run(plan.target_job(target, 0.0), env, providers=providers)))
    return estimates

