"""Task sets: what ``mmo bench`` asks and how each answer is judged.

A task has a prompt (or messages), an optional system prompt and parameters, a reference, a check,
and optional id, tags and category. Without an id, the id is derived from the task's content
(``content_id`` of its messages, system prompt and reference), so the train/test split of
``mmo tune`` (``in_train``) is stable however the file is reordered.

``load_task_set`` reads a JSONL, YAML or CSV file (``task_files``; gzip too) or a built-in data
set (``builtin:NAME``). A replay file is a task set as it is: its ``models`` (the recordings) are
ignored here. A task's keys are ``TASK_KEYS``; the defaults (a JSONL first line ``{"defaults":
{...}}``, a YAML ``defaults:`` mapping) may set ``DEFAULT_KEYS`` for every task. A task's own value
wins; ``params`` merge key by key. The check a task is scored with is, first found: its own
``check``, the file's default, ``default_check`` (``mmo bench --check``), the built-in data set's
(``datasets.builtin_default_check``). Every check is built (``checks.build_check``) and every
reference checked against it while the file is read, so a task set that cannot be scored fails
before any call. Every problem is a ``ConfigError`` naming ``file:line`` and the fix: bad JSON or
YAML, an unknown key, a missing prompt, a bad check or reference, a task with no check, two tasks
with one id (both lines named).
"""

from __future__ import annotations

import hashlib
import json
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from mmo.app.bench.checks import Check, build_check, normalise_spec, parse_check_option
from mmo.app.bench.task_files import Record, TaskFile
from mmo.core.errors import ConfigError
from mmo.core.types import Message, Request, frozen_mapping

TASK_KEYS: tuple[str, ...] = ("id", "prompt", "messages", "system", "params", "schema", "reference", "check", "category", "tags")
DEFAULT_KEYS: tuple[str, ...] = ("check", "system", "params", "schema", "category", "tags")
IGNORED_KEYS: tuple[str, ...] = ("models",)  # a replay file's recordings
ROLES: tuple[str, ...] = ("system", "user", "assistant")


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    messages: tuple[Message, ...]  # the conversation sent; a plain prompt is one user message
    reference: Any = None  # what the check compares with (a letter, a number, text, a schema...)
    check: Mapping[str, Any] = field(default_factory=dict)  # {"kind": "choice", ...} (``checks``)
    system: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    category: str | None = None
    tags: tuple[str, ...] = ()
    line: int = 0  # where it was read (1-based), for messages naming file:line
    schema: Mapping[str, Any] | None = None  # the answer must be JSON matching it (mmo.runtime.structured)

    @property
    def prompt(self) -> str:
        """The latest user message: what routers and learned features read."""
        for message in reversed(self.messages):
            if message.role == "user":
                return message.content
        return ""

    def request(self, base_params: Mapping[str, Any] | None = None) -> Request:
        """The request that asks this task: its system prompt and messages, its parameters over
        ``base_params`` (the ``-p`` flags) key by key, and metadata ``id`` (the replay provider
        finds a recorded answer by it) and ``category`` (router rules can match it)."""
        from mmo.app.schema_file import frozen_schema
        from mmo.spec.params import params_from_mapping

        params = params_from_mapping({**(base_params or {}), **self.params}, where=f"task {self.id!r} params:")
        if self.schema is not None:
            params = params.merged(output_schema=frozen_schema(self.schema))
        messages = self.messages if self.system is None else (Message("system", self.system), *self.messages)
        metadata = {"id": self.id} if self.category is None else {"id": self.id, "category": self.category}
        return Request(messages, params, frozen_mapping(metadata), self.tags)


def content_id(content: Mapping[str, Any]) -> str:
    """A task's id when the file gives none: a hash of what is asked and expected, so the same
    task keeps its id (and its side of the split) wherever it sits in the file."""
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return "t-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def in_train(task_id: str) -> bool:
    """The honest split ``mmo tune`` uses: train when ``int(sha256(id), 16) % 2 == 0``."""
    return int(hashlib.sha256(task_id.encode("utf-8")).hexdigest(), 16) % 2 == 0


