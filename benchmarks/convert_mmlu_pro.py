"""Convert the mmlu-pro-routing data set, with its models' recorded output texts, into mmo's
replay format.

    python -m benchmarks.convert_mmlu_pro SRC.jsonl.gz OUT.jsonl.gz [--outputs DIR] [--sample N --seed S]

The source (``mmlu_pro_routing.jsonl.gz``) holds, per question and model, the answer letter the
MMLU-Pro harness extracted (``pred``), whether the output held the harness's first pattern
``answer is \\(?([A-J])\\)?`` (``format_ok``) and estimated tokens and cost. The output texts live
beside it, one file per model (``outputs/<model>.jsonl.gz``, ``{"id", "text"}`` per line, in the
source's order; ``--outputs`` names another directory). Each replay recording is::

    {"text": REAL OUTPUT TEXT, "input_tokens": ..., "output_tokens": ..., "cost_usd": ...,
     "pred": "C" | null, "format_ok": true | false}

* ``text`` is the model's output exactly as published (never trimmed or re-extracted); its length
  must equal the source's ``output_chars``, and each text line's id must be the source row's, or
  the conversion stops naming the file and line.
* ``input_tokens``, ``output_tokens`` and ``cost_usd`` are the source's **estimates** (4 characters
  per token; the zero-shot prompt as input; 2024 list prices), kept as they are: the recording is
  the truth, and a replay of it costs what the source says.
* ``pred`` and ``format_ok`` are what the harness recorded, kept so the extractor's agreement with
  the harness can be recomputed offline (``benchmarks/extractor_agreement.py``). The replay
  provider does not read them: a strategy sees only the text.

No latency is written; the replay provider simulates it.

``--sample N`` keeps a deterministic sample of N tasks, stratified across categories (proportional
allocation, at least one per category) and drawn only from tasks whose prompt is unique in the
source, so that looking a sampled task up by its prompt text is never ambiguous.

The output is gzip with a zero timestamp (the same input gives the same bytes) and is written
atomically: a temporary file in the target directory, renamed over the target only when complete.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
import tempfile
from collections import Counter, defaultdict
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Collection, Iterable, Iterator


def convert_row(row: dict[str, Any], texts: dict[str, str]) -> dict[str, Any]:
    """One source row, with each model's output text, as one replay task."""
    models = {
        name: {
            "text": texts[name],
            "input_tokens": rec["input_tokens_est"],
            "output_tokens": rec["output_tokens_est"],
            "cost_usd": rec["cost_usd_est"],
            "pred": rec.get("pred"),
            "format_ok": bool(rec.get("format_ok")),
        }
        for name, rec in row["models"].items()
    }
    return {
        "id": row["id"],
        "prompt": row["prompt"],
        "reference": row["reference"],
        "category": row["category"],
        "models": models,
    }


def convert(source: Path, outputs: Path, keep: Collection[str] | None = None) -> Iterator[dict[str, Any]]:
    """The replay tasks of ``source`` (only the ids in ``keep`` when given), in source order, each
    joined with its models' texts from ``outputs``. The text files are read in step with the
    source, one line at a time, so the full set never sits in memory."""
    with ExitStack() as stack:
        text_files: dict[str, TextFile] = {}
        for row in read_rows(source):
            texts: dict[str, str] = {}
            for model, rec in row["models"].items():
                if model not in text_files:
                    text_files[model] = stack.enter_context(TextFile(outputs / f"{model}.jsonl.gz"))
                texts[model] = text_files[model].next_text(row["id"], rec.get("output_chars"))
            if keep is None or row["id"] in keep:
                yield convert_row(row, texts)


