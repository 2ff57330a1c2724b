"""A small bench run, built by hand, whose report figures are worked out in the tests that use it."""

from __future__ import annotations

from mmo.app.bench.results import TaskResult
from mmo.app.bench.tasks import Task

HOSTILE = "<script>alert(1)</script>"


def task(task_id: str, category: str | None, check: str = "choice") -> Task:
    return Task(id=task_id, messages=(), category=category, check={"kind": check})


TASKS = [
    task("t1", "math"),
    task("t2", "math"),
    task("t3", "math"),
    task("t4", "law"),
    task("t5", "law"),
    task("t6", None, check="judge"),
]


def ok(task_id: str, target: str, correct: bool, cost: float | None, latency: float, **extra: object) -> TaskResult:
    if task_id == "t6":  # the judge-checked task
        extra.setdefault("judge_cost_usd", 0.0001)
    return TaskResult(task_id, target, answer="A", correct=correct, cost_usd=cost, latency_ms=latency, input_tokens=10, output_tokens=20, **extra)  # type: ignore[arg-type]


def failed(task_id: str, target: str, error_class: str, latency: float) -> TaskResult:
    return TaskResult(task_id, target, answer=None, correct=None, cost_usd=0.0, latency_ms=latency, error_class=error_class, error="boom")


def results() -> list[TaskResult]:
    """Targets: "replay:a" 4 of 6 at $0.001 a task; "profile:p" 4 of 6 with one cost unknown and a
    judge; "replay:b" 2 of 5 (t6 missing) at $0.0001; "replay:c" 3 of 6 at $0.002: dominated by a."""
    rows = [ok("t1", "replay:a", False, 0.001, 100.0)]  # replaced by the later t1 result below
    rows += [ok(t, "replay:a", t in ("t1", "t2", "t4", "t6"), 0.001, 100.0 * i, ttft_ms=10.0 * i) for i, t in enumerate(["t1", "t2", "t3", "t4", "t5", "t6"], 1)]
    rows += [
        ok("t1", "profile:p", True, 0.002, 50.0),
        ok("t2", "profile:p", False, 0.002, 50.0),
        failed("t3", "profile:p", "Timeout", 9000.0),
        ok("t4", "profile:p", True, None, 50.0),
        ok("t5", "profile:p", True, 0.002, 50.0),
        ok("t6", "profile:p", True, 0.002, 50.0, judge_cost_usd=0.0005),
    ]
    rows += [ok(t, "replay:b", t in ("t3", "t5"), 0.0001, 10.0) for t in ["t1", "t2", "t3", "t4", "t5"]]
    rows += [ok(t, "replay:c", t in ("t1", "t2", "t3"), 0.002, 20.0) for t in ["t1", "t2", "t3", "t4", "t5", "t6"]]
    rows.append(ok("t99", "replay:a", True, 1.0, 1.0))  # a task not in the set: left out
    return rows


def result(task_id: str, target: str, correct: bool | None, error_class: str | None = None) -> TaskResult:
    answer = None if error_class else "A"
    return TaskResult(task_id, target, answer=answer, correct=correct, cost_usd=0.001, error_class=error_class)


# Two lockfiles as the bench writes them: gpt-4o resolved to a new snapshot with new prices, a
# profile edited, another added.
LOCK_BEFORE = {
    "models": {"replay:gpt-4o": {"resolved": ["gpt-4o-2024-05-13"], "price_source": "genai-prices 0.2.3 (2026-10-01)"},
               "replay:mini": {"resolved": ["gpt-4o-mini"], "price_source": "recorded"}},
    "profiles": {"cascade-agree": "aa" * 32},
    "tasks_sha256": "11" * 32,
    "created_at": "2026-11-01T00:00:00Z",
}  # fmt: skip
LOCK_AFTER = {
    "models": {"replay:gpt-4o": {"resolved": ["gpt-4o-2024-08-06"], "price_source": "genai-prices 0.2.4 (2026-12-01)"},
               "replay:mini": {"resolved": ["gpt-4o-mini"], "price_source": "recorded"}},
    "profiles": {"cascade-agree": "bb" * 32, "tuned": "cc" * 32},
    "tasks_sha256": "11" * 32,
    "created_at": "2026-12-01T00:00:00Z",
}  # fmt: skip
