"""A bench run of the whole MMLU-Pro replay set, as ``mmo bench builtin-set --models replay:...``
would store it, built straight from the recordings (no batch run): per question and model a
``TaskResult`` with the recorded text, tokens and cost, scored by the one extractor
(``correct = extract(text, "choice") == reference``), as the ``choice`` check scores it.

The replay file in ``benchmarks/data`` may hold placeholder texts; ``--texts DIR`` joins in the
real output texts (``outputs/<model>.jsonl.gz`` of the mmlu-pro-routing data set, by ``id``), so
gates that read the text (its form, its length) see what the models really wrote. A Llama-3.1 row
whose real text holds no letter (the harness stored a stand-in "G") counts as wrong here.

    python -m benchmarks.mmlu_pro_bench -o /tmp/mmlu-bench --texts ../shared/data/mmlu-pro-routing/outputs
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Iterator

from mmo.app.bench.results import BenchDir, BenchInfo, Target, TaskResult, write_results
from mmo.app.bench.store import write_info, write_tasks
from mmo.providers.replay import read_replay_source
from mmo.strategies.extract import extractor

REPLAY = "builtin:mmlu_pro"


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def replay_rows(source: str) -> list[dict[str, Any]]:
    raw = read_replay_source(source)
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]


def real_texts(directory: Path, model: str) -> dict[str, str]:
    path = directory / f"{model}.jsonl.gz"
    return {row["id"]: row["text"] for row in read_jsonl(path)} if path.is_file() else {}


def build(replay: str, directory: Path, texts: Path | None = None) -> BenchDir:
    rows = replay_rows(replay)
    models = list(rows[0]["models"])
    joined = {model: real_texts(texts, model) if texts else {} for model in models}
    choice = extractor("choice")
    bench = BenchDir(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tasks = ({"id": r["id"], "messages": [{"role": "user", "content": r["prompt"]}], "reference": r["reference"], "check": {"kind": "choice"}, "category": r.get("category")} for r in rows)
    write_tasks(bench, tasks)

    def results() -> Iterator[TaskResult]:
        for model in models:
            label = f"replay:{model}"
            for row in rows:
                rec = row["models"][model]
                text = joined[model].get(row["id"], rec["text"])
                letter = choice(text)
                yield TaskResult(row["id"], label, text, letter == row["reference"], extracted=letter, cost_usd=rec.get("cost_usd"),
                                 input_tokens=rec.get("input_tokens"), output_tokens=rec.get("output_tokens"), model_id=label, models=(label,))  # fmt: skip

    write_results(bench.results_path, results())
    targets = tuple(Target("model", f"replay:{m}") for m in models)
    notes = {"base_profile": None, "params": {}, "texts": str(texts) if texts else None}
    write_info(bench, BenchInfo(directory.name, replay, "", targets, datetime.now(UTC).isoformat(timespec="seconds"), len(rows), notes))
    return bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, required=True, help="the bench run's directory")
    parser.add_argument("--replay", default=REPLAY, help="a replay file or builtin:NAME (default: builtin:mmlu_pro)")
    parser.add_argument("--texts", type=Path, help="output texts over the recorded ones, one file per model")
    args = parser.parse_args()
    started = time.perf_counter()
    bench = build(args.replay, args.output, args.texts)
    print(f"bench run {bench.root} written in {time.perf_counter() - started:.1f} s (texts: {args.texts or 'as in the replay file'})")


if __name__ == "__main__":
    main()
