"""The output JSONL and the errors report, both derived from the run's state.

``mmo batch in.jsonl`` writes ``in.out.jsonl`` beside the input, and ``in.errors.jsonl`` when
some lines were malformed; ``-o results.jsonl`` writes ``results.jsonl`` and
``results.errors.jsonl``. Input read from standard input goes to standard output unless ``-o``
names a file; its errors report then lives in the run's state directory.

Each file is written whole to a temporary file beside its target, flushed to disk, and renamed
over the target: a reader sees the old file or the new one, never a half-written line, and an
interrupted write never replaces a good file. One line per finished row, in input order (or in
completion order with ``--unordered``); rows still pending are not written (a resume adds them).

Only a regular file (or a new path) is replaced so. An output that exists as something else (a
character or block device, a FIFO) is written in place, like standard output, and its errors
report goes where standard output's does: a rename would put a regular file where the device
node was.

Before the first call (``check_writable``) the output is checked: a directory, a missing or
non-directory parent, or a directory mmo cannot create files in (read-only, no permission) is a
usage error naming the path and the fix, rather than a failure after every row was paid for.
An errors report beside an input in a directory mmo cannot write goes to the run's state
directory instead.

A reader may close standard output or a FIFO early (``mmo batch ... -o - | head``): ``LineOutput``
then stops writing (``closed``) instead of failing, and the run stops starting rows.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Iterable, Iterator

from mmo.app.batch.input import Malformed
from mmo.core.errors import ConfigError

_INPUT_SUFFIXES = (".jsonl", ".ndjson", ".json", ".txt")
_REPORT_KEYS = {"line", "reason", "text"}


@dataclass(frozen=True, slots=True)
class OutputTargets:
    output: Path | None  # None: standard output
    errors: Path
    in_place: bool = False  # a device or FIFO: written directly, never renamed over

    @property
    def replaced(self) -> Path | None:
        """The output file a run replaces whole (and locks while it runs): not a stream."""
        return None if self.in_place else self.output


def output_targets(input_path: Path | None, output: str | None, *, cwd: Path, run_dir: Path) -> OutputTargets:
    """Where the output and the errors report go. ``input_path`` is None for standard input."""
    if output is not None and output != "-":
        given = cwd / output
        kind = _kind(given)  # through symbolic links, as opening it would go
        if kind == "directory":
            raise ConfigError(f"-o {output!r} is a directory: name a file in it (for example -o {os.path.join(output, 'results.jsonl')})")
        if kind == "other":  # opened by the name given: a link into /proc (/dev/stdout) need not resolve to a path
            return OutputTargets(given, _stream_errors(input_path, run_dir), in_place=True)
        target = given.resolve()
        if input_path is not None and target == input_path.resolve():
            raise ConfigError(f"-o {output!r} is the input file: choose another output")
        return OutputTargets(target, target.with_name(f"{_stem(target.name, '.out')}.errors.jsonl"))
    if input_path is None or output == "-":
        return OutputTargets(None, _stream_errors(input_path, run_dir))
    stem = _stem(input_path.name)
    return OutputTargets(input_path.with_name(f"{stem}.out.jsonl"), input_path.with_name(f"{stem}.errors.jsonl"))


def _stream_errors(input_path: Path | None, run_dir: Path) -> Path:
    """The errors report of an output that is a stream: beside the input, else in the run's state."""
    return input_path.with_name(f"{_stem(input_path.name)}.errors.jsonl") if input_path is not None else run_dir / "errors.jsonl"


def _kind(path: Path) -> str:
    """"missing", "file" (regular), "directory" or "other" (a device, a FIFO, a socket)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "missing"
    except OSError as error:
        raise ConfigError(f"cannot use {str(path)!r} as the output: {error.strerror or error}; choose another -o") from None
    return "file" if stat.S_ISREG(mode) else "directory" if stat.S_ISDIR(mode) else "other"


def check_writable(targets: OutputTargets, run_dir: Path) -> OutputTargets:
    """Refuse, before anything is spent, an output that cannot be written; an errors report of a
    stream whose directory cannot be written moves to the run's state directory."""
    output = targets.output
    if output is not None and targets.in_place and not os.access(output, os.W_OK):
        raise ConfigError(f"cannot write the output {str(output)!r}: permission denied; choose another -o")
    if output is not None and not targets.in_place:
        problem = _cannot_create_in(output.parent)
        if problem is not None:
            raise ConfigError(f"cannot write the output {str(output)!r}: {problem}; choose another -o (or fix the directory)")
        return targets
    if _cannot_create_in(targets.errors.parent) is not None:
        return replace(targets, errors=run_dir / "errors.jsonl")
    return targets


def _cannot_create_in(directory: Path) -> str | None:
    """Why a file cannot be created in ``directory`` (tried for real, then removed), or None."""
    if not directory.exists():
        return f"the directory {str(directory)!r} does not exist (create it first: mkdir -p {str(directory)!r})"
    if not directory.is_dir():
        return f"{str(directory)!r} is not a directory"
    try:
        handle, probe = tempfile.mkstemp(dir=directory, prefix=".mmo-probe-")
    except OSError as error:
        return f"cannot create files in {str(directory)!r} ({error.strerror or error})"
    os.close(handle)
    os.unlink(probe)
    return None


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


class LineOutput:
    """Lines to a stream its reader may close (standard output, a FIFO): once it is closed
    (``BrokenPipeError``), ``closed`` is set and later lines are dropped, not failed on."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.closed = False

    def write(self, lines: Iterable[str]) -> int:
        if self.closed:
            return 0
        try:
            return write_lines(self.stream, lines)
        except BrokenPipeError:
            self.closed = True
            return 0


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


@contextmanager
def output_lock(target: Path | None, holder: str, *, wait_s: float = 0.0) -> Iterator[None]:
    """Hold ``target`` (a file the run replaces; None: nothing to hold) against other runs while
    this one runs: a second run writing the same file would pay for every row, then one of the
    two files would silently replace the other. The lock is a hidden file beside the target,
    removed afterwards; ``holder`` names this run in the refusal the other gets. With ``wait_s``,
    a lock held by another is waited for that long (a shared run's workers writing one output)."""
    if target is None:
        yield
        return
    from mmo.app.batch.locks import ExclusiveLock, LockHeld

    deadline = time.monotonic() + wait_s
    try:
        while True:
            try:
                lock = ExclusiveLock(target.with_name(f".{target.name}.lock"), holder, remove=True)
                break
            except LockHeld:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)
    except LockHeld as held:
        raise ConfigError(
            f"the output {str(target)!r} is being written by another `mmo batch` ({held.note or 'another process'}): "
            "wait for it to finish, or choose another -o"
        ) from None
    except OSError as error:
        raise ConfigError(f"cannot lock the output {str(target)!r}: {error.strerror or error}; choose another -o") from None
    try:
        yield
    finally:
        lock.release()
