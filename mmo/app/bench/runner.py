"""A bench run: every target (a model or a profile) over every task, through the batch engine.

Each target is one ``mmo batch`` run of the task set (its own input file in the bench directory,
its own batch state under the run id ``bench-<bench id>-<target>``), so a bench gets everything a
batch has: the response cache, concurrency and rate limits, retries and failover, SIGKILL-safe
resume, ``--max-cost`` (one cap for the whole bench: each target's run may spend what the targets
before it left), the run log. A model target runs as ``-m MODEL`` against the base profile (which
names the providers); a profile target runs the profile's strategy.

Once a target's batch ends, its output lines become ``AnswerRecord`` values (the answer with its
cost, latency, tokens, the models called, or the error); the caller scores them
(``mmo.app.bench.scoring``) and stores the results (``mmo.app.bench.store``). Running a bench
again with ``resume`` finds every target's batch and runs only what is unfinished.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from mmo.app.batch.control import BatchControl, BatchObserver
from mmo.app.batch.job import BatchJob, BatchReport
from mmo.app.bench.results import Target
from mmo.app.bench.tasks import Task
from mmo.app.settings import AppEnv, ProfileChoice, RunSettings
from mmo.core.protocols import Provider


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    """One target's answer to one task, as its batch output line gives it."""

    task_id: str
    status: str  # done | failed | infra_error (``mmo.app.batch.outcome``)
    answer: str | None
    model_id: str | None
    reported_model: str | None
    price_source: str | None
    route: str
    cost_usd: float | None
    latency_ms: float | None
    ttft_ms: float | None
    input_tokens: int | None
    output_tokens: int | None
    cached: bool
    truncated: bool
    error_class: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class TargetRun:
    """What one target's batch left: its report and its answers by task id."""

    target: Target
    report: BatchReport
    answers: Mapping[str, AnswerRecord]


@dataclass(frozen=True, slots=True)
class BenchPlan:
    """What a bench runs: the tasks, the targets, and the settings every batch shares."""

    bench_id: str
    directory: Path
    tasks: Sequence[Task]
    targets: Sequence[Target]
    settings: RunSettings = field(default_factory=RunSettings)  # choice.profile: the base profile
    concurrency: int = 16
    max_cost_usd: float | None = None
    allow_unknown_prices: bool = False
    log_text: bool = True
    retry_errors: bool = False  # a resumed bench also asks again what failed for infrastructure reasons

    def target_job(self, target: Target, spent_by_others: float) -> BatchJob:
        """The batch job of one target: the tasks as rows, the target's choice, the cap left."""
        base = self.settings.choice  # its profile names the providers of --models; its replay data holds for all
        choice = replace(base, model=target.name) if target.kind == "model" else ProfileChoice(profile=target.name, replay_data=base.replay_data)
        cap = None if self.max_cost_usd is None else max(self.max_cost_usd - spent_by_others, 1e-12)
        return BatchJob(
            input=str(self.input_path(target)),
            output=str(self.output_path(target)),
            settings=replace(self.settings, choice=choice),
            concurrency=self.concurrency,
            max_cost_usd=cap,
            allow_unknown_prices=self.allow_unknown_prices,
            run_id=batch_run_id(self.bench_id, target),
            retry_errors=self.retry_errors,
            log_text=self.log_text,
        )

    def input_path(self, target: Target) -> Path:
        return self.directory / "inputs" / f"{target_slug(target)}.jsonl"

    def output_path(self, target: Target) -> Path:
        return self.directory / "outputs" / f"{target_slug(target)}.jsonl"


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def target_slug(target: Target) -> str:
    """A file and run-id name for a target: ``replay:gpt-4o`` -> ``model-replay_gpt-4o``."""
    return f"{target.kind}-{_UNSAFE.sub('_', target.name)}"[:80]


def batch_run_id(bench_id: str, target: Target) -> str:
    return f"bench-{bench_id}-{target_slug(target)}"[:100]


def task_row(task: Task) -> dict[str, Any]:
    """A task as a batch input row: its messages, parameters and tags, and the metadata
    ``Task.request`` gives (``id``: the replay provider finds recorded answers by it;
    ``category``: router rules may match it), so a bench row asks exactly what a task asks."""
    metadata = {"id": task.id} if task.category is None else {"id": task.id, "category": task.category}
    row: dict[str, Any] = {"id": task.id, "messages": [m.to_dict() for m in task.messages], "metadata": metadata}
    if task.system is not None:
        row["system"] = task.system
    if task.params:
        row["params"] = dict(task.params)
    if task.tags:
        row["tags"] = list(task.tags)
    if task.schema is not None:
        row["schema"] = dict(task.schema)
    return row


def write_inputs(plan: BenchPlan) -> None:
    """Each target's input file (the same rows for every target), written once: a resumed bench
    finds them as they were, so each batch recognises its own run."""
    from mmo.app.batch.output import write_lines_atomically

    lines = [json.dumps(task_row(task), ensure_ascii=False, separators=(",", ":")) for task in plan.tasks]
    for target in plan.targets:
        path = plan.input_path(target)
        if not path.exists():
            write_lines_atomically(path, lines)


async def run_target(
    plan: BenchPlan,
    target: Target,
    env: AppEnv,
    *,
    spent_by_others: float = 0.0,
    observer: BatchObserver | None = None,
    control: BatchControl | None = None,
    providers: Mapping[str, Provider] | None = None,
) -> TargetRun:
    """Run (or resume) one target's batch and read its answers."""
    from mmo.app.batch.run import run_batch

    plan.output_path(target).parent.mkdir(parents=True, exist_ok=True)
    job = plan.target_job(target, spent_by_others)
    report = await run_batch(job, env, observer=observer, control=control, providers=providers)
    answers = read_answers(report.output) if report.output is not None and report.output.exists() else {}
    return TargetRun(target, report, answers)


def read_answers(path: Path) -> dict[str, AnswerRecord]:
    """A batch output file's lines as answers by task id (pending rows have no line)."""
    answers: dict[str, AnswerRecord] = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                record = answer_record(json.loads(line))
                answers[record.task_id] = record
    return answers


def answer_record(line: Mapping[str, Any]) -> AnswerRecord:
    tokens = line.get("tokens") or {}
    error = line.get("error") or {}
    return AnswerRecord(
        task_id=str(line["id"]),
        status=str(line.get("status", "")),
        answer=line.get("answer"),
        model_id=line.get("model"),
        reported_model=line.get("reported_model"),
        price_source=line.get("price_source"),
        route=line.get("route") or "",
        cost_usd=line.get("cost_usd"),
        latency_ms=line.get("latency_ms"),
        ttft_ms=line.get("ttft_ms"),
        input_tokens=tokens.get("input"),
        output_tokens=tokens.get("output"),
        cached=bool(line.get("cache_hit")),
        truncated=bool(line.get("truncated")),
        error_class=error.get("class"),
        error=error.get("message"),
    )
