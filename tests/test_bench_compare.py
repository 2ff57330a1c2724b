"""``mmo bench --compare``: flipped tasks per target, McNemar's test deciding a regression, and
what changed between the lockfiles."""

from __future__ import annotations

import json
import math

import pytest

from mmo.app.bench.compare import LockChange, compare, comparison_json, lock_changes
from mmo.app.bench.stored import StoredRun
from mmo.core.errors import ConfigError
from tests.bench_report_data import LOCK_AFTER, LOCK_BEFORE, result


def run(label: str, outcomes: dict[str, list[bool]], lock: dict | None = None) -> StoredRun:  # type: ignore[type-arg]
    rows = [result(f"t{i}", target, correct) for target, marks in outcomes.items() for i, correct in enumerate(marks)]
    return StoredRun(label, tuple(rows), lock=lock)


def test_a_significant_drop_is_a_regression_and_names_the_flipped_tasks() -> None:
    previous = run("old", {"m": [True] * 30, "steady": [True, False] * 10, "gone": [True]})
    current_rows = [result(f"t{i}", "m", i >= 12) for i in range(30)]
    current_rows[0] = result("t0", "m", None, error_class="Timeout")
    current = StoredRun("new", (*current_rows, *run("", {"steady": [True, False] * 10, "added": [False]}).results))
    comparison = compare(previous, current)
    m, steady = comparison.targets
    assert (m.target, m.paired, m.correct_before, m.correct_after) == ("m", 30, 30, 18)
    assert [f.task_id for f in m.right_to_wrong] == [f"t{i}" for i in range(12)]
    assert m.right_to_wrong[0].error_class == "Timeout" and m.right_to_wrong[1].error_class is None
    assert m.wrong_to_right == ()
    assert m.test.p_value == pytest.approx(2 / 2**12)  # exact: both tails of 0 of 12
    assert m.regressed and not m.improved
    assert not steady.significant and steady.test.p_value == 1.0
    assert comparison.regressed and comparison.regressions == ("m",)
    assert comparison.only_previous == ("gone",) and comparison.only_current == ("added",)


@pytest.mark.parametrize(("level", "significant"), [(0.05, False), (0.1, True)])
def test_the_level_decides_and_the_direction_says_regression_or_improvement(level: float, significant: bool) -> None:
    # 16 tasks right -> wrong, 6 wrong -> right: exact p = 0.0525 (Wikipedia's McNemar example).
    previous = run("old", {"m": [True] * 16 + [False] * 6})
    current = run("new", {"m": [False] * 16 + [True] * 6})
    worse = compare(previous, current, level=level)
    assert worse.targets[0].test.p_value == pytest.approx(0.0525, abs=5e-5)
    assert worse.regressed is significant
    better = compare(current, previous, level=level)
    assert better.targets[0].improved is significant and not better.regressed


def test_only_tasks_in_both_runs_are_paired() -> None:
    previous = run("old", {"m": [True, True]})
    current = StoredRun("new", (result("t1", "m", False), result("t9", "m", False)))
    change = compare(previous, current).targets[0]
    assert change.paired == 1 and [f.task_id for f in change.right_to_wrong] == ["t1"]


@pytest.mark.parametrize("level", [0, 1, -0.1, 1.5, math.nan])
def test_a_level_outside_0_1_is_refused(level: float) -> None:
    with pytest.raises(ConfigError, match="between 0 and 1"):
        compare(run("a", {}), run("b", {}), level=level)


def test_lockfile_changes_are_listed_by_path() -> None:
    assert lock_changes({**LOCK_BEFORE, "bench_id": "b-1"}, {**LOCK_AFTER, "bench_id": "b-2"}) == (
        LockChange(("models", "replay:gpt-4o", "price_source"), "changed", "genai-prices 0.2.3 (2026-10-01)", "genai-prices 0.2.4 (2026-12-01)"),
        LockChange(("models", "replay:gpt-4o", "resolved"), "changed", ["gpt-4o-2024-05-13"], ["gpt-4o-2024-08-06"]),
        LockChange(("profiles", "cascade-agree"), "changed", "aa" * 32, "bb" * 32),
        LockChange(("profiles", "tuned"), "added", None, "cc" * 32),
    )
    assert lock_changes(LOCK_AFTER, {**LOCK_AFTER, "tasks_sha256": "22" * 32, "models": {}}) == (
        LockChange(("models",), "added", None, {}),
        LockChange(("models", "replay:gpt-4o", "price_source"), "removed", "genai-prices 0.2.4 (2026-12-01)", None),
        LockChange(("models", "replay:gpt-4o", "resolved"), "removed", ["gpt-4o-2024-08-06"], None),
        LockChange(("models", "replay:mini", "price_source"), "removed", "recorded", None),
        LockChange(("models", "replay:mini", "resolved"), "removed", ["gpt-4o-mini"], None),
        LockChange(("tasks_sha256",), "changed", "11" * 32, "22" * 32),
    )


def test_comparison_carries_lock_changes_dates_and_notes() -> None:
    comparison = compare(run("old", {"m": [True]}, LOCK_BEFORE), run("new", {"m": [True]}, LOCK_AFTER))
    assert len(comparison.lock_changes) == 4 and comparison.lock_notes == ()
    assert (comparison.previous_created, comparison.current_created) == ("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z")
    without = compare(run("old", {"m": [True]}), run("new", {"m": [True]}, LOCK_AFTER))
    assert without.lock_changes == () and without.lock_notes == ("old has no lockfile (bench.lock.json): what changed cannot be shown",)
    data = json.loads(json.dumps(comparison_json(comparison), allow_nan=False))
    assert data["lock_changes"][3] == {"path": ["profiles", "tuned"], "kind": "added", "before": None, "after": "cc" * 32}
    assert data["targets"][0]["p_value"] == 1.0 and data["regressed"] is False
