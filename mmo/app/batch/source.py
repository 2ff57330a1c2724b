"""A batch's input as a run reads it: the file (standard input is spooled to a file first, so it
can be hashed and read again), its content hash and row count, and the rows not yet finished."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterator, Mapping

from mmo.app.batch.identity import STDIN_LABEL
from mmo.app.batch.input import InputRow, Malformed, ModelCheck, RowParser, digest_file, first_malformed, numbered_lines, spool
from mmo.core.errors import ConfigError


@dataclass(frozen=True, slots=True)
class BatchInput:
    label: str  # as the user wrote it ("-" for standard input)
    path: Path  # the file read (a spool file for standard input)
    user_path: Path | None  # None for standard input
    sha256: str
    rows: int

    def discard(self) -> None:
        """Remove the spool file of standard input (a user's file is never touched)."""
        if self.user_path is None:
            self.path.unlink(missing_ok=True)


def read_input(given: str, cwd: Path, spool_dir: Path, stdin: IO[bytes] | None) -> BatchInput:
    if given == STDIN_LABEL:
        if stdin is None:
            raise ConfigError("input '-' means standard input, but there is none")
        spooled = spool_dir / f".stdin-{uuid.uuid4().hex}.jsonl"
        try:
            spool(stdin, spooled)
        except OSError as error:
            spooled.unlink(missing_ok=True)
            raise ConfigError(
                f"cannot keep a copy of standard input in {spool_dir} ({error.strerror or error}): "
                "make it writable, or point MMO_HOME at a writable directory"
            ) from None
        digest = digest_file(spooled)
        return BatchInput(STDIN_LABEL, spooled, None, digest.sha256, digest.rows)
    path = (cwd / given).resolve()
    if not path.is_file():
        raise ConfigError(f"input {given!r} is not a file")
    digest = digest_file(path)
    return BatchInput(given, path, path, digest.sha256, digest.rows)


@contextmanager
def opened_input(
    given: str, cwd: Path, spool_dir: Path, stdin: IO[bytes] | None, params: Mapping[str, Any], *, strict: bool, models: ModelCheck | None = None
) -> Iterator[tuple[BatchInput, RowParser]]:
    """The input, read and hashed, and the parser of its rows (``-p`` as their base parameters,
    ``models`` checking a row's own model); with ``strict``, checked whole first. A spool of
    standard input is removed afterwards."""
    source = read_input(given, cwd, spool_dir, stdin)
    try:
        parser = RowParser(params, models, base_dir=source.user_path.parent if source.user_path is not None else cwd)
        if strict:
            check_strict(source, parser)
        yield source, parser
    finally:
        source.discard()


def check_strict(source: BatchInput, parser: RowParser) -> None:
    """``--strict``: the whole input is checked before anything is spent."""
    bad = first_malformed(source.path, parser)
    if bad is not None:
        raise ConfigError(f"{source.label}:{bad.line}: {bad.reason} (--strict stops at the first malformed line)")


def unfinished(path: Path, parser: RowParser, finished: Iterator[int]) -> Iterator[InputRow | Malformed]:
    """The input's rows, minus those already finished (a merge of two ascending sequences, so
    memory stays flat); finished lines are not even parsed."""
    next_finished = next(finished, None)
    for number, raw in numbered_lines(path):
        while next_finished is not None and next_finished < number:
            next_finished = next(finished, None)
        if number == next_finished:
            continue
        yield parser.parse(number, raw)