@dataclass(frozen=True, slots=True)
class TaskSet:
    """A task set as read. ``path`` is the file (or ``builtin:NAME``) as messages name it;
    ``sha256`` is over its bytes as stored (the lockfile's task-set hash); ``default_check`` is
    the normalised spec of the check tasks without their own get (None: every task has one)."""

    path: str
    tasks: tuple[Task, ...]
    sha256: str
    default_check: Mapping[str, Any] | None = None
    checks: Mapping[str, Check] = field(default_factory=dict)  # by ``check_key`` of a task's spec

    def judge_models(self) -> tuple[str, ...]:
        """The models the set's judge checks call, in first-use order: a runner resolves them
        (``Engine.model_node``) before the first call, so an unknown one costs nothing."""
        from mmo.app.bench.checks import JudgeCheck

        return tuple(dict.fromkeys(check.model for check in self.checks.values() if isinstance(check, JudgeCheck)))

    def check_for(self, task: Task) -> Check:
        """The built check ``task`` is scored with."""
        check = self.checks.get(check_key(task.check))
        return check if check is not None else build_check(task.check, where=f"{self.path}:{task.line}", base_dir=Path.cwd())


def check_key(spec: Mapping[str, Any]) -> str:
    return json.dumps(spec, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def load_task_set(path: Path | str, *, default_check: Mapping[str, Any] | str | None = None) -> TaskSet:
    """Read the task set at ``path`` (a file or ``builtin:NAME``); ``default_check`` scores tasks
    that neither they nor the file give a check (``mmo bench --check``: a spec, or its text, a
    kind name or a JSON object; a ``schema_file`` in it is relative to the working directory)."""
    source = TaskFile(path)
    reader = _TaskReader(source, default_check)
    with closing(source.records()) as records:
        for record in records:
            reader.add(record)
    return reader.finish(source.sha256())


@dataclass
class _Defaults:
    """The values every task of the file starts from, and the check when it gives none."""

    values: dict[str, Any] = field(default_factory=dict)
    check: Check | None = None
    where: str = ""


class _TaskReader:
    """Turns records into tasks, one at a time, building each distinct check once."""

    def __init__(self, source: TaskFile, default_check: Mapping[str, Any] | str | None) -> None:
        self.name, self.base_dir = source.name, source.base_dir
        self.checks: dict[str, Check] = {}
        self.tasks: list[Task] = []
        self.lines_by_id: dict[str, int] = {}
        self.defaults = _Defaults()
        self.fallback = self._fallback_check(default_check)

    def _fallback_check(self, default_check: Mapping[str, Any] | str | None) -> _Defaults:
        if default_check is not None:
            spec = parse_check_option(default_check) if isinstance(default_check, str) else default_check
            return _Defaults(check=self._check(spec, "--check", Path.cwd()), where="--check")
        from mmo.app.bench.datasets import builtin_default_check
        from mmo.providers.replay import BUILTIN_PREFIX

        builtin = builtin_default_check(self.name.removeprefix(BUILTIN_PREFIX)) if self.name.startswith(BUILTIN_PREFIX) else None
        if builtin is None:
            return _Defaults()
        return _Defaults(check=self._check(builtin, self.name, self.base_dir), where=self.name)

    def _check(self, spec: Any, where: str, base_dir: Path | None = None) -> Check:
        key = check_key(normalise_spec(spec, where))
        if key not in self.checks:
            check = build_check(spec, where=where, base_dir=base_dir or self.base_dir)
            self.checks[key] = self.checks[check_key(check.spec)] = check
        return self.checks[key]

    def add(self, record: Record) -> None:
        if record.kind == "defaults":
            self._add_defaults(record)
        else:
            self.tasks.append(self._task(record))

    def _add_defaults(self, record: Record) -> None:
        where = f"{self.name}:{record.line}"
        if self.tasks or self.defaults.where:
            raise ConfigError("the defaults must come first, once: move this line to the top of the file", source=where)
        _refuse_unknown(record, DEFAULT_KEYS, self.name, "the defaults")
        fields = _Fields(record, self.name)
        values = {"system": fields.text("system"), "params": fields.params(), "schema": fields.schema(),
                  "category": fields.text("category"), "tags": fields.tags()}
        check = None if record.data.get("check") is None else self._check(record.data["check"], fields.where("check"))
        self.defaults = _Defaults({key: value for key, value in values.items() if value}, check, where)

    def _task(self, record: Record) -> Task:
        _refuse_unknown(record, TASK_KEYS, self.name, "a task")
        fields, defaults = _Fields(record, self.name), self.defaults.values
        messages = fields.messages()
        system = fields.text("system") or defaults.get("system")
        reference = fields.json_value("reference")
        check = self._task_check(record, fields)
        problem = check.reference_problem(reference)
        if problem is not None:
            hint = " (YAML reads an unquoted yes, no, on, off, true or false as a boolean: quote it)" if isinstance(reference, bool) else ""
            raise ConfigError(problem + hint, source=fields.where("reference"))
        task_id = fields.task_id() or content_id({"messages": [m.to_dict() for m in messages], "system": system, "reference": reference})
        self._claim(task_id, record)
        return Task(
            id=task_id,
            messages=messages,
            reference=reference,
            check=check.spec,
            system=system,
            params=frozen_mapping({**defaults.get("params", {}), **fields.params()}),
            category=fields.text("category") or defaults.get("category"),
            tags=tuple(fields.tags() or defaults.get("tags", ())),
            line=record.line,
            schema=fields.schema() or defaults.get("schema"),
        )

    def _task_check(self, record: Record, fields: _Fields) -> Check:
        if record.data.get("check") is not None:
            return self._check(record.data["check"], fields.where("check"))
        check = self.defaults.check or self.fallback.check
        if check is None:
            raise ConfigError(
                "this task has no check: give it one (\"check\": \"choice\"), set one for every task (JSONL: a first line "
                '{"defaults": {"check": "choice"}}; YAML: defaults: {check: choice}), or pass --check KIND (CSV: a check column, or --check)',
                source=f"{self.name}:{record.line}",
            )
        return check

    def _claim(self, task_id: str, record: Record) -> None:
        first = self.lines_by_id.setdefault(task_id, record.line)
        if first == record.line:
            return
        if record.data.get("id") is None:
            raise ConfigError(
                f"the same task as line {first} (same prompt, system prompt and reference, so the same derived id {task_id}): remove one, or give each an id",
                source=f"{self.name}:{record.line}",
            )
        raise ConfigError(f"task id {task_id!r} is already used at line {first}: ids must be unique, rename one", source=f"{self.name}:{record.line}")

    def finish(self, sha256: str) -> TaskSet:
        if not self.tasks:
            raise ConfigError("no tasks: a task set needs at least one task with a prompt", source=self.name)
        default = self.defaults.check or self.fallback.check
        return TaskSet(self.name, tuple(self.tasks), sha256, None if default is None else default.spec, dict(self.checks))


def _refuse_unknown(record: Record, known: tuple[str, ...], name: str, what: str) -> None:
    import difflib

    for key in record.data:
        if key in known or (what == "a task" and key in IGNORED_KEYS):
            continue
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown key {key!r}{hint} in {what}; its keys are: {', '.join(known)}", source=f"{name}:{record.line_of(str(key))}")


class _Fields:
    """A record's fields, each checked for its type, with ``file:line`` in every message."""

    def __init__(self, record: Record, name: str) -> None:
        self.record, self.name, self.data = record, name, record.data

    def where(self, key: str) -> str:
        return f"{self.name}:{self.record.line_of(key)}"

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"'{key}' {message}", source=self.where(key))

    def text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(key, f"must be text, got {value!r:.60}")
        _encodable(value, self, key)
        return value or None

    def task_id(self) -> str | None:
        value = self.data.get("id")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
            raise self.error("id", f"must be non-empty text or a whole number, got {value!r:.60}")
        _encodable(str(value), self, "id")
        return str(value).strip()

    def tags(self) -> list[str]:
        value = self.data.get("tags")
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(tag, str) and tag for tag in value):
            raise self.error("tags", f"must be a list of texts, got {value!r:.60}")
        return list(value)

    def schema(self) -> dict[str, Any] | None:
        """A JSON Schema the answer must match, checked now (``mmo.runtime.structured``)."""
        from mmo.runtime.structured import schema_problem

        value = self.data.get("schema")
        if value is None:
            return None
        problem = schema_problem(value)
        if problem is not None:
            raise self.error("schema", f"{problem}: give a JSON Schema object")
        return dict(value)

    def params(self) -> dict[str, Any]:
        from mmo.spec.params import params_from_mapping

        value = self.data.get("params")
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.error("params", f"must be a mapping of parameters (e.g. {{max_tokens: 64}}), got {value!r:.60}")
        try:
            params_from_mapping(value, where="params:")
        except ConfigError as error:
            raise ConfigError(error.message, source=self.where("params")) from None
        _encodable(value, self, "params")
        return dict(value)

    def json_value(self, key: str) -> Any:
        value = self.data.get(key)
        _encodable(value, self, key)
        return value

    def messages(self) -> tuple[Message, ...]:
        prompt, messages = self.data.get("prompt"), self.data.get("messages")
        if prompt is not None and messages is not None:
            raise self.error("prompt", "and 'messages' are both given: give one")
        if prompt is not None:
            if not isinstance(prompt, str) or not prompt.strip():
                raise self.error("prompt", f"must be non-empty text, got {prompt!r:.60}")
            _encodable(prompt, self, "prompt")
            return (Message("user", prompt),)
        if messages is None:
            raise ConfigError("a task needs 'prompt' (text) or 'messages' (a list of {role, content})", source=self.where("prompt"))
        return self._conversation(messages)

    def _conversation(self, value: Any) -> tuple[Message, ...]:
        if not isinstance(value, list) or not value:
            raise self.error("messages", "must be a non-empty list of {role, content}")
        out: list[Message] = []
        for position, item in enumerate(value, 1):
            if not isinstance(item, dict) or set(item) != {"role", "content"} or item["role"] not in ROLES or not isinstance(item["content"], str):
                raise self.error("messages", f"message {position} must be {{role: {'|'.join(ROLES)}, content: text}}, got {item!r:.80}")
            out.append(Message(item["role"], item["content"]))
        if not any(message.role == "user" for message in out):
            raise self.error("messages", "hold no user message: the question is the last user message")
        _encodable(value, self, "messages")
        return tuple(out)


