"""Reading a task-set file into records, within bounds, hashing its bytes in the same pass.

A source is a file path or ``builtin:NAME`` (a replay file shipped in ``mmo/data``, named in
``mmo.providers.replay.BUILTIN_FILES``). The format comes from the name: ``.jsonl``, ``.yaml`` /
``.yml`` or ``.csv``, each optionally ``.gz``; gzip is recognised by its content, so a compressed
file named ``.jsonl`` reads too. Each record is one task (or the set's defaults) as a mapping, with
the line it starts on and, from YAML, the line of each of its keys, for messages naming
``file:line``. The SHA-256 is over the file's bytes as stored (compressed, for a ``.gz``): the
task-set hash a bench run's lockfile records.

* JSONL: one JSON object a line; blank lines skipped; a UTF-8 byte-order mark ignored. A first line
  ``{"defaults": {...}}`` holds the defaults.
* YAML: ``defaults:`` (optional) and ``tasks:`` (a list of mappings), or just the list.
* CSV: a header row naming the columns (``CSV_COLUMNS``; ``prompt`` is required), then one task a
  row; an empty cell is an absent field. ``check`` and ``params`` cells hold a kind name or a JSON
  object; ``tags`` are separated by ``;``.

Limits (a task set is data from anywhere): a JSONL line at most ``MAX_LINE_BYTES``; the text
read, after decompression, at most ``MAX_JSONL_BYTES`` for JSONL (read a line at a time) and
``MAX_DOCUMENT_BYTES`` for YAML and CSV (parsed whole); JSON nested at most ``MAX_NESTING`` levels
and no ``NaN``/``Infinity``; a YAML set at most ``MAX_YAML_NODES`` nodes with its aliases expanded
(``mmo.config.yaml_lines``); a CSV field at most 128 KiB (Python's ``csv`` limit: use JSONL for
longer prompts). Only a regular file is read: a directory, a FIFO or a device is refused. Every
problem is a ``ConfigError`` naming the file (and line) and the fix.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import stat
import zlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import IO, Any, Callable, Generator, Iterator, Literal, Mapping, Protocol

from mmo.core.errors import ConfigError
from mmo.providers.replay import BUILTIN_FILES, BUILTIN_PREFIX

Format = Literal["jsonl", "yaml", "csv"]
RecordKind = Literal["task", "defaults"]

MAX_LINE_BYTES = 16 * 1024 * 1024  # a replay line with eight recorded answers is ~20 KiB
MAX_JSONL_BYTES = 1024 * 1024 * 1024  # the full MMLU-Pro set with every model's text is ~150 MiB
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024  # YAML and CSV are parsed whole
MAX_YAML_NODES = 2_000_000  # ~10 nodes a task: 200,000 tasks
MAX_NESTING = 100  # levels of JSON arrays and objects in one line (as for batch input)
CSV_COLUMNS: tuple[str, ...] = ("id", "prompt", "system", "reference", "check", "category", "tags", "params")
SUFFIXES: Mapping[str, Format] = {".jsonl": "jsonl", ".yaml": "yaml", ".yml": "yaml", ".csv": "csv"}
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class Record:
    """One task (or the defaults) as read, with where it is."""

    line: int
    data: Mapping[str, Any]
    kind: RecordKind = "task"
    key_lines: Mapping[str, int] = field(default_factory=dict)

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _TooBig(Exception):
    """More text than the format's limit."""


