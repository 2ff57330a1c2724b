"""A stored bench run as ``mmo tune`` reads it: the benchmarked models' recorded answers, on the
two sides of the honest split.

Only targets that are models are tuned over (a profile's answers mix models). A task is tuned on
only when every model tuned over answered it with a known cost and a verdict: no strategy can be
scored on a task where a model it may call has no answer. A model with no usable answer to more
than half of the tasks is left out instead of them. Both are counted in ``TuneSet.left_out``.

A task is in train when ``in_train(id)`` (``int(sha256(id), 16) % 2 == 0``), else in test. The two
sides are separate ``TuneView`` values, so what searches (and trains the learned router) is handed
the train view only; the test view is read once a strategy is chosen.

Each task is asked as the bench asked it (``Task.request``, with the bench's ``-p`` parameters): its
messages, system prompt, parameters and tags, its id in the metadata (where the replay provider
finds it), and its category in the metadata as ``category`` (where a tuned profile's category
rules read it).
"""

from __future__ import annotations

import hashlib
import json
import math
import stat
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from mmo.app.bench.results import BenchDir, TaskResult
from mmo.app.bench.store import read_info
from mmo.app.bench.tasks import in_train, task_from_json
from mmo.app.bench.tune_bits import CostColumn, mask_of
from mmo.core.errors import ConfigError
from mmo.core.types import Completion, Request

# How answers are compared (agree gates) and checked for form (extract gates), by check kind.
AGREEMENT: Mapping[str, str] = {"choice": "choice", "number": "number", "json_schema": "json", "exact": "text"}
FORM: Mapping[str, str] = {"choice": "strict_choice", "number": "number", "json": "json"}
PROFILE_PREFIX = "profile:"
ROLES = ("system", "user", "assistant", "tool")


@dataclass(frozen=True, slots=True)
class TuneTask:
    id: str
    request: Request
    category: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Answer:
    """One model's recorded answer to one task."""

    text: str
    cost_usd: float
    correct: bool
    avg_logprob: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: float | None = None


class TuneView:
    """One side of the split: its tasks and each tuned model's answer to every one of them."""

    def __init__(self, name: str, tasks: Sequence[TuneTask], answers: Mapping[str, Sequence[Answer]], model_ids: Mapping[str, str], how: str) -> None:
        self.name = name
        self.tasks = tuple(tasks)
        self.answers = {label: tuple(column) for label, column in answers.items()}
        self.model_ids = dict(model_ids)  # label -> provider:model
        self.how = how  # the extractor that compares answers
        self.all = (1 << len(self.tasks)) - 1

    @property
    def size(self) -> int:
        return len(self.tasks)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.answers)

    @cached_property
    def right(self) -> dict[str, int]:
        """Per model, the tasks it answered right."""
        return {label: mask_of(a.correct for a in column) for label, column in self.answers.items()}

    @cached_property
    def costs(self) -> dict[str, CostColumn]:
        return {label: CostColumn([a.cost_usd for a in column]) for label, column in self.answers.items()}

    def completion(self, label: str, index: int) -> Completion:
        """The recorded answer as a provider would have returned it (what gates read)."""
        answer = self.answers[label][index]
        return Completion(answer.text, self.model_ids[label], avg_logprob=answer.avg_logprob)

    def subset(self, name: str, keep: Sequence[bool]) -> TuneView:
        """The tasks whose ``keep`` flag is set, as a view of their own."""
        tasks = [task for task, kept in zip(self.tasks, keep, strict=True) if kept]
        answers = {label: [a for a, kept in zip(column, keep, strict=True) if kept] for label, column in self.answers.items()}
        return TuneView(name, tasks, answers, self.model_ids, self.how)

    def categories(self) -> dict[str, int]:
        """Each category's tasks."""
        found: dict[str, list[bool]] = {}
        for index, task in enumerate(self.tasks):
            if task.category:
                found.setdefault(task.category, [False] * self.size)[index] = True
        return {category: mask_of(flags) for category, flags in found.items()}