def _encodable(value: Any, fields: _Fields, key: str) -> None:
    """``value`` as JSON and UTF-8 (what a bench run stores and a provider is sent): no NaN, no
    lone surrogate, no date or other YAML type JSON lacks."""
    try:
        json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:
        raise fields.error(key, "holds a lone surrogate (a \\uD800-\\uDFFF escape without its pair), which is not Unicode text") from None
    except (TypeError, ValueError) as error:
        raise fields.error(key, f"must be JSON data (text, numbers, lists, mappings; no NaN or dates): {error}") from None
    except RecursionError:
        raise fields.error(key, "is nested too deeply") from None


def task_to_json(task: Task) -> dict[str, Any]:
    """``task`` as a JSON object (a line of a bench run's ``tasks.jsonl``); ``task_from_json``
    reads it back equal."""
    return {
        "id": task.id,
        "messages": [message.to_dict() for message in task.messages],
        "system": task.system,
        "params": dict(task.params),
        "reference": task.reference,
        "check": dict(task.check),
        "category": task.category,
        "tags": list(task.tags),
        "line": task.line,
        **({"schema": task.schema} if task.schema is not None else {}),
    }


def task_from_json(data: Mapping[str, Any], where: str = "tasks.jsonl") -> Task:
    """The task ``task_to_json`` wrote; anything else is a ``ConfigError`` naming ``where``."""
    try:
        messages = tuple(Message(item["role"], str(item["content"])) for item in data["messages"])
        return Task(
            id=str(data["id"]),
            messages=messages,
            reference=data.get("reference"),
            check=dict(data.get("check") or {}),
            system=data.get("system"),
            params=frozen_mapping(dict(data.get("params") or {})),
            category=data.get("category"),
            tags=tuple(data.get("tags") or ()),
            line=int(data.get("line") or 0),
            schema=data.get("schema"),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ConfigError(f"not a task as mmo bench stores it ({type(error).__name__}: {error}); run the bench again", source=where) from None