class _Hashing(io.RawIOBase):
    """A file's bytes, hashed as they are read."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.sha = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.sha.update(data)
        return len(data)

    def hexdigest(self) -> str:
        """The hash of the whole file: what was not read yet is read (and hashed) first."""
        while data := self.raw.read(_CHUNK):
            self.sha.update(data)
        return self.sha.hexdigest()


class _Bounded(io.RawIOBase):
    """At most ``limit`` bytes of ``stream`` (the decompressed text); past that, ``_TooBig``."""

    def __init__(self, stream: _Readable, limit: int) -> None:
        self.stream, self.limit, self.total = stream, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.stream.read(len(buffer))
        self.total += len(data)
        if self.total > self.limit:
            raise _TooBig
        buffer[: len(data)] = data
        return len(data)


class TaskFile:
    """One task-set source opened for reading: ``records()`` once, then ``sha256()``."""

    def __init__(self, source: str | Path) -> None:
        self.name, opener, file_name = _locate(source)
        self.base_dir = Path(self.name).parent if not self.name.startswith(BUILTIN_PREFIX) else Path.cwd()
        self.format = _format_of(file_name, self.name)
        self._opener = opener
        self._sha256: str | None = None

    def records(self) -> Generator[Record, None, None]:
        raw = self._opener()
        try:
            hashing = _Hashing(raw)
            buffered = io.BufferedReader(hashing, _CHUNK)
            stream: _Readable = gzip.GzipFile(fileobj=buffered) if buffered.peek(2)[:2] == _GZIP_MAGIC else buffered
            limit = MAX_JSONL_BYTES if self.format == "jsonl" else MAX_DOCUMENT_BYTES
            text = io.BufferedReader(_Bounded(stream, limit), _CHUNK)
            yield from self._read(text, limit)
            self._sha256 = hashing.hexdigest()
        finally:
            raw.close()

    def _read(self, text: IO[bytes], limit: int) -> Iterator[Record]:
        readers: Mapping[Format, Callable[[IO[bytes], str], Iterator[Record]]] = {"jsonl": _jsonl_records, "yaml": _yaml_records, "csv": _csv_records}
        try:
            yield from readers[self.format](text, self.name)
        except _TooBig:
            raise ConfigError(
                f"holds more than {limit // (1024 * 1024):,} MiB of text: not a task set mmo reads ({self.format}; JSONL is read a line at a time and may be larger)",
                source=self.name,
            ) from None
        except (EOFError, gzip.BadGzipFile, zlib.error) as error:
            raise ConfigError(f"is not a readable gzip file ({error or 'truncated'}): compress it again, or give the plain file", source=self.name) from None
        except OSError as error:
            raise ConfigError(f"cannot read the task set: {error.strerror or error}", source=self.name) from None

    def sha256(self) -> str:
        """The hash of the file's bytes, once ``records()`` has read them all."""
        if self._sha256 is None:
            raise RuntimeError("TaskFile.sha256() before records() was read to the end")
        return self._sha256


def _locate(source: str | Path) -> tuple[str, Callable[[], IO[bytes]], str]:
    """(what messages call the source, how to open it, the file name that gives its format)."""
    if isinstance(source, str) and source.startswith(BUILTIN_PREFIX):
        name = source[len(BUILTIN_PREFIX):]
        if name not in BUILTIN_FILES:
            known = ", ".join(BUILTIN_PREFIX + known for known in BUILTIN_FILES)
            raise ConfigError(f"unknown built-in data set {source!r}; built-ins: {known}")
        resource = resources.files("mmo") / "data" / BUILTIN_FILES[name]
        return source, lambda: resource.open("rb"), BUILTIN_FILES[name]
    path = Path(source).expanduser()
    try:
        mode = path.stat().st_mode
    except OSError as error:
        raise ConfigError(f"cannot read task set {str(path)!r}: {error.strerror or error}") from None
    if not stat.S_ISREG(mode):
        what = "a directory" if stat.S_ISDIR(mode) else "not a regular file (a FIFO, a socket or a device)"
        raise ConfigError(f"task set {str(path)!r} is {what}: give a .jsonl, .yaml or .csv file")
    return str(path), lambda: _open_regular(path), path.name