@dataclass(frozen=True, slots=True)
class TuneSet:
    bench: BenchDir
    bench_id: str
    data_sha256: str
    train: TuneView
    test: TuneView
    left_out: Mapping[str, int] = field(default_factory=dict)  # why -> how many tasks (or models)
    base_profile: str | None = None
    tasks_path: str = ""
    replay_data: str | None = None  # the replay data the bench's replay providers read, when it recorded it

    @property
    def labels(self) -> tuple[str, ...]:
        return self.train.labels


def in_fit_half(task_id: str) -> bool:
    """Which half of the train split strategies are fitted on (the other half chooses among them):
    the next bit of the same hash (``int(sha256(id), 16) // 2 % 2 == 0``), so the halves are stable
    and independent of the train/test split."""
    return int(hashlib.sha256(task_id.encode("utf-8")).hexdigest(), 16) // 2 % 2 == 0


def load_tune_set(bench: BenchDir, models: Sequence[str] | None = None) -> TuneSet:
    """The bench run's model answers, split, with what could not be used counted."""
    info = read_info(bench)
    notes = info.notes or {}
    numbered = _task_lines(bench)
    base_params = notes.get("params") if isinstance(notes.get("params"), Mapping) else None
    tasks = [task_from_line(line, n, bench.tasks_path, base_params) for n, line in numbered]
    lines = [line for _, line in numbered]
    by_label = _model_results(bench.results_path)
    labels = _chosen_labels(by_label, models, bench)
    left_out: dict[str, int] = {}
    labels = _usable_labels(labels, by_label, len(tasks), left_out)
    model_ids = {label: _model_id(label, by_label[label]) for label in labels}
    usable = [task for task in tasks if all(_usable(by_label[label].get(task.id)) for label in labels)]
    if len(usable) < len(tasks):
        left_out["tasks a tuned model has no answer, cost or verdict for"] = len(tasks) - len(usable)
    how = answer_kind(lines)
    views = [
        TuneView(name, [t for t in usable if in_train(t.id) == side], {label: [_answer(by_label[label][t.id]) for t in usable if in_train(t.id) == side] for label in labels}, model_ids, how)
        for name, side in (("train", True), ("test", False))
    ]
    replay = notes.get("replay_data")
    return TuneSet(bench, info.bench_id, data_sha256(bench), views[0], views[1], left_out, notes.get("base_profile"), info.tasks_path, replay if isinstance(replay, str) else None)


def _model_results(path: Path) -> dict[str, dict[str, TaskResult]]:
    by_label: dict[str, dict[str, TaskResult]] = {}
    for number, line in _lines(path):
        try:
            result = _checked(TaskResult.from_json(json.loads(line)))
        except (ValueError, TypeError, AttributeError, RecursionError) as error:
            raise ConfigError(f"{path}:{number}: not a stored result ({type(error).__name__}: {error}); bench again, or resume the run") from None
        if not result.target.startswith(PROFILE_PREFIX):
            by_label.setdefault(result.target, {})[result.task_id] = result
    return by_label


def _checked(result: TaskResult) -> TaskResult:
    """The fields tune computes with, of the types a bench writes (a damaged or hand-edited file
    is an error naming its line, not a failure halfway through the search)."""
    kinds = {"target": (str,), "task_id": (str,), "answer": (str, type(None)), "correct": (bool, type(None))}
    for name, allowed in kinds.items():
        if not isinstance(getattr(result, name), allowed):
            raise TypeError(f"{name} is {getattr(result, name)!r}")
    for name in ("cost_usd", "avg_logprob", "latency_ms", "input_tokens", "output_tokens"):
        value = getattr(result, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)):
            raise TypeError(f"{name} is {value!r}, not a finite number")
    if result.cost_usd is not None and result.cost_usd < 0:
        raise ValueError(f"cost_usd is {result.cost_usd}, below 0")
    return result


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO or a device would block or never end
            raise ConfigError(f"{path}: not a regular file: a bench run's files are plain JSONL")
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if line.strip():
                    yield number, line
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read it ({type(error).__name__}: {error})") from None


