"""Every answer a bench run got, scored by its task's check into a ``TaskResult``.

Local checks (exact, choice, number, contains, regex, JSON Schema) read the answer; an LLM judge
asks its model through the one run API (an engine on the bench's base profile, opened only when a
task set has judge checks), and its cost is kept apart from the answer's. An answer that failed
keeps its error class and is not judged (``correct`` is None). Tasks a stopped target never
answered have no result: the report counts them as missing, and ``--resume`` answers them.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Mapping, Sequence

from mmo.app.bench.checks import Verdict
from mmo.app.bench.results import TaskResult
from mmo.app.bench.runner import AnswerRecord, TargetRun
from mmo.app.bench.tasks import Task, TaskSet
from mmo.app.settings import AppEnv, RunSettings
from mmo.core.errors import BudgetExceeded
from mmo.core.protocols import Provider
from mmo.runtime.spend import RunCap

if TYPE_CHECKING:
    from mmo.app.engine import Engine

JUDGES_AT_ONCE = 8  # judge calls in flight together


async def score_answers(
    task_set: TaskSet,
    runs: Sequence[TargetRun],
    settings: RunSettings,
    env: AppEnv,
    *,
    providers: Mapping[str, Provider] | None = None,
    log_text: bool = True,
    cap: RunCap | None = None,
) -> list[TaskResult]:
    """The results of every answered task of every target run, in target then task order.
    ``cap``: what is left of the bench's ``--max-cost`` (judges spend under it too)."""
    from mmo.app.engine import open_engine

    needs_judge = any(check.needs_judge for check in task_set.checks.values())
    async with AsyncExitStack() as stack:
        engine = await stack.enter_async_context(open_engine(settings, env, providers=providers, run_cap=cap)) if needs_judge else None
        if engine is not None:
            for model in task_set.judge_models():
                engine.model_node(model)  # an unknown judge fails here, before any judge call
        room = asyncio.Semaphore(JUDGES_AT_ONCE)

        async def one(task: Task, label: str, answer: AnswerRecord) -> TaskResult:
            async with room:
                return await score_one(task_set, task, label, answer, engine, log_text=log_text)

        jobs = [one(task, run.target.label, run.answers[task.id]) for run in runs for task in task_set.tasks if task.id in run.answers]
        return list(await asyncio.gather(*jobs))


async def score_one(task_set: TaskSet, task: Task, label: str, answer: AnswerRecord, engine: Engine | None, *, log_text: bool = True) -> TaskResult:
    verdict = Verdict(correct=None)
    if answer.answer is not None:
        check = task_set.check_for(task)
        if check.needs_judge:
            assert engine is not None
            try:
                verdict = await check.judge(answer.answer, task, engine, log_text=log_text)
            except BudgetExceeded as refused:  # the answer is kept; only its judgement is missing
                verdict = Verdict(correct=None, reason=f"not judged: {refused.message}")
        else:
            verdict = check.verdict(answer.answer, task.reference)
    return result_of(task, label, answer, verdict)


def result_of(task: Task, label: str, answer: AnswerRecord, verdict: Verdict) -> TaskResult:
    models = tuple(step.split(" (", 1)[0] for step in answer.route.split(" > ") if step)
    return TaskResult(
        task_id=task.id,
        target=label,
        answer=answer.answer,
        correct=verdict.correct,
        score=verdict.score,
        extracted=verdict.extracted,
        cost_usd=answer.cost_usd,
        judge_cost_usd=verdict.judge_cost_usd,
        latency_ms=answer.latency_ms,
        ttft_ms=answer.ttft_ms,
        input_tokens=answer.input_tokens,
        output_tokens=answer.output_tokens,
        error_class=answer.error_class,
        error=answer.error if answer.answer is None else verdict.reason,  # why it failed, or why the check said no
        model_id=answer.model_id,
        models=models,
        cached=answer.cached,
        truncated=answer.truncated,
    )