def _open_regular(path: Path) -> IO[bytes]:
    try:
        # O_NONBLOCK: a file swapped for a FIFO since it was checked must not hang the open.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            os.close(descriptor)
            raise ConfigError(f"task set {str(path)!r} is not a regular file: give a .jsonl, .yaml or .csv file")
        return os.fdopen(descriptor, "rb")
    except OSError as error:
        raise ConfigError(f"cannot read task set {str(path)!r}: {error.strerror or error}") from None


def _format_of(file_name: str, name: str) -> Format:
    lowered = file_name.lower().removesuffix(".gz")
    suffix = lowered[lowered.rfind(".") :] if "." in lowered else ""
    if suffix not in SUFFIXES:
        raise ConfigError(f"cannot tell a task set's format from the name {file_name!r}: name it .jsonl, .jsonl.gz, .yaml, .yml or .csv", source=name)
    return SUFFIXES[suffix]


# ---- JSONL --------------------------------------------------------------------------------------


def _jsonl_records(text: IO[bytes], name: str) -> Iterator[Record]:
    number = 0
    while raw := text.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise ConfigError(f"a line longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB: a task set has one task (a JSON object) a line", source=f"{name}:{number}")
        if number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM):]
        if raw.strip():
            data = json_object(raw, f"{name}:{number}", "a task, e.g. {\"prompt\": \"...\", \"reference\": \"...\"}")
            kind: RecordKind = "defaults" if set(data) == {"defaults"} else "task"
            yield Record(number, data["defaults"] if kind == "defaults" else data, kind)


def json_object(raw: bytes | str, where: str, what: str) -> dict[str, Any]:
    """One JSON object (``what`` it should be, for the message), strictly: UTF-8, no ``NaN`` or
    ``Infinity``, nested at most ``MAX_NESTING`` levels."""
    from mmo.providers.wire_json import nested_deeper_than

    if nested_deeper_than(raw, MAX_NESTING):
        raise ConfigError(f"JSON nested more than {MAX_NESTING} levels deep: not {what}", source=where)
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text: save the file as UTF-8", source=where) from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"not valid JSON ({error.msg} at column {error.colno}): expected {what}", source=where) from None
    except (ValueError, RecursionError) as error:
        raise ConfigError(f"not valid JSON ({error}): expected {what}", source=where) from None
    if not isinstance(value, dict):
        raise ConfigError(f"expected a JSON object ({what}), got {_json_type(value)}", source=where)
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _json_type(value: Any) -> str:
    return {list: "a list", str: "a string", bool: "true/false", type(None): "null"}.get(type(value), "a number")


# ---- YAML ---------------------------------------------------------------------------------------


def _yaml_records(text: IO[bytes], name: str) -> Iterator[Record]:
    from mmo.config.yaml_lines import parse_yaml

    try:
        document = text.read().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(f"not UTF-8 text ({error.reason} at byte {error.start}): save the file as UTF-8", source=name) from None
    parsed = parse_yaml(document, name, what="a task set", max_nodes=MAX_YAML_NODES)
    if parsed.problems:
        problem = parsed.problems[0]
        raise ConfigError(problem.message if not problem.key_path else f"{problem.key_path}: {problem.message}", source=problem.where)
    lines = parsed.lines
    tasks, prefix = _yaml_layout(parsed.data, name, lines)
    if prefix and "defaults" in parsed.data:
        defaults = parsed.data["defaults"]
        where = f"{name}:{lines.get(('defaults',), 1)}"
        if not isinstance(defaults, dict):
            raise ConfigError("'defaults' must be a mapping, e.g. defaults: {check: choice}", source=where)
        yield Record(lines.get(("defaults",), 1), defaults, "defaults", _key_lines(lines, ("defaults",), defaults))
    for index, task in enumerate(tasks):
        path = (*prefix, index)
        line = lines.get(path, 1)
        if not isinstance(task, dict):
            raise ConfigError(f"each task is a mapping (prompt: ..., reference: ...), got {task!r:.60}", source=f"{name}:{line}")
        yield Record(line, task, "task", _key_lines(lines, path, task))


