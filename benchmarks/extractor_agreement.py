"""How often mmo's one answer extractor reads, from each model's real output text, the letter the
MMLU-Pro harness recorded for it (``pred``), and what the disagreements are.

    python -m benchmarks.extractor_agreement [REPLAY_FILE]      (default: builtin:mmlu_pro)

prints a table per model and writes ``benchmarks/results/extractor_agreement.json``. The replay
file's recordings carry the harness's ``pred`` and ``format_ok`` beside the text
(``benchmarks/convert_mmlu_pro.py``), so this needs nothing but the file.

mmo scores a multiple-choice answer with ``extract(text, "choice")``: the harness's three steps
(``answer is (X)``, then ``Answer: X``, then the last standalone letter) after removing ``**``.
The harness runs behind the recordings did not all do that, and each disagreement is one of:

* ``stand-in G``: the Llama-3.1 harness stored the letter G when all three steps failed; the
  text holds no letter, so mmo reads nothing and scores the answer as unanswered (wrong);
* ``bold``: the GPT-4o harness did not remove ``**`` (``The answer is **(E)**``), so its first
  step missed a letter or found a later one;
* ``steps 2-3``: the Mistral, Mixtral and GPT-4o harness had only the first step, so it recorded
  no letter where mmo's second or third step finds one;
* ``other``: none of these (expected: never).

``strict = format_ok`` counts the recordings where ``extract(text, "strict_choice")`` (``answer is
(X)``, parentheses required) finds a letter exactly when the source's ``format_ok`` is true. It is
not the same signal: ``format_ok`` is the harness's first step, parentheses optional, on the raw
text (``The answer is H.`` passes it and fails ``strict_choice``).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mmo.providers.replay import read_replay_source
from mmo.strategies.extract import choice, strict_choice

RESULTS = Path(__file__).resolve().parent / "results" / "extractor_agreement.json"
DEFAULT_DATA = "builtin:mmlu_pro"

# How the harness behind each model's recording read its letter (the data set's README).
HARNESS_RULES = {
    "Mistral-7B-Instruct-v0.2": "step 1",
    "Llama-3.1-8B-Instruct": "3 steps, else G",
    "Mixtral-8x7B-Instruct-v0.1": "step 1",
    "Llama-3.1-70B-Instruct": "3 steps, else G",
    "gemini-1.5-flash-002": "3 steps",
    "jamba-1.5-large": "3 steps",
    "gemini-1.5-pro-002": "3 steps",
    "gpt-4o-2024-05-13": "step 1, bold kept",
}
REASONS = ("stand-in G", "bold", "steps 2-3", "other")
_FIRST_STEP = re.compile(r"answer is \(?([A-J])\)?")


@dataclass
class ModelAgreement:
    """One model's counts over the file."""

    model: str
    rule: str
    rows: int = 0
    agree: int = 0
    reasons: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    strict_is_format_ok: int = 0
    harness_correct: int = 0  # pred == reference: the source's own accuracy
    mmo_correct: int = 0  # what mmo's choice check scores

    def add(self, text: str, pred: str | None, format_ok: bool, reference: str | None) -> None:
        read = choice(text)
        self.rows += 1
        reason = disagreement(text, pred, read)
        if reason is None:
            self.agree += 1
        else:
            self.reasons[reason] += 1
        self.strict_is_format_ok += (strict_choice(text) is not None) == format_ok
        self.harness_correct += pred is not None and pred == reference
        self.mmo_correct += read is not None and read == reference


def disagreement(text: str, pred: str | None, read: str | None) -> str | None:
    """Why the extractor's letter ``read`` differs from the recorded ``pred`` (None: it does not)."""
    if read == pred:
        return None
    if pred == "G" and read is None:
        return "stand-in G"
    if _first_step(text) != _first_step(text.replace("**", "")) and read == _first_step(text.replace("**", "")):
        return "bold"
    if pred is None and _first_step(text.replace("**", "")) is None and read is not None:
        return "steps 2-3"
    return "other"


def _first_step(text: str) -> str | None:
    found = _FIRST_STEP.search(text)
    return found.group(1) if found else None


def agreement(tasks: Iterable[dict[str, Any]]) -> dict[str, ModelAgreement]:
    """Per model, in the order the file first names them."""
    table: dict[str, ModelAgreement] = {}
    for task in tasks:
        for model, recording in task["models"].items():
            if "pred" not in recording:
                raise ValueError(f"task {task['id']!r}, model {model!r}: no recorded pred (convert the file again)")
            counts = table.setdefault(model, ModelAgreement(model, HARNESS_RULES.get(model, "?")))
            counts.add(recording["text"], recording["pred"], bool(recording.get("format_ok")), task.get("reference"))
    return table


def read_tasks(path: str) -> Iterator[dict[str, Any]]:
    raw = read_replay_source(path)
    stream: io.BufferedIOBase = io.BytesIO(raw)
    if raw[:2] == b"\x1f\x8b":
        stream = gzip.GzipFile(fileobj=stream, mode="rb")
    for line in stream:
        if line.strip():
            yield json.loads(line)


def render(table: dict[str, ModelAgreement]) -> str:
    head = f"{'model':<27} {'harness rule':<17} {'agree':>13} {'G':>4} {'bold':>4} {'2-3':>5} {'other':>5} {'strict=fmt':>10} {'acc harness':>11} {'acc mmo':>7}"
    lines = [head]
    for row in table.values():
        agree = f"{row.agree:,} {row.agree / row.rows:6.1%}"
        r = row.reasons
        lines.append(
            f"{row.model:<27} {row.rule:<17} {agree:>13} {r['stand-in G']:>4} {r['bold']:>4} {r['steps 2-3']:>5} {r['other']:>5} "
            f"{row.strict_is_format_ok / row.rows:>10.1%} {row.harness_correct / row.rows:>11.2%} {row.mmo_correct / row.rows:>7.2%}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", default=DEFAULT_DATA, help=f"replay file or builtin:NAME (default {DEFAULT_DATA})")
    parser.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.name}")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    table = agreement(read_tasks(args.data))
    print(render(table))
    print(f"{sum(row.rows for row in table.values()):,} recordings in {time.perf_counter() - started:.1f} s")
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        payload = {"data": args.data, "models": [asdict(row) for row in table.values()]}
        RESULTS.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
