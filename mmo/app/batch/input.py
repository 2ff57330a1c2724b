"""Batch input: JSONL rows, streamed, never loaded whole.

One JSON object per line::

    {"id": "q1", "prompt": "...", "system": "...", "params": {"max_tokens": 64},
     "tags": ["legal"], "metadata": {"source": "crm"}}
    {"messages": [{"role": "user", "content": "..."}], "model": "smart"}
    {"prompt": "...", "tools": [{"name": "get_weather", "parameters": {...}}], "tool_choice": "auto"}

``prompt`` or ``messages`` is required; everything else is optional, and other keys (an expected
answer, a label) are ignored, so evaluation sets run as they are. Blank lines are skipped. A row
without ``id`` is identified by its line number. A row's ``params`` win over ``-p`` flags, key by
key. A row's ``tools``, ``tool_choice`` and messages that continue a tool call (``tool_calls``,
``tool_call_id``) are read by ``mmo.app.batch.tool_rows``. A row's ``schema`` (a JSON Schema
object) asks for an answer that is JSON matching it (``mmo.runtime.structured``). A row's ``images``
and image parts in its messages are read by ``mmo.app.batch.image_rows``. A row's ``model`` (a profile alias or ``provider:model``, as ``-m`` takes) runs that row on
that one model instead of the strategy; it is checked by the parser's ``models`` callable. The
model is not a parameter: ``params.model`` (or ``params.extra.model``) is refused, since it would
change the model called but not the one priced, capped and logged. A line that is not such an
object is ``Malformed``: reported with its line number and why, while the other rows run. So is a line nested deeper than ``MAX_NESTING`` levels (a 4 KB line of 2,000
brackets would otherwise exhaust Python's stack wherever it is read), and a line whose text holds
a lone surrogate (``"\\ud800"``: valid JSON, but no Unicode text any provider can be sent).

A row's index is its line number (1-based), which stays the same however often a run resumes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Mapping

from mmo.app.batch.image_rows import parts_message, row_images, with_images
from mmo.app.batch.tool_rows import check_tool_turns, has_tool_fields, row_params_with_tools, tool_message
from mmo.app.schema_file import checked_schema
from mmo.core.errors import ConfigError
from mmo.core.types import Message, Params, Request, frozen_mapping
from mmo.spec.params import params_from_mapping
from mmo.spec.tools import ToolProblem

ROLES = ("system", "user", "assistant", "tool")
SNIPPET_CHARS = 200
MAX_NESTING = 100  # levels of arrays and objects a line may nest
_BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class InputRow:
    index: int  # the line number
    row_id: Any  # the row's "id" (a string or a number), else its line number
    request: Request
    model: str | None = None  # the row's own model (its "model" field), run instead of the strategy


@dataclass(frozen=True, slots=True)
class Malformed:
    line: int
    reason: str
    text: str  # the start of the line, for the errors report

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason, "text": self.text}


@dataclass(frozen=True, slots=True)
class InputDigest:
    """What identifies an input's content: its SHA-256 and its number of non-blank lines."""

    sha256: str
    rows: int


ModelCheck = Callable[[str], None]
"""Checks a row's ``model`` against the profile; raises ``ConfigError`` saying why it is unusable."""


