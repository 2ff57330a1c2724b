"""The ``replay`` provider: answers from recorded outputs, with no network and no key.

A replay file is JSONL (gzipped or plain), one task per line::

    {"id": "mmlu_pro-70", "prompt": "Question: ...", "reference": "I", "category": "business",
     "models": {"gemini-1.5-flash-002": {"text": "... The answer is (I).", "input_tokens": 199,
                                         "output_tokens": 48, "cost_usd": 2.9e-05,
                                         "latency_ms": 900, "ttft_ms": 350}}}

``latency_ms`` and ``ttft_ms`` are optional, and so is ``cost_usd`` (without it the cost is
unknown, never 0). A request finds its task by ``request.metadata["id"]`` when that names a task,
else by the exact text of its last user message (surrounding whitespace ignored, since a prompt
piped from a shell gains a newline). No match, or a prompt recorded under several ids, is a
``BadRequest``; a model the task has no recording for is a ``ModelNotFound``. Nothing is guessed.

Recorded tokens and cost override the price library: the recording is the truth. When a task has
no ``latency_ms``, latency is *simulated* and flagged ``latency_simulated=True``:

    latency_ms = ttft_ms + output_tokens / tokens_per_second * 1000

with the per-model figures in ``LATENCY_MODELS`` (round numbers typical of these models' public
APIs in 2024, not measurements) and ``DEFAULT_LATENCY`` for any other model. Replay returns at
once unless ``options["sleep"]`` is true; then it waits the latency divided by
``options.get("speed", 1.0)`` (2.0 plays twice as fast), so a demo feels like the real thing.

A recording may carry more fields (the MMLU-Pro files keep the harness's ``pred`` and
``format_ok``); replay ignores them: a strategy sees only the text.

Settings: ``options["path"]`` is a file path or ``builtin:NAME`` for a file shipped in
``mmo/data`` (``builtin:mmlu_pro``: the 11,954 MMLU-Pro questions with the real output texts of
eight models; ``builtin:mmlu_pro_sample``: 300 of them). ``replay_data_path`` turns what
``--replay-data`` / ``MMO_REPLAY_DATA`` name into such a path (``mmo.app.replay_data``).

A file is read when first needed and parsed line by line (never the whole text at once), once
per process: providers naming the same file (and the same version of it) share the parse
(``load_replay_file``). A damaged gzip stream, a line that is not UTF-8 or not a task is a
``ConfigError`` naming the file and line.
"""

from __future__ import annotations

import asyncio
import difflib
import gzip
import io
import json
import re
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterator, Mapping

from pydantic import Field

from mmo.catalog.endpoints import ProviderSettings
from mmo.core.errors import BadRequest, ConfigError, ModelNotFound
from mmo.core.types import UNKNOWN_COST, Completion, Cost, Delta, Request, Usage, frozen_mapping
from mmo.spec.base import Spec

BUILTIN_PREFIX = "builtin:"
BUILTIN_FILES: Mapping[str, str] = frozen_mapping({"mmlu_pro_sample": "mmlu_pro_sample.jsonl.gz", "mmlu_pro": "mmlu_pro.jsonl.gz"})
REPLAY_DATA_ENV = "MMO_REPLAY_DATA"
SAMPLE = "builtin:mmlu_pro_sample"


@dataclass(frozen=True, slots=True)
class LatencyModel:
    """A fixed time to first token, then output at a steady speed."""

    ttft_ms: float
    tokens_per_second: float

    def total_ms(self, output_tokens: int) -> float:
        return self.ttft_ms + output_tokens / self.tokens_per_second * 1000.0


DEFAULT_LATENCY = LatencyModel(ttft_ms=600.0, tokens_per_second=60.0)
LATENCY_MODELS: Mapping[str, LatencyModel] = frozen_mapping(
    {
        "Mistral-7B-Instruct-v0.2": LatencyModel(300.0, 120.0),
        "Llama-3.1-8B-Instruct": LatencyModel(250.0, 150.0),
        "Mixtral-8x7B-Instruct-v0.1": LatencyModel(400.0, 90.0),
        "Llama-3.1-70B-Instruct": LatencyModel(500.0, 60.0),
        "gemini-1.5-flash-002": LatencyModel(350.0, 180.0),
        "jamba-1.5-large": LatencyModel(700.0, 50.0),
        "gemini-1.5-pro-002": LatencyModel(800.0, 60.0),
        "gpt-4o-2024-05-13": LatencyModel(500.0, 80.0),
    }
)


