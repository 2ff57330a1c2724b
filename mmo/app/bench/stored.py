"""A stored bench run read back for a report or a comparison, checked as it is read.

``load_run(path)`` takes a bench run's directory (``results.jsonl``, ``tasks.jsonl`` and
``bench.lock.json`` in it) or a results file (the lockfile and tasks beside it are read when
present). The files may have been edited, copied between machines or damaged, so each line is
checked: a line that is not a result (not JSON, a field of the wrong type, a number that is not
finite) is a ``ConfigError`` naming the file and line, never a crash later in the report.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

from mmo.app.bench.results import BenchDir, TaskResult
from mmo.app.bench.tasks import Task
from mmo.core.errors import ConfigError

_TEXT = (str,)
_NUMBER = (int, float)
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "task_id": _TEXT, "target": _TEXT, "answer": _TEXT, "extracted": _TEXT, "error_class": _TEXT, "error": _TEXT, "model_id": _TEXT,
    "correct": (bool,), "cached": (bool,), "truncated": (bool,),
    "score": _NUMBER, "cost_usd": _NUMBER, "judge_cost_usd": _NUMBER, "latency_ms": _NUMBER, "ttft_ms": _NUMBER,
    "input_tokens": (int,), "output_tokens": (int,), "models": (list,),
}  # fmt: skip
_REQUIRED = ("task_id", "target")


@dataclass(frozen=True, slots=True)
class StoredRun:
    label: str  # where it was read from, for headings
    results: tuple[TaskResult, ...]
    tasks: tuple[Task, ...] = ()  # as far as a report needs them (``read_task_labels``)
    lock: Mapping[str, Any] | None = None  # ``bench.lock.json``; None when the run has none


def load_run(path: Path) -> StoredRun:
    """A bench run's directory or its results file, read and checked."""
    if path.is_dir():
        bench = BenchDir(path)
        if not bench.results_path.is_file():
            raise ConfigError(f"{path} holds no results.jsonl: name a bench run's directory or its results file")
        results_path = bench.results_path
    elif path.is_file():
        results_path, bench = path, BenchDir(path.parent)
    else:
        raise ConfigError(f"{path}: no such bench run or results file; name a bench run's directory or its results.jsonl")
    tasks = tuple(read_task_labels(bench.tasks_path)) if bench.tasks_path.is_file() else ()
    lock = read_lock(bench.lock_path) if bench.lock_path.is_file() else None
    return StoredRun(str(path), tuple(read_checked_results(results_path)), tasks, lock)


def read_checked_results(path: Path) -> list[TaskResult]:
    results = []
    for line, data in _json_lines(path):
        results.append(TaskResult.from_json(_checked_result(data, f"{path}:{line}")))
    return results


def _checked_result(data: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: not a bench result (a JSON object); the results file is damaged: run the bench again or remove the line")
    for name in _REQUIRED:
        if not isinstance(data.get(name), str):
            raise ConfigError(f"{where}: a bench result needs a string {name!r}; the results file is damaged: run the bench again or remove the line")
    known = {f.name for f in fields(TaskResult)}
    for name, value in data.items():
        if name in known and value is not None and not _is_a(value, _FIELD_TYPES.get(name, _TEXT)):
            raise ConfigError(f"{where}: {name!r} is {json.dumps(value)[:60]}, not a valid value; the results file is damaged: run the bench again or remove the line")
    if not all(isinstance(model, str) for model in data.get("models") or ()):
        raise ConfigError(f"{where}: 'models' must be a list of model names; the results file is damaged: run the bench again or remove the line")
    return data


def _is_a(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in types:
        return False  # JSON's true is not a number of tokens
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return isinstance(value, types)


def read_task_labels(path: Path) -> list[Task]:
    """The tasks of a bench run's ``tasks.jsonl`` as far as a report needs them: id, category,
    tags and the check's kind (the prompt and reference are not read)."""
    return [_task_label(data, f"{path}:{line}", line) for line, data in _json_lines(path)]


def _task_label(data: Any, where: str, line: int) -> Task:
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise ConfigError(f'{where}: not a stored task (a JSON object with a string "id"); the bench run\'s tasks.jsonl is damaged: run the bench again')
    category = data.get("category")
    tags = data.get("tags")
    check = data.get("check")
    return Task(
        id=data["id"],
        messages=(),
        category=category if isinstance(category, str) else None,
        tags=tuple(str(tag) for tag in tags) if isinstance(tags, list) else (),
        check=check if isinstance(check, dict) else {},
        line=line,
    )


def read_lock(path: Path) -> Mapping[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror or error}") from None
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise ConfigError(f"{path}: not a bench lockfile ({type(error).__name__}); remove it, or run the bench again to write a new one") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a bench lockfile is a JSON object; remove it, or run the bench again to write a new one")
    return data


def _json_lines(path: Path) -> list[tuple[int, Any]]:
    """(line number, parsed JSON) of each non-blank line; a line that is not JSON is an error naming it."""
    rows = []
    try:
        with path.open(encoding="utf-8") as source:
            for line, text in enumerate(source, start=1):
                if text.strip():
                    rows.append((line, _parsed(text, f"{path}:{line}")))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; name a bench run's file") from None
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror or error}") from None
    return rows


def _parsed(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise ConfigError(f"{where}: not JSON; the file is damaged: run the bench again or remove the line") from None
