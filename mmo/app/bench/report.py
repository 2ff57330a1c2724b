"""A bench run's report: per target (a model or a profile), and per target in each category,
from the stored results alone (no call is made).

Per target: its results (one per task; a later result for the same task replaces an earlier one),
tasks with no result yet (``missing``), answers, correct answers, accuracy (correct / results:
an error or an answer the check could not judge counts as not correct) with its 95 % Wilson
interval, cost, cost per task and per correct answer, the LLM judge's cost apart, p50 / p95
latency and p50 time to first token over the results that recorded them (failures included:
their wait was real), tokens, errors by class, and whether it is on the cost/accuracy frontier.

An unknown figure is never counted as 0: a cost some result did not record makes the target's
``cost_usd`` (and what derives from it) None, while ``known_cost_usd`` keeps the sum of the
known ones and ``unknown_cost`` counts the others. A target whose cost is unknown cannot be
placed against the others, so it is never on the frontier. The frontier compares cost per task
(so targets with different numbers of results compare fairly) with accuracy, without the
judge's cost, which measures the check and not the target.

``summary_json`` and ``summary_csv`` are the machine renderings (``--json``, ``--csv``).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping, Sequence

from mmo.app.bench.results import TaskResult
from mmo.app.bench.stats import Point, pareto_frontier, percentile, wilson_interval
from mmo.app.bench.tasks import Task

NO_CATEGORY = "(none)"  # the category of tasks that name none


@dataclass(frozen=True, slots=True)
class TargetSummary:
    target: str  # ``Target.label``
    tasks: int  # results (one per task)
    missing: int  # tasks of the set with no result for this target (a run stopped early)
    answered: int
    correct: int
    unjudged: int  # answered, but the check could not judge it
    interval: tuple[float, float]  # the accuracy's 95 % Wilson interval
    known_cost_usd: float
    unknown_cost: int  # results whose cost is unknown
    known_judge_cost_usd: float
    unknown_judge_cost: int  # answers to judge-checked tasks whose judge cost is unknown
    p50_latency_ms: float | None
    p95_latency_ms: float | None
    p50_ttft_ms: float | None
    input_tokens: int
    output_tokens: int
    unknown_tokens: int  # answers that recorded no token counts
    errors: tuple[tuple[str, int], ...]  # (error class, count), most frequent first
    on_frontier: bool = False

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.tasks if self.tasks else None

    @property
    def cost_usd(self) -> float | None:
        """The total cost, or None when some result's cost is unknown."""
        return None if self.unknown_cost else self.known_cost_usd

    @property
    def cost_per_task(self) -> float | None:
        return self.known_cost_usd / self.tasks if self.tasks and not self.unknown_cost else None

    @property
    def cost_per_correct(self) -> float | None:
        return self.known_cost_usd / self.correct if self.correct and not self.unknown_cost else None

    @property
    def judge_cost_usd(self) -> float | None:
        return None if self.unknown_judge_cost else self.known_judge_cost_usd


@dataclass(frozen=True, slots=True)
class CategorySummary:
    category: str
    tasks: int  # tasks of the set in this category
    targets: tuple[TargetSummary, ...]  # each target on this category's tasks (frontier included)


@dataclass(frozen=True, slots=True)
class BenchSummary:
    targets: tuple[TargetSummary, ...]  # in the order the results first name them
    categories: tuple[CategorySummary, ...]  # by name, tasks without a category last
    task_count: int
    frontier: tuple[str, ...]  # the targets on the frontier, by increasing cost per task
    stray_results: int = 0  # results for tasks not in the task set: left out
    title: str = ""  # what the report is of (a bench run's id), for headings

    @property
    def has_judge(self) -> bool:
        return any(t.known_judge_cost_usd or t.unknown_judge_cost for t in self.targets)

    @property
    def has_ttft(self) -> bool:
        return any(t.p50_ttft_ms is not None for t in self.targets)


def summarize(results: Iterable[TaskResult], tasks: Sequence[Task], *, title: str = "") -> BenchSummary:
    """The report of a bench run: ``results`` as stored, ``tasks`` the run's task set."""
    known = {task.id: task for task in tasks}
    latest: dict[tuple[str, str], TaskResult] = {}
    order: dict[str, None] = {}
    stray = 0
    for result in results:
        if result.task_id not in known:
            stray += 1
            continue
        order.setdefault(result.target, None)
        latest[(result.target, result.task_id)] = result
    targets = list(order)
    judged = {task.id for task in tasks if _check_kind(task) == "judge"}
    overall = _summaries(targets, [t.id for t in tasks], latest, judged)
    categories = tuple(
        CategorySummary(name, len(ids), _summaries(targets, ids, latest, judged)) for name, ids in _by_category(tasks)
    )
    frontier = tuple(s.target for s in sorted((s for s in overall if s.on_frontier), key=_frontier_order))
    return BenchSummary(overall, categories, len(known), frontier, stray, title)


def _check_kind(task: Task) -> str | None:
    kind = task.check.get("kind") if isinstance(task.check, Mapping) else None
    return kind if isinstance(kind, str) else None


def _by_category(tasks: Sequence[Task]) -> list[tuple[str, list[str]]]:
    groups: dict[str, list[str]] = {}
    for task in tasks:
        groups.setdefault(task.category or NO_CATEGORY, []).append(task.id)
    return sorted(groups.items(), key=lambda item: (item[0] == NO_CATEGORY, item[0]))


