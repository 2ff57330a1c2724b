"""The bench report's figures per target and per category, and its JSON and CSV renderings, on a
hand-built run whose figures are worked out here."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from typing import Iterable

import pytest

from mmo.app.bench.report import NO_CATEGORY, TargetSummary, summarize, summary_csv, summary_json
from mmo.app.bench.stats import wilson_interval
from tests.bench_report_data import TASKS, results


def by_target(summaries: Iterable[TargetSummary]) -> dict[str, TargetSummary]:
    return {t.target: t for t in summaries}


def test_per_target_figures() -> None:
    summary = summarize(results(), TASKS)
    assert [t.target for t in summary.targets] == ["replay:a", "profile:p", "replay:b", "replay:c"]
    assert summary.task_count == 6 and summary.stray_results == 1
    a, p, b = (by_target(summary.targets)[name] for name in ("replay:a", "profile:p", "replay:b"))

    # a: the later t1 result (right) replaced the earlier (wrong) one: 4 of 6.
    assert (a.tasks, a.missing, a.answered, a.correct, a.unjudged) == (6, 0, 6, 4, 0)
    assert a.accuracy == pytest.approx(4 / 6)
    assert a.interval == wilson_interval(4, 6)
    assert a.cost_usd == pytest.approx(0.006) and a.cost_per_task == pytest.approx(0.001)
    assert a.cost_per_correct == pytest.approx(0.006 / 4)
    assert a.p50_latency_ms == pytest.approx(350.0)  # 100..600: halfway between 300 and 400
    assert a.p95_latency_ms == pytest.approx(575.0)  # 0-based position 5 * 0.95 = 4.75: 500 + 0.75 * 100
    assert a.p50_ttft_ms == pytest.approx(35.0)
    assert (a.input_tokens, a.output_tokens, a.unknown_tokens) == (60, 120, 0)
    assert a.errors == () and a.judge_cost_usd == pytest.approx(0.0001)

    # p: one error (counted as not correct, its latency kept), one unknown cost, a judge.
    assert (p.tasks, p.answered, p.correct) == (6, 5, 4)
    assert p.errors == (("Timeout", 1),)
    assert p.cost_usd is None and p.known_cost_usd == pytest.approx(0.008) and p.unknown_cost == 1
    assert p.cost_per_task is None and p.cost_per_correct is None
    assert p.judge_cost_usd == pytest.approx(0.0005)
    assert p.p95_latency_ms == pytest.approx(50 + 0.75 * (9000 - 50))  # 0-based position 5 * 0.95 = 4.75 in [50] * 5 + [9000]
    assert (p.input_tokens, p.output_tokens) == (50, 100)

    # b has no result for t6.
    assert (b.tasks, b.missing, b.correct) == (5, 1, 2)
    assert b.accuracy == pytest.approx(0.4)


def test_frontier_leaves_out_unknown_costs_and_dominated_targets() -> None:
    summary = summarize(results(), TASKS)
    flags = {t.target: t.on_frontier for t in summary.targets}
    # b: cheapest; a: most accurate of the known costs; c costs more than a for less; p's cost is unknown.
    assert flags == {"replay:a": True, "profile:p": False, "replay:b": True, "replay:c": False}
    assert summary.frontier == ("replay:b", "replay:a")


def test_per_category_breakdown() -> None:
    summary = summarize(results(), TASKS)
    assert [(c.category, c.tasks) for c in summary.categories] == [("law", 2), ("math", 3), (NO_CATEGORY, 1)]
    math = by_target(summary.categories[1].targets)
    assert (math["replay:a"].correct, math["replay:a"].tasks) == (2, 3)
    assert (math["replay:c"].correct, math["profile:p"].correct, math["replay:b"].correct) == (3, 1, 1)
    assert math["profile:p"].errors == (("Timeout", 1),)
    # In math c is right on all three, the most accurate, so on this category's frontier beside a
    # and b; p (1 of 3 at $0.004 / 3 a task) is dominated by a (2 of 3 at $0.001).
    assert {t.target for t in math.values() if t.on_frontier} == {"replay:a", "replay:b", "replay:c"}
    law = by_target(summary.categories[0].targets)
    assert law["profile:p"].cost_usd is None  # its t4 cost is unknown
    uncategorised = by_target(summary.categories[2].targets)
    assert uncategorised["replay:b"].tasks == 0 and uncategorised["replay:b"].missing == 1
    assert uncategorised["replay:b"].accuracy is None and not uncategorised["replay:b"].on_frontier


def test_unknown_judge_cost_is_not_zero() -> None:
    rows = [r for r in results() if r.target == "profile:p"]
    rows[-1] = replace(rows[-1], judge_cost_usd=None)
    p = summarize(rows, TASKS).targets[0]
    assert p.judge_cost_usd is None and p.unknown_judge_cost == 1


def test_json_is_plain_json_with_unknowns_as_null() -> None:
    data = json.loads(json.dumps(summary_json(summarize(results(), TASKS)), allow_nan=False))
    targets = {t["target"]: t for t in data["targets"]}
    assert targets["profile:p"]["cost_usd"] is None
    assert targets["profile:p"]["known_cost_usd"] == pytest.approx(0.008)
    assert targets["profile:p"]["unknown_cost_results"] == 1
    assert targets["profile:p"]["errors"] == {"Timeout": 1}
    assert targets["replay:a"]["interval_95"] == pytest.approx(list(wilson_interval(4, 6)))
    assert data["frontier"] == ["replay:b", "replay:a"]
    assert [c["category"] for c in data["categories"]] == ["law", "math", NO_CATEGORY]


def test_csv_has_a_row_per_target_then_per_category_and_target() -> None:
    rows = list(csv.DictReader(io.StringIO(summary_csv(summarize(results(), TASKS)))))
    assert len(rows) == 4 + 3 * 4
    overall = {r["target"]: r for r in rows if r["scope"] == "all"}
    assert overall["profile:p"]["cost_usd"] == ""  # unknown, never 0
    assert float(overall["profile:p"]["known_cost_usd"]) == pytest.approx(0.008)
    assert overall["profile:p"]["errors"] == "Timeout=1"
    assert float(overall["replay:a"]["accuracy"]) == pytest.approx(4 / 6)
    assert overall["replay:a"]["on_frontier"] == "yes" and overall["replay:c"]["on_frontier"] == ""
    math = [r for r in rows if r["scope"] == "category" and r["category"] == "math"]
    assert {r["target"]: r["correct"] for r in math} == {"replay:a": "2", "profile:p": "1", "replay:b": "1", "replay:c": "3"}