def _task_lines(bench: BenchDir) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for number, line in _lines(bench.tasks_path):
        try:
            data = json.loads(line)
        except (ValueError, RecursionError) as error:
            raise ConfigError(f"{bench.tasks_path}:{number}: not JSON ({error})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{bench.tasks_path}:{number}: not a stored task (a JSON object)")
        out.append((number, data))
    return out


def _chosen_labels(by_label: Mapping[str, Any], models: Sequence[str] | None, bench: BenchDir) -> list[str]:
    if not by_label:
        raise ConfigError(f"{bench.results_path}: no model was benchmarked in this run (tune searches over models: bench some with --models a,b,c)")
    if models is None:
        return list(by_label)
    unknown = [name for name in models if name not in by_label]
    if unknown:
        raise ConfigError(f"--models: {', '.join(unknown)} not benchmarked in {bench.root}; it has {', '.join(by_label)}")
    return list(dict.fromkeys(models))


def _usable_labels(labels: list[str], by_label: Mapping[str, Mapping[str, TaskResult]], task_count: int, left_out: dict[str, int]) -> list[str]:
    kept = [label for label in labels if sum(map(_usable, by_label[label].values())) * 2 > task_count]
    if len(kept) < len(labels):
        left_out["models with no usable answer to half of the tasks"] = len(labels) - len(kept)
    if not kept:
        raise ConfigError("no benchmarked model answered half of the tasks with a known cost and verdict: nothing to tune over")
    return kept


def _usable(result: TaskResult | None) -> bool:
    return result is not None and result.answer is not None and result.correct is not None and result.cost_usd is not None


def _model_id(label: str, results: Mapping[str, TaskResult]) -> str:
    """The ``provider:model`` that answered for ``label`` (a profile alias is resolved by what the
    bench recorded)."""
    found = Counter(r.model_id for r in results.values() if r.model_id)
    if found:
        return found.most_common(1)[0][0]
    if ":" in label:
        return label
    raise ConfigError(f"benchmarked model {label!r} has no recorded provider:model: bench it as provider:model")


def _answer(result: TaskResult) -> Answer:
    assert result.answer is not None and result.cost_usd is not None
    return Answer(
        result.answer, result.cost_usd, bool(result.correct), result.avg_logprob, result.input_tokens or 0, result.output_tokens or 0, result.latency_ms
    )


def data_sha256(bench: BenchDir) -> str:
    """What the tune read: the tasks and the results, hashed together."""
    digest = hashlib.sha256()
    for path in (bench.tasks_path, bench.results_path):
        with path.open("rb") as file:
            for chunk in iter(lambda: file.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def answer_kind(lines: Sequence[Mapping[str, Any]]) -> str:
    """How answers are compared: by the extractor of the tasks' most common check (``text``
    when it is not one of choice, number, json_schema or exact)."""
    kinds = Counter(_check_kind(line.get("check")) for line in lines)
    kind = kinds.most_common(1)[0][0] if kinds else None
    return AGREEMENT.get(kind or "", "text")


def _check_kind(check: Any) -> str | None:
    if isinstance(check, str):
        return check
    if isinstance(check, Mapping):
        kind = check.get("kind")
        return kind if isinstance(kind, str) else None
    return None


# --- tasks -----------------------------------------------------------------------------------


def task_from_line(line: Mapping[str, Any], number: int, path: Path, base_params: Mapping[str, Any] | None = None) -> TuneTask:
    """A stored task (``tasks.jsonl``, as ``task_to_json`` wrote it), asked as the bench asked it
    (``Task.request``: its parameters over the bench's ``-p`` ones)."""
    task = task_from_json(line, where=f"{path}:{number}")
    if not task.messages or not all(m.role in ROLES and isinstance(m.content, str) for m in task.messages):
        raise ConfigError(f"{path}:{number}: not a stored task (each message needs a role: system, user, assistant or tool)")
    category = str(task.category) if task.category else None
    return TuneTask(task.id, task.request(base_params), category, tuple(str(tag) for tag in task.tags))
