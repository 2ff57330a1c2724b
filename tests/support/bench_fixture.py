"""A bench run made from a replay file, as ``mmo bench --models replay:...`` would store it: per task
and model a ``TaskResult`` with the recorded text, cost and tokens, scored by the one extractor
(``correct = extract(text, "choice") == reference``). ``mmo tune`` tests read it without running
a bench."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Sequence

from mmo.app.bench.results import BenchDir, BenchInfo, Target, TaskResult, write_results
from mmo.app.bench.store import mark_latest, write_info, write_tasks
from mmo.core.paths import MmoPaths
from mmo.strategies.extract import extract

SAMPLE = "builtin:mmlu_pro_sample"
Rewrite = Callable[[str, str, str], str]  # (task id, model, recorded text) -> the text stored


def replay_rows(source: str | Path = SAMPLE) -> list[dict[str, Any]]:
    if isinstance(source, str) and source.startswith("builtin:"):
        raw = resources.files("mmo").joinpath("data/mmlu_pro_sample.jsonl.gz").read_bytes()
    else:
        raw = Path(source).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]


def build_bench(
    directory: Path,
    source: str | Path = SAMPLE,
    *,
    models: Sequence[str] | None = None,
    limit: int | None = None,
    rewrite: Rewrite | None = None,
    category: Callable[[str], str] | None = None,
    paths: MmoPaths | None = None,
    base_profile: str | None = None,
) -> BenchDir:
    """A bench run in ``directory`` of the replay file's tasks (the first ``limit``) and models
    (all, or ``models``, by their recorded names), labelled ``replay:MODEL``. ``rewrite`` changes
    the stored texts (scores follow the new text); ``category`` maps the recorded categories to
    others (coarser groups, so a small run has enough tasks in each). With ``paths``, the run is
    the store's latest."""
    rows = replay_rows(source)[:limit]
    names = list(models) if models is not None else list(rows[0]["models"])
    bench = BenchDir(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_tasks(bench, (_task(row, category) for row in rows))
    write_results(bench.results_path, (_result(row, name, rewrite) for name in names for row in rows))
    targets = tuple(Target("model", f"replay:{name}") for name in names)
    notes = {"base_profile": base_profile, "params": {}}
    created = datetime.now(UTC).isoformat(timespec="seconds")
    write_info(bench, BenchInfo(directory.name, str(source), "0" * 64, targets, created, len(rows), notes))
    if paths is not None:
        mark_latest(paths, bench)
    return bench


def _task(row: dict[str, Any], category: Callable[[str], str] | None) -> dict[str, Any]:
    task = {"id": row["id"], "messages": [{"role": "user", "content": row["prompt"]}], "reference": row["reference"], "check": {"kind": "choice"}}
    if row.get("category"):
        task["category"] = category(row["category"]) if category else row["category"]
    return task


def science_or_not(category: str) -> str:
    """Two groups of MMLU-Pro categories, large enough in a run of the 300-task sample."""
    return "science" if category in ("math", "physics", "chemistry", "engineering", "computer science", "biology") else "other"


def _result(row: dict[str, Any], name: str, rewrite: Rewrite | None) -> TaskResult:
    recording = row["models"][name]
    text = recording["text"] if rewrite is None else rewrite(row["id"], name, recording["text"])
    letter = extract(text, "choice")
    label = f"replay:{name}"
    return TaskResult(
        task_id=row["id"],
        target=label,
        answer=text,
        correct=letter == row["reference"],
        extracted=letter,
        cost_usd=recording.get("cost_usd"),
        latency_ms=recording.get("latency_ms"),
        input_tokens=recording.get("input_tokens"),
        output_tokens=recording.get("output_tokens"),
        model_id=label,
        models=(label,),
    )