class RowParser:
    """Turns one line into an ``InputRow`` or a ``Malformed``, with the ``-p`` flags as the base
    parameters. The base ``Params`` are built once; a row with its own params merges them.
    ``models`` checks a row's ``model`` field (without it, any non-empty name is taken)."""

    def __init__(self, base_params: Mapping[str, Any], models: ModelCheck | None = None, *, base_dir: Path | None = None) -> None:
        self.base_params = dict(base_params)
        self.base = params_from_mapping(self.base_params)
        self.models = models
        self.base_dir = base_dir if base_dir is not None else Path.cwd()  # where a row's image paths start

    def parse(self, line: int, raw: bytes) -> InputRow | Malformed:
        try:
            data = json.loads(raw)
        except UnicodeDecodeError:
            return _malformed(line, "not UTF-8 text", raw)
        except ValueError as error:
            return _malformed(line, f"not valid JSON ({getattr(error, 'msg', error)})", raw)
        except RecursionError:
            return _malformed(line, _TOO_DEEP, raw)
        unusable = _unusable(data, raw)
        if unusable is not None:
            return _malformed(line, unusable, raw)
        if not isinstance(data, dict):
            return _malformed(line, f"expected a JSON object, got {type(data).__name__}", raw)
        try:
            return InputRow(line, _row_id(data, line), self._request(data), self._model(data.get("model")))
        except (_RowError, ToolProblem) as error:
            return _malformed(line, str(error), raw)

    def _model(self, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise _RowError("'model' must be a non-empty string: a profile alias or provider:model")
        name = value.strip()
        if self.models is not None:
            try:
                self.models(name)
            except ConfigError as error:
                raise _RowError(f"'model': {error.message}") from None
        return name

    def _request(self, data: Mapping[str, Any]) -> Request:
        params = _with_schema(data, row_params_with_tools(data, self._params(data.get("params"))))
        metadata = _metadata(data.get("metadata"))
        tags = _tags(data.get("tags"))
        system = _optional_text(data, "system")
        prompt, messages = data.get("prompt"), data.get("messages")
        if prompt is not None and messages is not None:
            raise _RowError("has both 'prompt' and 'messages': give one")
        if prompt is not None:
            if not isinstance(prompt, str) or not prompt.strip():
                raise _RowError("'prompt' must be a non-empty string")
            request = Request.from_prompt(prompt, system=system, params=params, metadata=metadata, tags=tags)
        elif messages is None:
            raise _RowError("needs 'prompt' (a string) or 'messages' (a list of {role, content})")
        else:
            parsed = self._messages(messages)
            request = Request((Message("system", system), *parsed) if system else parsed, params, metadata, tags)
        if data.get("images") is None:
            return request
        try:
            return with_images(request, row_images(data["images"], self.base_dir))
        except ValueError as error:
            raise _RowError(str(error)) from None

    def _messages(self, value: Any) -> tuple[Message, ...]:
        if not isinstance(value, list) or not value:
            raise _RowError("'messages' must be a non-empty list of {role, content}")
        out: list[Message] = []
        for position, item in enumerate(value, 1):
            if isinstance(item, dict) and has_tool_fields(item):
                out.append(tool_message(position, item, out))
                continue
            if isinstance(item, dict) and item.get("role") in ROLES and isinstance(item.get("content"), list):
                try:
                    out.append(parts_message(position, item["role"], item["content"], self.base_dir))
                except ValueError as error:
                    raise _RowError(str(error)) from None
                continue
            if not isinstance(item, dict) or item.get("role") not in ROLES or not isinstance(item.get("content"), str):
                raise _RowError(f"message {position} must be {{role: {'|'.join(ROLES)}, content: string or a list of parts}}")
            out.append(Message(item["role"], item["content"]))
        check_tool_turns(out)
        return tuple(out)

    def _params(self, value: Any) -> Params:
        if value is None:
            return self.base
        if not isinstance(value, dict):
            raise _RowError("'params' must be an object")
        nested = value.get("extra")
        if "model" in value or (isinstance(nested, dict) and "model" in nested):
            where = "params.model" if "model" in value else "params.extra.model"
            raise _RowError(
                f"'{where}' is not a parameter: name the row's model in its own 'model' field "
                '(e.g. {"model": "openai:gpt-4o-mini", "prompt": ...}), so it is priced, capped and logged as that model'
            )
        try:
            return params_from_mapping({**self.base_params, **value}, where="params:")
        except ConfigError as error:
            raise _RowError(error.message) from None


class _RowError(ValueError):
    """Why a parsed JSON object is not a usable row."""


def _with_schema(data: Mapping[str, Any], params: Params) -> Params:
    """A row's ``schema``: a JSON Schema (an object) the answer must match."""
    schema = data.get("schema")
    if schema is None:
        return params
    try:
        return params.merged(output_schema=checked_schema(schema, "'schema'"))
    except ValueError as error:
        raise _RowError(str(error)) from None


_TOO_DEEP = f"nested more than {MAX_NESTING} levels deep"


def _unusable(data: Any, raw: bytes) -> str | None:
    """Why parsed JSON cannot be a row whatever its shape: too deep, or a lone surrogate. Each
    check runs only when the raw line could need it (C-speed scans of the bytes), so an ordinary
    row pays nothing for them."""
    if raw.count(b"[") + raw.count(b"{") > MAX_NESTING and _deeper_than(data, MAX_NESTING):
        return _TOO_DEEP
    if (b"\\ud" in raw or b"\\uD" in raw) and not _encodable(data):
        return "holds a lone surrogate (a \\uD800-\\uDFFF escape without its pair), which is not Unicode text"
    return None


def _deeper_than(data: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels (iteratively: no recursion)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _encodable(data: Any) -> bool:
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _malformed(line: int, reason: str, raw: bytes) -> Malformed:
    return Malformed(line, reason, raw.decode("utf-8", "replace").rstrip("\r\n")[:SNIPPET_CHARS])


def _row_id(data: Mapping[str, Any], line: int) -> Any:
    value = data.get("id")
    if value is None:
        return line
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _RowError("'id' must be a string or a number")
    return value


def _optional_text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise _RowError(f"'{key}' must be a string")
    return value or None


def _metadata(value: Any) -> Mapping[str, str]:
    if value is None:
        return frozen_mapping(None)
    if not isinstance(value, dict):
        raise _RowError("'metadata' must be an object")
    # Router rules compare metadata as text: 3 -> "3", true -> "true".
    return frozen_mapping({str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()})


def _tags(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise _RowError("'tags' must be a list of strings")
    return tuple(value)


# --- reading -------------------------------------------------------------------------------


def numbered_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """``(line number, bytes)`` for every non-blank line, read lazily."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if number == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM):]
            if raw.strip():
                yield number, raw


def read_rows(path: Path, parser: RowParser) -> Iterator[InputRow | Malformed]:
    for number, raw in numbered_lines(path):
        yield parser.parse(number, raw)


def first_malformed(path: Path, parser: RowParser) -> Malformed | None:
    """For ``--strict``: the first bad line, found before anything is spent."""
    for item in read_rows(path, parser):
        if isinstance(item, Malformed):
            return item
    return None


def digest_file(path: Path) -> InputDigest:
    """One streaming pass: the content hash and the row count (for progress and identity)."""
    sha, rows = hashlib.sha256(), 0
    try:
        with path.open("rb") as handle:
            for raw in handle:
                sha.update(raw)
                if raw.strip() and raw.strip() != _BOM:
                    rows += 1
    except OSError as error:
        raise ConfigError(f"cannot read input {str(path)!r}: {error.strerror or error}") from None
    return InputDigest(sha.hexdigest(), rows)


def spool(stream: IO[bytes], destination: Path) -> None:
    """Copy standard input to a file, so it can be hashed (to resume it) and read like any
    input, without holding it in memory."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with destination.open("wb") as out:
        while chunk := stream.read(_CHUNK):
            out.write(chunk)
