"""A golden-set re-test: what changed between two bench runs (``mmo bench --compare PREVIOUS``).

For each target in both runs, the tasks both runs have a result for are paired: a task that
was right and is now wrong (an error or an answer the check could not judge counts as wrong, as
in the accuracy) is a regression, the reverse an improvement. McNemar's test (``stats.mcnemar``)
on those two counts says whether the change could be chance; a target *regressed* when more
tasks went right -> wrong than wrong -> right and the p-value is under the level (5 % by
default). ``Comparison.regressed`` is what makes the command exit 1.

Beside the flips, what changed in the lockfiles (``bench.lock.json``: resolved model ids, price
sources, profile hashes, the task-set hash) says why they may have flipped. The lockfiles are
compared as plain JSON: every value that differs, was added or was removed is listed by its
path (``models / replay:gpt-4o / resolved``); ``created_at`` and ``bench_id`` are left out, as they
differ between any two runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Literal, Mapping

from mmo.app.bench.results import TaskResult
from mmo.app.bench.stats import McNemar, mcnemar
from mmo.app.bench.stored import StoredRun
from mmo.core.errors import ConfigError

DEFAULT_LEVEL = 0.05
_NOT_COMPARED = frozenset({"created_at", "bench_id"})  # they differ between any two runs
_MAX_DEPTH = 6  # deeper values of a lockfile are compared whole


@dataclass(frozen=True, slots=True)
class Flip:
    task_id: str
    error_class: str | None = None  # the current result's error, when it failed


@dataclass(frozen=True, slots=True)
class TargetChange:
    target: str
    paired: int  # tasks with a result in both runs
    correct_before: int  # of the paired tasks
    correct_after: int
    right_to_wrong: tuple[Flip, ...]
    wrong_to_right: tuple[Flip, ...]
    test: McNemar
    level: float

    @property
    def significant(self) -> bool:
        return self.test.p_value < self.level

    @property
    def regressed(self) -> bool:
        return self.significant and len(self.right_to_wrong) > len(self.wrong_to_right)

    @property
    def improved(self) -> bool:
        return self.significant and len(self.wrong_to_right) > len(self.right_to_wrong)

    @property
    def accuracy_before(self) -> float | None:
        return self.correct_before / self.paired if self.paired else None

    @property
    def accuracy_after(self) -> float | None:
        return self.correct_after / self.paired if self.paired else None


ChangeKind = Literal["changed", "added", "removed"]


@dataclass(frozen=True, slots=True)
class LockChange:
    path: tuple[str, ...]  # ("models", "replay:gpt-4o", "resolved")
    kind: ChangeKind
    before: Any = None  # None when added
    after: Any = None  # None when removed


@dataclass(frozen=True, slots=True)
class Comparison:
    previous: str
    current: str
    level: float
    targets: tuple[TargetChange, ...]
    only_previous: tuple[str, ...]  # targets the current run does not have
    only_current: tuple[str, ...]
    lock_changes: tuple[LockChange, ...]
    lock_notes: tuple[str, ...]  # a run without a lockfile
    previous_created: str | None = None  # the lockfiles' ``created_at``
    current_created: str | None = None

    @property
    def regressed(self) -> bool:
        return any(change.regressed for change in self.targets)

    @property
    def regressions(self) -> tuple[str, ...]:
        return tuple(change.target for change in self.targets if change.regressed)


def compare(previous: StoredRun, current: StoredRun, *, level: float = DEFAULT_LEVEL) -> Comparison:
    """What changed from ``previous`` to ``current`` (see the module's text)."""
    if not 0 < level < 1:
        raise ConfigError(f"the significance level must be between 0 and 1 (exclusive), got {level}: 0.05 is the usual 5 %")
    before, after = _latest(previous.results), _latest(current.results)
    both = [target for target in after if target in before]
    notes = tuple(f"{run.label} has no lockfile (bench.lock.json): what changed cannot be shown" for run in (previous, current) if run.lock is None)
    return Comparison(
        previous=previous.label,
        current=current.label,
        level=level,
        targets=tuple(_target_change(target, before[target], after[target], level) for target in both),
        only_previous=tuple(target for target in before if target not in after),
        only_current=tuple(target for target in after if target not in before),
        lock_changes=lock_changes(previous.lock or {}, current.lock or {}) if previous.lock is not None and current.lock is not None else (),
        lock_notes=notes,
        previous_created=_created(previous.lock),
        current_created=_created(current.lock),
    )


def _latest(results: Iterable[TaskResult]) -> dict[str, dict[str, TaskResult]]:
    """target -> task id -> its last result, targets in the order first seen."""
    by_target: dict[str, dict[str, TaskResult]] = {}
    for result in results:
        by_target.setdefault(result.target, {})[result.task_id] = result
    return by_target


def _target_change(target: str, before: dict[str, TaskResult], after: dict[str, TaskResult], level: float) -> TargetChange:
    paired = [task_id for task_id in after if task_id in before]
    worse = tuple(Flip(t, after[t].error_class) for t in paired if before[t].correct is True and after[t].correct is not True)
    better = tuple(Flip(t) for t in paired if before[t].correct is not True and after[t].correct is True)
    return TargetChange(
        target=target,
        paired=len(paired),
        correct_before=sum(1 for t in paired if before[t].correct is True),
        correct_after=sum(1 for t in paired if after[t].correct is True),
        right_to_wrong=worse,
        wrong_to_right=better,
        test=mcnemar(len(worse), len(better)),
        level=level,
    )


def _created(lock: Mapping[str, Any] | None) -> str | None:
    value = lock.get("created_at") if lock is not None else None
    return value if isinstance(value, str) else None


def lock_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[LockChange, ...]:
    """Every value that differs between two lockfiles, by path (``created_at`` and ``bench_id`` left out)."""
    old = {path: value for path, value in _flat(before, ()) if path[0] not in _NOT_COMPARED}
    new = {path: value for path, value in _flat(after, ()) if path[0] not in _NOT_COMPARED}
    changes = []
    for path in sorted(old.keys() | new.keys()):
        if path not in new:
            changes.append(LockChange(path, "removed", before=old[path]))
        elif path not in old:
            changes.append(LockChange(path, "added", after=new[path]))
        elif old[path] != new[path]:
            changes.append(LockChange(path, "changed", old[path], new[path]))
    return tuple(changes)


def _flat(value: Mapping[str, Any], prefix: tuple[str, ...]) -> Iterable[tuple[tuple[str, ...], Any]]:
    for key, item in value.items():
        path = (*prefix, str(key))
        if isinstance(item, Mapping) and item and len(path) < _MAX_DEPTH:
            yield from _flat(item, path)
        else:
            yield path, item


def comparison_json(comparison: Comparison) -> dict[str, Any]:
    """The comparison as plain JSON values (``--json``)."""
    return {
        "previous": comparison.previous,
        "current": comparison.current,
        "level": comparison.level,
        "regressed": comparison.regressed,
        "regressions": list(comparison.regressions),
        "targets": [_change_json(change) for change in comparison.targets],
        "only_previous": list(comparison.only_previous),
        "only_current": list(comparison.only_current),
        "lock_changes": [{"path": list(c.path), "kind": c.kind, "before": c.before, "after": c.after} for c in comparison.lock_changes],
        "lock_notes": list(comparison.lock_notes),
        "previous_created": comparison.previous_created,
        "current_created": comparison.current_created,
    }


def _change_json(change: TargetChange) -> dict[str, Any]:
    return {
        "target": change.target,
        "paired": change.paired,
        "correct_before": change.correct_before,
        "correct_after": change.correct_after,
        "right_to_wrong": [{"task_id": f.task_id, "error_class": f.error_class} for f in change.right_to_wrong],
        "wrong_to_right": [f.task_id for f in change.wrong_to_right],
        "p_value": change.test.p_value,
        "test": change.test.method,
        "significant": change.significant,
        "regressed": change.regressed,
        "improved": change.improved,
    }
