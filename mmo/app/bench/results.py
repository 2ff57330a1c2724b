"""What a bench run stores, so that reports, ``--compare`` and ``mmo tune`` need no new calls.

A bench run lives in ``<data dir>/bench/<bench id>/`` (``MmoPaths.data_dir``; ``-o DIR`` puts it
elsewhere):

* ``bench.json``: the run's metadata (``BenchInfo``): task-set path and hash, targets, when;
* ``tasks.jsonl``: the tasks as read (``Task`` as JSON, one per line), so a later report or
  ``mmo tune`` does not need the original file;
* ``results.jsonl``: one ``TaskResult`` per task and target (a model or a profile);
* ``bench.lock.json``: the lockfile (resolved model ids as the server reported them, price source
  and date, profile hashes, task-set hash) that ``--compare`` reads.

Every answer is kept with its cost, latency, tokens and check result; an error keeps its class.
A missing figure is ``None`` (unknown), never 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, Mapping

TargetKind = Literal["model", "profile"]


@dataclass(frozen=True, slots=True)
class Target:
    """What was benchmarked: a model (``provider:model`` or a profile alias) or a profile."""

    kind: TargetKind
    name: str

    @property
    def label(self) -> str:
        return self.name if self.kind == "model" else f"profile:{self.name}"


@dataclass(frozen=True, slots=True)
class TaskResult:
    task_id: str
    target: str  # ``Target.label``
    answer: str | None  # the text answered; None when the run failed
    correct: bool | None  # the check's verdict; None when it could not judge (error, judge failed)
    score: float | None = None  # a graded check's score (the LLM judge), else None
    extracted: str | None = None  # what the check read from the answer (a letter, a number...)
    cost_usd: float | None = None  # what the answer cost; None: unknown
    judge_cost_usd: float | None = None  # the LLM judge's own cost, shown apart
    latency_ms: float | None = None
    ttft_ms: float | None = None  # time to first token, where the run streamed
    input_tokens: int | None = None
    output_tokens: int | None = None
    error_class: str | None = None  # the error's class when the run failed (``Timeout``...)
    error: str | None = None
    model_id: str | None = None  # the model that answered, as the server reported it
    models: tuple[str, ...] = ()  # every model called for this answer (a profile's attempts)
    cached: bool = False
    truncated: bool = False
    avg_logprob: float | None = None  # the answer's mean token log-probability, where the provider gave it

    def to_json(self) -> dict[str, Any]:
        # Field by field: ``asdict`` deep-copies every value, a third of a 80,000-result write.
        data = {name: getattr(self, name) for name in _RESULT_FIELDS}
        data["models"] = list(self.models)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TaskResult:
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["models"] = tuple(values.get("models") or ())
        return cls(**values)


_RESULT_FIELDS = tuple(f.name for f in fields(TaskResult))


@dataclass(frozen=True, slots=True)
class BenchInfo:
    bench_id: str
    tasks_path: str
    tasks_sha256: str
    targets: tuple[Target, ...]
    created_at: str  # ISO 8601, UTC
    task_count: int
    notes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BenchDir:
    """The files of one bench run."""

    root: Path

    @property
    def info_path(self) -> Path:
        return self.root / "bench.json"

    @property
    def tasks_path(self) -> Path:
        return self.root / "tasks.jsonl"

    @property
    def results_path(self) -> Path:
        return self.root / "results.jsonl"

    @property
    def lock_path(self) -> Path:
        return self.root / "bench.lock.json"


def write_results(path: Path, results: Iterable[TaskResult]) -> None:
    """All results, written to a temporary file and renamed over ``path`` (never half a file)."""
    from mmo.app.batch.output import write_lines_atomically

    write_lines_atomically(path, (json.dumps(result.to_json(), ensure_ascii=False, separators=(",", ":")) for result in results))


def read_results(path: Path) -> Iterator[TaskResult]:
    with path.open(encoding="utf-8") as source:
        for line in source:
            if line.strip():
                yield TaskResult.from_json(json.loads(line))
