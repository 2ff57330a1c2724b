"""The offline demo: why mmo exists, on one screen, in seconds, with no key and no network.

``demo_overview`` benches the bundled MMLU-Pro sample (300 questions, real recorded answers of
eight models) through every single model and the profiles that route between them, with the
same bench code a user runs (``mmo.app.bench``), in a scratch directory; then it picks one
question that shows the point (the cheapest model got it wrong, the routing profile got it right)
and runs it through that profile as ``mmo ask`` would, with its trace. ``demo_task`` picks a
question for ``mmo demo --id``.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from mmo.app.bench.report import BenchSummary
from mmo.app.bench.results import TaskResult
from mmo.app.bench.tasks import Task
from mmo.app.outcome import RunOutcome
from mmo.app.settings import AppEnv, ProfileChoice, RunSettings
from mmo.catalog.endpoints import ProviderSettings
from mmo.core.errors import UnknownName
from mmo.core.types import frozen_mapping

DEMO_REPLAY = "builtin:mmlu_pro_sample"
SAMPLE_DATA = "mmlu_pro_sample"  # --replay-data for every profile the demo runs
DEMO_PROFILE = "demo"  # its aliases name the eight recorded models
DEMO_MODELS = ("mistral7b", "llama8b", "mixtral", "llama70b", "flash", "jamba", "pro", "gpt4o")
DEMO_PROFILES = ("cascade-agree", "tuned")
CHEAP_MODEL = "flash"  # the model the showcase question shows going wrong


@dataclass(frozen=True, slots=True)
class DemoTask:
    id: str
    prompt: str
    reference: str | None = None
    category: str | None = None


@dataclass(frozen=True, slots=True)
class DemoOverview:
    summary: BenchSummary
    task: DemoTask  # the showcase question
    cheap_answer: TaskResult  # the cheap model's (wrong) answer to it
    routed: RunOutcome  # the profile's run on it, with its trace
    routed_correct: bool | None  # the check's verdict on the profile's answer
    routed_letter: str | None  # what the check read from it
    profile: str


def demo_task(task_id: str | None) -> DemoTask:
    """The named task, or the sample's first one."""
    from mmo.providers.replay import ReplayProvider

    settings = ProviderSettings("replay", "replay", needs_key=False, options=frozen_mapping({"path": DEMO_REPLAY}))
    provider = ReplayProvider(settings)
    ids = provider.task_ids()
    chosen = task_id or ids[0]
    if chosen not in ids:
        raise UnknownName("demo task", chosen, ids)
    return DemoTask(chosen, provider.prompt_for(chosen))


async def demo_overview(env: AppEnv, *, profiles: tuple[str, ...] = DEMO_PROFILES) -> DemoOverview:
    """The sample benched through the eight models and ``profiles``, and one question run live."""
    from mmo.app.bench.bench import BenchRequest, run_bench
    from mmo.app.bench.report import summarize

    # Every target reads the sample (the tuned profile names the full set, a second longer load).
    settings = RunSettings(choice=ProfileChoice(profile=DEMO_PROFILE, replay_data=SAMPLE_DATA), read_cache=False, write_cache=False)
    with tempfile.TemporaryDirectory(prefix="mmo-demo-") as scratch:
        request = BenchRequest(
            tasks=DEMO_REPLAY, models=DEMO_MODELS, profiles=profiles, settings=settings, concurrency=32, output_dir=str(Path(scratch) / "bench"), log_text=False
        )
        outcome = await run_bench(request, replace(env, notice=lambda _: None))
    from mmo.app.bench.tasks import load_task_set

    task_set = load_task_set(DEMO_REPLAY)
    summary = summarize(outcome.results, task_set.tasks, title="the bundled MMLU-Pro sample")
    showcase = profiles[-1]
    task, cheap = _showcase(task_set.tasks, outcome.results, f"profile:{showcase}")
    routed = await _run_one(task, showcase, env)
    verdict = task_set.check_for(task).verdict(routed.completion.text, task.reference) if routed.completion is not None else None
    return DemoOverview(
        summary,
        DemoTask(task.id, task.prompt, str(task.reference), task.category),
        cheap,
        routed,
        verdict.correct if verdict is not None else None,
        verdict.extracted if verdict is not None else None,
        showcase,
    )


def _showcase(tasks: tuple[Task, ...], results: tuple[TaskResult, ...], profile_label: str) -> tuple[Task, TaskResult]:
    """The first question the cheap model got wrong and the profile got right (else the first)."""
    by_key = {(r.target, r.task_id): r for r in results}
    for task in tasks:
        cheap, routed = by_key.get((CHEAP_MODEL, task.id)), by_key.get((profile_label, task.id))
        if cheap is not None and routed is not None and cheap.correct is False and routed.correct is True:
            return task, cheap
    return tasks[0], by_key[(CHEAP_MODEL, tasks[0].id)]


async def _run_one(task: Task, profile: str, env: AppEnv) -> RunOutcome:
    from mmo.app.engine import open_engine

    settings = RunSettings(choice=ProfileChoice(profile=profile, replay_data=SAMPLE_DATA), read_cache=False, write_cache=False)
    async with open_engine(settings, env, log_runs=False) as engine:
        return await engine.run(task.request())