class TextFile:
    """One model's output texts (``{"id", "text"}`` per line, in the source's order), read a line
    at a time; each must belong to the row asked for and have the length the source recorded."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.number = 0
        self._lines: Iterator[str] = iter(())

    def __enter__(self) -> TextFile:
        try:
            self._handle = gzip.open(self.path, "rt", encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"{self.path}: cannot read the output texts ({exc.strerror or exc})") from None
        self._lines = iter(self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()

    def next_text(self, task_id: str, length: int | None) -> str:
        self.number += 1
        where = f"{self.path}:{self.number}"
        try:
            line = next(self._lines, None)
        except (OSError, EOFError) as exc:  # not gzip, or cut short
            raise ValueError(f"{where}: cannot read the output texts ({exc})") from None
        if line is None:
            raise ValueError(f"{where}: the file ends before task {task_id!r}")
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: not valid JSON ({exc.msg})") from None
        if record.get("id") != task_id:
            raise ValueError(f"{where}: holds task {record.get('id')!r} where the source has {task_id!r} (the files must be in the same order)")
        text = record.get("text")
        if not isinstance(text, str) or (length is not None and len(text) != length):
            raise ValueError(f"{where}: the text of {task_id!r} is not the {length} characters the source recorded")
        return text


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    opener = gzip.open if _is_gzip(path) else open
    with opener(path, "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not valid JSON ({exc.msg})") from None


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as head:
        return head.read(2) == b"\x1f\x8b"


def stratified_sample(rows: list[dict[str, Any]], size: int, seed: int) -> list[dict[str, Any]]:
    """``size`` rows with a unique prompt, spread over categories in proportion to their share,
    at least one per category; returned in source order. The same input and seed give the same rows."""
    prompt_counts = Counter(row["prompt"] for row in rows)
    by_category: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        if prompt_counts[row["prompt"]] == 1:
            by_category[row["category"]].append(index)
    quotas = _allocate(size, {c: len(ix) for c, ix in by_category.items()})
    rng = random.Random(seed)
    chosen = [i for c in sorted(by_category) for i in rng.sample(by_category[c], quotas[c])]
    return [rows[i] for i in sorted(chosen)]


def _allocate(size: int, available: dict[str, int]) -> dict[str, int]:
    """Largest-remainder proportional allocation, with a floor of one per category."""
    total = sum(available.values())
    if size >= total:
        return dict(available)
    exact = {c: size * n / total for c, n in available.items()}
    quotas = {c: min(available[c], max(1, int(q))) for c, q in exact.items()}
    by_remainder = sorted(available, key=lambda c: (-(exact[c] - int(exact[c])), c))
    while sum(quotas.values()) < size:
        for category in by_remainder:
            if sum(quotas.values()) < size and quotas[category] < available[category]:
                quotas[category] += 1
    while sum(quotas.values()) > size:  # the floors of one overshot: take back from the largest
        largest = max(quotas, key=lambda c: (quotas[c], c))
        quotas[largest] -= 1
    return quotas


def write_atomically(path: Path, tasks: Iterable[dict[str, Any]]) -> int:
    """Write tasks as gzipped JSONL; the target changes only if every task was written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    count = 0
    try:
        with os.fdopen(handle, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as out:
            for task in tasks:
                out.write(json.dumps(task, ensure_ascii=False).encode("utf-8") + b"\n")
                count += 1
        # mkstemp creates the file private (0600); a data file should be as readable as any other.
        os.chmod(temp_name, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return count


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="mmlu_pro_routing.jsonl.gz (gzip or plain JSONL)")
    parser.add_argument("output", type=Path, help="replay file to write (gzipped JSONL)")
    parser.add_argument("--outputs", type=Path, metavar="DIR", help="the models' output texts (default: outputs/ beside SOURCE)")
    parser.add_argument("--sample", type=int, metavar="N", help="keep a stratified sample of N tasks")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="sampling seed (default 0)")
    args = parser.parse_args(argv)
    if args.sample is not None and args.sample < 1:
        parser.error("--sample must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    outputs = args.outputs if args.outputs is not None else args.source.parent / "outputs"
    try:
        keep = None
        if args.sample is not None:
            keep = {row["id"] for row in stratified_sample(list(read_rows(args.source)), args.sample, args.seed)}
        count = write_atomically(args.output, convert(args.source, outputs, keep))
    except (OSError, ValueError, KeyError) as exc:
        detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        print(f"convert_mmlu_pro: {detail}", file=sys.stderr)
        return 1
    print(f"wrote {count} tasks to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
