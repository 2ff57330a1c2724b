"""A stored bench run read back for a report or ``--compare``: from its directory or its results
file, each damaged line named by file:line (never a crash later in the report)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmo.app.bench.results import BenchDir, TaskResult, write_results
from mmo.app.bench.stored import load_run
from mmo.core.errors import ConfigError
from tests.bench_report_data import LOCK_BEFORE, result


def stored_run(root: Path, rows: list[TaskResult], lock: dict | None = None) -> BenchDir:  # type: ignore[type-arg]
    bench = BenchDir(root)
    root.mkdir()
    write_results(bench.results_path, rows)
    bench.tasks_path.write_text('{"id": "t0", "category": "math"}\n{"id": "t1"}\n', encoding="utf-8")
    if lock is not None:
        bench.lock_path.write_text(json.dumps(lock), encoding="utf-8")
    return bench


def test_a_stored_run_is_read_from_its_directory_or_its_results_file(tmp_path: Path) -> None:
    rows = [result("t0", "m", True), result("t1", "m", None, error_class="Timeout")]
    bench = stored_run(tmp_path / "run", rows, LOCK_BEFORE)
    for path in (bench.root, bench.results_path):
        loaded = load_run(path)
        assert loaded.results == tuple(rows)
        assert loaded.lock == LOCK_BEFORE
        assert [(t.id, t.category) for t in loaded.tasks] == [("t0", "math"), ("t1", None)]
        assert loaded.label == str(path)


def test_a_missing_run_or_results_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such bench run"):
        load_run(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="holds no results.jsonl"):
        load_run(tmp_path / "empty")


@pytest.mark.parametrize(
    "line",
    [
        "not json",
        "[1, 2]",
        '{"target": "m", "answer": "A", "correct": true}',
        '{"task_id": "t", "target": 3, "answer": "A", "correct": true}',
        '{"task_id": "t", "target": "m", "answer": "A", "correct": "yes"}',
        '{"task_id": "t", "target": "m", "answer": "A", "correct": true, "cost_usd": NaN}',
        '{"task_id": "t", "target": "m", "answer": "A", "correct": true, "cost_usd": "0.1"}',
        '{"task_id": "t", "target": "m", "answer": "A", "correct": true, "input_tokens": true}',
        '{"task_id": "t", "target": "m", "answer": "A", "correct": true, "input_tokens": 1.5}',
        '{"task_id": "t", "target": "m", "answer": 7, "correct": true}',
        '{"task_id": "t", "target": "m", "answer": "A", "correct": true, "models": [1]}',
        '{"task_id": "t", "target": "m", "answer": "A", "correct": true, "models": "m"}',
        "[" * 100_000 + "]" * 100_000,
    ],
)
def test_a_damaged_results_line_is_named(tmp_path: Path, line: str) -> None:
    bench = stored_run(tmp_path / "run", [result("t0", "m", True)])
    with bench.results_path.open("a", encoding="utf-8") as out:
        out.write("\n" + line + "\n")
    with pytest.raises(ConfigError, match=r"results\.jsonl:3: "):
        load_run(bench.root)


@pytest.mark.parametrize("line", ["not json", "[1, 2]", '{"category": "math"}', '{"id": 3}'])
def test_a_damaged_tasks_line_is_named(tmp_path: Path, line: str) -> None:
    bench = stored_run(tmp_path / "run", [result("t0", "m", True)])
    bench.tasks_path.write_text('{"id": "t1"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"tasks\.jsonl:2: not"):
        load_run(bench.root)


@pytest.mark.parametrize("text", ["{", "[1]", "[" * 100_000, "\udcff"])
def test_a_damaged_lockfile_is_named(tmp_path: Path, text: str) -> None:
    bench = stored_run(tmp_path / "run", [result("t0", "m", True)])
    bench.lock_path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(ConfigError, match=r"bench\.lock\.json: "):
        load_run(bench.root)
