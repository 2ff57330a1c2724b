"""The output JSONL and the errors report, both derived from the run's state.

``mmo batch in.jsonl`` writes ``in.out.jsonl`` beside the input, and ``in.errors.jsonl`` when
some lines were malformed; ``-o results.jsonl`` writes ``results.jsonl`` and
``results.errors.jsonl``. Input read from standard input goes to standard output unless ``-o``
names a file; its errors report then lives in the run's state directory.

Each file is written whole to a temporary file beside its target, flushed to disk, and renamed
over the target: a reader sees the old file or the new one, never a half-written line, and an
interrupted write never replaces a good file. One line per finished row, in input order (or in
completion order with ``--unordered``); rows still pending are not written (a resume adds them).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable

from mmo.app.batch.input import Malformed
from mmo.core.errors import ConfigError

_INPUT_SUFFIXES = (".jsonl", ".ndjson", ".json", ".txt")
_REPORT_KEYS = {"line", "reason", "text"}


@dataclass(frozen=True, slots=True)
class OutputTargets:
    output: Path | None  # None: standard output
    errors: Path


def output_targets(input_path: Path | None, output: str | None, *, cwd: Path, run_dir: Path) -> OutputTargets:
    """Where the output and the errors report go. ``input_path`` is None for standard input."""
    if output is not None and output != "-":
        target = (cwd / output).resolve()
        if input_path is not None and target == input_path.resolve():
            raise ConfigError(f"-o {output!r} is the input file: choose another output")
        return OutputTargets(target, target.with_name(f"{_stem(target.name, '.out')}.errors.jsonl"))
    if input_path is None or output == "-":
        errors = input_path.with_name(f"{_stem(input_path.name)}.errors.jsonl") if input_path is not None else run_dir / "errors.jsonl"
        return OutputTargets(None, errors)
    stem = _stem(input_path.name)
    return OutputTargets(input_path.with_name(f"{stem}.out.jsonl"), input_path.with_name(f"{stem}.errors.jsonl"))


def _stem(name: str, extra: str = "") -> str:
    for suffix in _INPUT_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    if extra and name.endswith(extra):
        name = name[: -len(extra)]
    return name


def write_lines_atomically(target: Path, lines: Iterable[str]) -> int:
    """Every line to ``target`` via a temporary file and a rename; returns the line count."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    count = 0
    try:
        with temporary.open("w", encoding="utf-8", newline="\n") as handle:
            for line in lines:
                handle.write(line)
                handle.write("\n")
                count += 1
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return count


def write_lines(stream: IO[str], lines: Iterable[str]) -> int:
    count = 0
    for line in lines:
        stream.write(line)
        stream.write("\n")
        count += 1
    stream.flush()
    return count


def write_errors_report(target: Path, malformed: list[Malformed]) -> Path | None:
    """The malformed lines, one JSON object each; with none, a stale report of ours is removed
    (a report left from an earlier version of the input would mislead)."""
    if malformed:
        write_lines_atomically(target, (json.dumps(m.to_dict(), ensure_ascii=False) for m in malformed))
        return target
    if _is_our_report(target):
        target.unlink(missing_ok=True)
    return None


def _is_our_report(path: Path) -> bool:
    try:
        with path.open("r", encoding="utf-8") as handle:
            first = json.loads(handle.readline())
    except (OSError, ValueError):
        return False
    return isinstance(first, dict) and set(first) == _REPORT_KEYS