@dataclass(frozen=True, slots=True)
class Recording:
    """One model's recorded answer to one task."""

    text: str
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    latency_ms: float | None
    ttft_ms: float | None


@dataclass(frozen=True, slots=True)
class ReplayTask:
    id: str
    prompt: str
    models: Mapping[str, Recording]
    reference: str | None = None
    category: str | None = None


class ReplayFile:
    """Every task of one replay file, indexed by id and by prompt text."""

    def __init__(self, source: str, tasks: list[ReplayTask]) -> None:
        self.source = source
        self.tasks: dict[str, ReplayTask] = {}
        self.ids_by_prompt: dict[str, list[str]] = {}
        for task in tasks:
            if task.id in self.tasks:
                raise ConfigError(f"replay file has two tasks with id {task.id!r}", source=source)
            self.tasks[task.id] = task
            self.ids_by_prompt.setdefault(task.prompt.strip(), []).append(task.id)
        self.models = sorted({m for task in tasks for m in task.models})

    @classmethod
    def parse(cls, source: str, raw: bytes) -> ReplayFile:
        tasks = [_parse_task(line, f"{source}:{number}") for number, line in _numbered_lines(source, raw) if line.strip()]
        if not tasks:
            raise ConfigError("replay file has no tasks", source=source)
        return cls(source, tasks)

    def find(self, request: Request) -> ReplayTask:
        """The task a request addresses: by metadata id, else by its last user message."""
        task_id = request.metadata.get("id")
        if task_id is not None and task_id in self.tasks:
            return self.tasks[task_id]
        ids = self.ids_by_prompt.get(request.last_user_text().strip(), [])
        if len(ids) == 1:
            return self.tasks[ids[0]]
        if ids:
            raise BadRequest(f"this prompt is recorded under several tasks ({', '.join(ids)}) in {self.source}; pick one with --meta id=TASK_ID")
        raise BadRequest(self._no_match_message(task_id))

    def _no_match_message(self, task_id: str | None) -> str:
        examples = ", ".join(list(self.tasks)[:3])
        tried = f"no task with id {task_id!r} and no task" if task_id is not None else "no task"
        full_set = " (or answer from all 11,954 MMLU-Pro questions: --replay-data mmlu_pro)" if self.source == SAMPLE else ""
        return (
            f"{tried} whose prompt is exactly this text in replay file {self.source} ({len(self.tasks)} tasks). "
            f"Address a task by id (--meta id=TASK_ID; ids look like {examples}) or send its recorded prompt verbatim{full_set}."
        )


def _numbered_lines(source: str, raw: bytes) -> Iterator[tuple[int, bytes]]:
    """The file's lines, decompressed one at a time: the whole text of a large file (78 MB for the
    full MMLU-Pro set) is never in memory at once, only the tasks parsed from it."""
    stream: io.BufferedIOBase = io.BytesIO(raw)
    if raw[:2] == b"\x1f\x8b":
        stream = gzip.GzipFile(fileobj=stream, mode="rb")
    number = 0
    try:
        for number, line in enumerate(stream, 1):
            yield number, line
    except (OSError, EOFError, zlib.error) as exc:
        raise ConfigError(f"damaged gzip data after line {number} ({exc}); convert or download the file again", source=source) from None