def _yaml_layout(data: Any, name: str, lines: Mapping[Any, int]) -> tuple[list[Any], tuple[str | int, ...]]:
    """The task list, and the key path it sits under (``("tasks",)``, or ``()`` for a bare list)."""
    if isinstance(data, list):
        return data, ()
    if isinstance(data, dict):
        for key in data:
            if key not in ("defaults", "tasks"):
                raise ConfigError(f"unknown top-level key {key!r}: a YAML task set has 'defaults' (optional) and 'tasks'", source=f"{name}:{lines.get((str(key),), 1)}")
        tasks = data.get("tasks")
        if isinstance(tasks, list):
            return tasks, ("tasks",)
        where = f"{name}:{lines.get(('tasks',), 1)}"
        raise ConfigError("'tasks' must be a list of tasks (- prompt: ...)" if "tasks" in data else "no 'tasks': list the tasks under tasks:", source=where)
    got = "an empty file" if data is None else f"a {type(data).__name__}"
    raise ConfigError(f"expected 'tasks:' (a list of tasks) and optional 'defaults:', got {got}", source=f"{name}:1")


def _key_lines(lines: Mapping[Any, int], path: tuple[str | int, ...], data: Mapping[str, Any]) -> dict[str, int]:
    return {str(key): lines[(*path, str(key))] for key in data if (*path, str(key)) in lines}


# ---- CSV ----------------------------------------------------------------------------------------


def _csv_records(text: IO[bytes], name: str) -> Iterator[Record]:
    reader = csv.reader(io.TextIOWrapper(text, encoding="utf-8-sig", newline=""), strict=True)
    columns: list[str] | None = None
    start = 1
    try:
        for row in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if columns is None:
                columns = _csv_header(row, f"{name}:{line}")
                continue
            yield Record(line, _csv_task(row, columns, f"{name}:{line}"))
    except csv.Error as error:
        raise ConfigError(f"not valid CSV ({error}): quote fields that hold commas, quotes or new lines; use JSONL for prompts over 128 KiB", source=f"{name}:{reader.line_num}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"not UTF-8 text ({error.reason}): save the file as UTF-8", source=f"{name}:{reader.line_num + 1}") from None
    if columns is None:
        raise ConfigError(f"an empty CSV file: the first row names the columns ({', '.join(CSV_COLUMNS)}; prompt is required)", source=name)


def _csv_header(row: list[str], where: str) -> list[str]:
    columns = [cell.strip().lower() for cell in row]
    for column in columns:
        if column not in CSV_COLUMNS:
            raise ConfigError(f"unknown column {column!r}: the first row names the columns, from {', '.join(CSV_COLUMNS)}", source=where)
        if columns.count(column) > 1:
            raise ConfigError(f"column {column!r} appears twice in the header", source=where)
    if "prompt" not in columns:
        raise ConfigError(f"no 'prompt' column: the first row names the columns, from {', '.join(CSV_COLUMNS)} (prompt is required)", source=where)
    return columns


def _csv_task(row: list[str], columns: list[str], where: str) -> dict[str, Any]:
    if len(row) > len(columns):
        raise ConfigError(f"{len(row)} fields, but the header names {len(columns)} columns: quote a field that holds a comma", source=where)
    task: dict[str, Any] = {}
    for column, cell in zip(columns, row, strict=False):  # a short row: its missing cells are empty
        if not cell.strip():
            continue
        if column in ("check", "params") and cell.lstrip().startswith("{"):
            task[column] = json_object(cell, where, f"the {column} column's JSON object")
        elif column == "params":
            raise ConfigError(f"the params column holds a JSON object, e.g. {{\"max_tokens\": 64}}, got {cell!r:.60}", source=where)
        elif column == "tags":
            task[column] = [tag.strip() for tag in cell.split(";") if tag.strip()]
        else:
            task[column] = cell.strip() if column in ("check", "id", "category") else cell
    return task
