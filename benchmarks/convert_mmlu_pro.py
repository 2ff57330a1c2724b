"""Convert the mmlu-pro-routing data set into mmo's replay format.

    python -m benchmarks.convert_mmlu_pro SRC.jsonl.gz OUT.jsonl.gz [--sample N --seed S]

The source (``mmlu_pro_routing.jsonl.gz``) records, per question and model, the answer letter the
MMLU-Pro harness extracted (``pred``), whether the output used the strict ``answer is (X)`` form
(``format_ok``) and estimated tokens and cost, but not the output text. The replay format wants a
text per model, so this script writes a short placeholder that makes an answer extractor see what
the original scorer saw:

* ``format_ok`` and ``pred`` X: ``... The answer is (X).`` (the strict form);
* ``pred`` X without ``format_ok``: the harness found X only through its fallback regex
  (``[aA]nswer:\\s*([A-J])``), so the text ends ``Answer: X``: a strict format check fails, a
  lenient extractor still reads X, and accuracy matches the source's ``correct`` field;
* no ``pred``: a sentence with no ``answer is`` / ``Answer:`` pattern and no standalone capital
  letter A-J, so even MMLU-Pro's last-resort "last standalone letter" fallback finds nothing.

Tokens and cost are the source's estimates for the *original* output, not for the placeholder:
the recording is the truth. No latency is written; the replay provider simulates it.

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
from pathlib import Path
from typing import Any, Iterable, Iterator

from tests.support.mmlu_placeholders import recorded_text  # shared with the extractor tests


def convert_row(row: dict[str, Any]) -> dict[str, Any]:
    """One source row as one replay task."""
    models = {
        name: {
            "text": recorded_text(rec.get("pred"), bool(rec.get("format_ok"))),
            "input_tokens": rec["input_tokens_est"],
            "output_tokens": rec["output_tokens_est"],
            "cost_usd": rec["cost_usd_est"],
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
    parser.add_argument("--sample", type=int, metavar="N", help="keep a stratified sample of N tasks")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="sampling seed (default 0)")
    args = parser.parse_args(argv)
    if args.sample is not None and args.sample < 1:
        parser.error("--sample must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.sample is None:
            count = write_atomically(args.output, (convert_row(row) for row in read_rows(args.source)))
        else:
            rows = stratified_sample(list(read_rows(args.source)), args.sample, args.seed)
            count = write_atomically(args.output, (convert_row(row) for row in rows))
    except (OSError, ValueError, KeyError) as exc:
        detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        print(f"convert_mmlu_pro: {detail}", file=sys.stderr)
        return 1
    print(f"wrote {count} tasks to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