def _summaries(targets: list[str], task_ids: list[str], latest: dict[tuple[str, str], TaskResult], judged: set[str]) -> tuple[TargetSummary, ...]:
    """Each target over ``task_ids``, with the frontier among them marked."""
    summaries = []
    for target in targets:
        rows = [latest[(target, task_id)] for task_id in task_ids if (target, task_id) in latest]
        summaries.append(_target_summary(target, rows, len(task_ids) - len(rows), judged))
    points = [Point(s.target, s.cost_per_task, s.correct / s.tasks) for s in summaries if s.cost_per_task is not None and s.tasks]
    on_frontier = {p.name for p in pareto_frontier(points)}
    return tuple(replace(s, on_frontier=s.target in on_frontier) for s in summaries)


def _frontier_order(summary: TargetSummary) -> tuple[float, float, str]:
    return (summary.cost_per_task or 0.0, -(summary.accuracy or 0.0), summary.target)


def _target_summary(target: str, rows: list[TaskResult], missing: int, judged: set[str]) -> TargetSummary:
    answered = [r for r in rows if r.answer is not None]
    correct = sum(1 for r in rows if r.correct is True)
    errors = Counter(r.error_class or "error" for r in rows if r.answer is None)
    judged_answers = [r for r in answered if r.task_id in judged]
    return TargetSummary(
        target=target,
        tasks=len(rows),
        missing=missing,
        answered=len(answered),
        correct=correct,
        unjudged=sum(1 for r in answered if r.correct is None),
        interval=wilson_interval(correct, len(rows)),
        known_cost_usd=sum(r.cost_usd for r in rows if r.cost_usd is not None),
        unknown_cost=sum(1 for r in rows if r.cost_usd is None),
        known_judge_cost_usd=sum(r.judge_cost_usd for r in rows if r.judge_cost_usd is not None),
        unknown_judge_cost=sum(1 for r in judged_answers if r.judge_cost_usd is None),
        p50_latency_ms=percentile((r.latency_ms for r in rows if r.latency_ms is not None), 50),
        p95_latency_ms=percentile((r.latency_ms for r in rows if r.latency_ms is not None), 95),
        p50_ttft_ms=percentile((r.ttft_ms for r in rows if r.ttft_ms is not None), 50),
        input_tokens=sum(r.input_tokens or 0 for r in answered),
        output_tokens=sum(r.output_tokens or 0 for r in answered),
        unknown_tokens=sum(1 for r in answered if r.input_tokens is None or r.output_tokens is None),
        errors=tuple(sorted(errors.items(), key=lambda item: (-item[1], item[0]))),
    )


def summary_json(summary: BenchSummary) -> dict[str, Any]:
    """The summary as plain JSON values (``--json``); an unknown figure is null, never 0."""
    return {
        "title": summary.title,
        "task_count": summary.task_count,
        "stray_results": summary.stray_results,
        "frontier": list(summary.frontier),
        "targets": [target_json(t) for t in summary.targets],
        "categories": [
            {"category": c.category, "tasks": c.tasks, "targets": [target_json(t) for t in c.targets]} for c in summary.categories
        ],
    }


def target_json(t: TargetSummary) -> dict[str, Any]:
    return {
        "target": t.target,
        "tasks": t.tasks,
        "missing": t.missing,
        "answered": t.answered,
        "correct": t.correct,
        "unjudged": t.unjudged,
        "accuracy": t.accuracy,
        "interval_95": list(t.interval),
        "cost_usd": t.cost_usd,
        "known_cost_usd": t.known_cost_usd,
        "unknown_cost_results": t.unknown_cost,
        "cost_per_task_usd": t.cost_per_task,
        "cost_per_correct_usd": t.cost_per_correct,
        "judge_cost_usd": t.judge_cost_usd,
        "known_judge_cost_usd": t.known_judge_cost_usd,
        "unknown_judge_cost_results": t.unknown_judge_cost,
        "p50_latency_ms": t.p50_latency_ms,
        "p95_latency_ms": t.p95_latency_ms,
        "p50_ttft_ms": t.p50_ttft_ms,
        "input_tokens": t.input_tokens,
        "output_tokens": t.output_tokens,
        "unknown_token_results": t.unknown_tokens,
        "errors": dict(t.errors),
        "on_frontier": t.on_frontier,
    }


CSV_COLUMNS = (
    "scope", "category", "target", "tasks", "missing", "answered", "correct", "accuracy", "interval_low", "interval_high",
    "cost_usd", "known_cost_usd", "unknown_cost_results", "cost_per_task_usd", "cost_per_correct_usd", "judge_cost_usd",
    "p50_latency_ms", "p95_latency_ms", "p50_ttft_ms", "input_tokens", "output_tokens", "errors", "on_frontier",
)  # fmt: skip


def summary_csv(summary: BenchSummary) -> str:
    """One row per target over all tasks (``scope`` "all"), then one per category and target
    (``scope`` "category"); an unknown figure is an empty cell, never 0."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for target in summary.targets:
        writer.writerow(_csv_row("all", "", target))
    for category in summary.categories:
        for target in category.targets:
            writer.writerow(_csv_row("category", category.category, target))
    return out.getvalue()


def _csv_row(scope: str, category: str, t: TargetSummary) -> list[str]:
    values: list[Any] = [
        scope, category, t.target, t.tasks, t.missing, t.answered, t.correct, t.accuracy, t.interval[0], t.interval[1],
        t.cost_usd, t.known_cost_usd, t.unknown_cost, t.cost_per_task, t.cost_per_correct, t.judge_cost_usd,
        t.p50_latency_ms, t.p95_latency_ms, t.p50_ttft_ms, t.input_tokens, t.output_tokens,
        ";".join(f"{name}={count}" for name, count in t.errors), "yes" if t.on_frontier else "",
    ]  # fmt: skip
    return ["" if value is None else repr(value) if isinstance(value, float) else str(value) for value in values]