def _parse_task(raw_line: bytes, where: str) -> ReplayTask:
    try:
        line = raw_line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte 0x{raw_line[exc.start]:02x} at offset {exc.start} of the line)", source=where) from None
    try:
        data = json.loads(line)
        models = {name: _parse_recording(rec) for name, rec in data["models"].items()}
        return ReplayTask(str(data["id"]), data["prompt"], frozen_mapping(models), data.get("reference"), data.get("category"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not valid JSON ({exc.msg})", source=where) from None
    except RecursionError:
        raise ConfigError("nested too deeply to be a replay task", source=where) from None
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ConfigError(f"not a replay task (needs id, prompt and models: {{MODEL: {{text, ...}}}}): {exc!r}", source=where) from None


def _parse_recording(rec: Mapping[str, Any]) -> Recording:
    def optional(key: str) -> float | None:
        return None if rec.get(key) is None else float(rec[key])

    return Recording(
        text=str(rec["text"]),
        input_tokens=int(rec.get("input_tokens", 0)),
        output_tokens=int(rec.get("output_tokens", 0)),
        cost_usd=optional("cost_usd"),
        latency_ms=optional("latency_ms"),
        ttft_ms=optional("ttft_ms"),
    )


def read_replay_source(path: str) -> bytes:
    """The bytes of a replay file: a filesystem path, or ``builtin:NAME`` from ``mmo/data``."""
    if path.startswith(BUILTIN_PREFIX):
        name = path[len(BUILTIN_PREFIX):]
        if name not in BUILTIN_FILES:
            raise ConfigError(f"unknown built-in replay file {path!r}; built-ins: {_builtin_names()}")
        from importlib import resources  # here: ~4 ms of imports every profile would pay (its schema loads this module)

        return (resources.files("mmo") / "data" / BUILTIN_FILES[name]).read_bytes()
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read replay file {path!r}: {exc.strerror or exc}") from None


def load_replay_file(path: str) -> ReplayFile:
    """The parsed replay file ``path`` names, read once per process: every provider, engine and
    command of the process that names the same file (and the same version of it, by inode, size
    and modification time) shares one parse, which for the full MMLU-Pro set takes a second or
    two and ~120 MB."""
    if path.startswith(BUILTIN_PREFIX):
        return _parsed(path, None)
    where = Path(path).expanduser()
    try:
        stat = where.stat()
    except OSError:
        return ReplayFile.parse(path, read_replay_source(path))  # reports why it cannot be read
    return _parsed(str(where.resolve()), (stat.st_ino, stat.st_size, stat.st_mtime_ns))


# Parsed files are read-only values, the same for every reader in the process; a small bound keeps
# a long-lived process that meets many files from holding them all.
@lru_cache(maxsize=4)
def _parsed(path: str, version: tuple[int, int, int] | None) -> ReplayFile:
    return ReplayFile.parse(path, read_replay_source(path))


def replay_data_path(value: str, cwd: Path) -> str:
    """What ``--replay-data`` / ``MMO_REPLAY_DATA`` name, as a replay ``path``: a built-in's name
    (``mmlu_pro`` or ``builtin:mmlu_pro``) becomes ``builtin:NAME``; anything else is a file,
    relative to ``cwd``, made absolute. A built-in name wins over a file of the same name
    (write ``./NAME`` for the file). Neither a built-in nor an existing file is a ``ConfigError``
    listing the built-ins."""
    name = value[len(BUILTIN_PREFIX):] if value.startswith(BUILTIN_PREFIX) else value
    if name in BUILTIN_FILES:
        return BUILTIN_PREFIX + name
    if not value.startswith(BUILTIN_PREFIX):
        path = cwd / Path(value).expanduser()
        if path.is_file():
            return str(path.resolve())
    close = difflib.get_close_matches(name, list(BUILTIN_FILES), n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ConfigError(f"unknown replay data {value!r}: not a built-in ({_builtin_names()}) and no such file.{hint}")


def _builtin_names() -> str:
    return ", ".join(BUILTIN_PREFIX + name for name in BUILTIN_FILES)


def word_chunks(text: str) -> list[str]:
    """Word-sized pieces whose concatenation is exactly ``text``."""
    return re.findall(r"\s*\S+\s*", text) or ([text] if text else [])


class ReplayOptions(Spec):
    """The fields a ``kind: replay`` provider takes in a profile (they reach the provider as
    ``settings.options``)."""

    path: str = Field(description="a JSONL(.gz) replay file, or builtin:NAME for one shipped with mmo")
    sleep: bool = Field(default=False, description="wait the simulated latency")
    speed: float = Field(default=1.0, gt=0, description="how much faster than recorded to wait (2 = twice as fast)")


class ReplayProvider:
    """Answers from a replay file. The constructor has the HTTP adapters' shape so the registry can
    build every provider alike; the key and client are ignored, and replay has nothing to warn
    about, so ``on_warning`` is accepted and unused."""

    def __init__(
        self,
        settings: ProviderSettings,
        api_key: str | None = None,
        client: Any = None,
        *,
        on_warning: Callable[[str], None] | None = None,
    ) -> None:
        self.name = settings.name
        self.settings = settings
        self.path = str(settings.options.get("path") or "")
        if not self.path:
            raise ConfigError(f"replay provider {settings.name!r} needs a path: a replay file or builtin:mmlu_pro_sample")
        self.sleep = bool(settings.options.get("sleep", False))
        self.speed = float(settings.options.get("speed", 1.0))
        if self.speed <= 0:
            raise ConfigError(f"replay provider {settings.name!r}: speed must be above 0, got {self.speed}")
        self._file: ReplayFile | None = None
        self._identity: Mapping[str, Any] | None = None

    def identity(self) -> Mapping[str, Any]:
        # Replay answers are free and deterministic: caching them would only hide recorded costs.
        # Asked for on every call: the path is resolved once (a bench makes 80,000 calls).
        if self._identity is None:
            self._identity = frozen_mapping({"kind": "replay", "path": self._identity_path(), "cacheable": False})
        return self._identity

    def _identity_path(self) -> str:
        if self.path.startswith(BUILTIN_PREFIX):
            return self.path
        return str(Path(self.path).expanduser().resolve())

    def replay_file(self) -> ReplayFile:
        """The parsed file, read on first use and kept for this provider's lifetime."""
        if self._file is None:
            self._file = load_replay_file(self.path)
        return self._file

    def task_ids(self) -> list[str]:
        return list(self.replay_file().tasks)

    def prompt_for(self, task_id: str) -> str:
        task = self.replay_file().tasks.get(task_id)
        if task is None:
            raise BadRequest(f"no task with id {task_id!r} in replay file {self.path}", provider=self.name)
        return task.prompt

    def models(self) -> list[str]:
        return list(self.replay_file().models)

    def recorded_usage(self, request: Request, model: str) -> tuple[Usage, float | None] | None:
        """The recorded tokens and cost of ``model`` answering ``request`` (for estimates)."""
        try:
            task = self.replay_file().find(request)
        except BadRequest:
            return None
        recording = task.models.get(model)
        if recording is None:
            return None
        return Usage(recording.input_tokens, recording.output_tokens), recording.cost_usd

    async def complete(self, request: Request, model: str) -> Completion:
        completion = self._answer(request, model)
        if self.sleep:
            await asyncio.sleep(completion.latency_ms / 1000.0 / self.speed)
        return completion

    async def stream(self, request: Request, model: str) -> AsyncIterator[Delta]:
        completion = self._answer(request, model)
        chunks = word_chunks(completion.text)
        first_wait, per_chunk_wait = self._stream_waits(completion, len(chunks))
        for index, chunk in enumerate(chunks):
            if self.sleep:
                await asyncio.sleep(first_wait if index == 0 else per_chunk_wait)
            yield Delta(text=chunk)
        yield Delta(final=completion)

    def _stream_waits(self, completion: Completion, chunk_count: int) -> tuple[float, float]:
        """Seconds before the first chunk and between later ones, so the stream lasts the latency."""
        ttft_ms = completion.ttft_ms if completion.ttft_ms is not None else 0.0
        rest_ms = max(completion.latency_ms - ttft_ms, 0.0)
        per_chunk_ms = rest_ms / max(chunk_count - 1, 1)
        return ttft_ms / 1000.0 / self.speed, per_chunk_ms / 1000.0 / self.speed

    def _answer(self, request: Request, model: str) -> Completion:
        try:
            task = self.replay_file().find(request)
        except BadRequest as exc:
            raise BadRequest(exc.provider_message, provider=self.name, model=model) from None
        recording = self._recording(task, model)
        latency_ms, ttft_ms, simulated = _latency(recording, model)
        return Completion(
            text=recording.text,
            model_id=f"{self.name}:{model}",
            usage=Usage(input_tokens=recording.input_tokens, output_tokens=recording.output_tokens),
            finish_reason="stop",
            reported_model=model,
            cost=UNKNOWN_COST if recording.cost_usd is None else Cost(recording.cost_usd, "recorded"),
            latency_ms=latency_ms,
            ttft_ms=ttft_ms,
            latency_simulated=simulated,
        )

    def _recording(self, task: ReplayTask, model: str) -> Recording:
        if model in task.models:
            return task.models[model]
        replay_file = self.replay_file()
        known = replay_file.models if model not in replay_file.models else sorted(task.models)
        close = difflib.get_close_matches(model, known, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        where = f"replay file {self.path}" if model not in replay_file.models else f"task {task.id!r}"
        message = f"{where} has no recordings for model {model!r}; it has: {', '.join(known)}.{hint}"
        raise ModelNotFound(message, provider=self.name, model=model)


def _latency(recording: Recording, model: str) -> tuple[float, float | None, bool]:
    """(latency_ms, ttft_ms, simulated): the recorded figures when there are any."""
    if recording.latency_ms is not None:
        return recording.latency_ms, recording.ttft_ms, False
    shape = LATENCY_MODELS.get(model, DEFAULT_LATENCY)
    return shape.total_ms(recording.output_tokens), shape.ttft_ms, True
