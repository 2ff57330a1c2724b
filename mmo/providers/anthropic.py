"""Anthropic Messages: ``POST {base_url}/v1/messages`` with ``x-api-key`` and
``anthropic-version: 2023-06-01``; the base URL is the host root, as in Anthropic's SDK.

Choices made here:

* The system prompt goes top level; tool calls travel as ``tool_use`` blocks in the assistant turn
  and tool results as ``tool_result`` blocks in a user turn, and consecutive turns of one role are
  merged (the API wants them alternating). Tools and the tool choice: ``mmo.providers.wire_tools``.
* ``max_tokens`` is required by the API. When the request has none we send 4096: every current
  Claude model can produce that much, it covers ordinary answers, and it keeps the worst-case
  cost of a forgotten limit small. Set ``max_tokens`` for long outputs.
* ``response_format`` (json_schema) becomes ``output_config.format`` and ``reasoning_effort``
  becomes ``output_config.effort``; there is no seed and no logprobs (the capability table drops
  them with a warning).
* Usage: the API reports cache reads and cache writes apart from ``input_tokens``; ours counts
  every prompt token, so input = input + cache reads + cache writes, and cached = cache reads.
* Streams: ``message_delta`` usage is cumulative (the last one wins); ``ping`` and unknown events
  are ignored; an ``error`` event after the 200 raises the mapped error (``overloaded_error`` ->
  Overloaded), or a ``StreamCut`` carrying the text already shown when the error is transient.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from mmo.core.errors import (
    AuthFailed,
    BadRequest,
    ContextTooLong,
    MalformedResponse,
    ModelNotFound,
    Overloaded,
    ProviderError,
    QuotaExhausted,
    RateLimited,
    ServerError,
)
from mmo.core.types import FinishReason, Message, Request, ToolCall, Usage
from mmo.providers.call_progress import StreamProgress
from mmo.providers.http import event_json
from mmo.providers.http_errors import CallTarget, ErrorDetails, decode_error_body, is_context_overflow, snippet
from mmo.providers.sse import ServerSentEvent
from mmo.providers.wire import WireAnswer, WireProvider
from mmo.providers.wire_images import anthropic_image_blocks
from mmo.providers.wire_json import TokenCounts, arguments_object, count, json_text, merge_extra, plain_json
from mmo.providers.wire_tools import anthropic_tools

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096

FINISH_REASONS: Mapping[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

ERROR_TYPES: Mapping[str, type[ProviderError]] = {
    "invalid_request_error": BadRequest,
    "authentication_error": AuthFailed,
    "permission_error": AuthFailed,
    "billing_error": QuotaExhausted,
    "not_found_error": ModelNotFound,
    "request_too_large": BadRequest,
    "rate_limit_error": RateLimited,
    "conflict_error": ServerError,
    "api_error": ServerError,
    "timeout_error": ServerError,
    "overloaded_error": Overloaded,
}


class AnthropicProvider(WireProvider):
    """Anthropic Messages over the shared client. See the module docstring for the choices made."""

    kind = "anthropic"

    def _url(self, model: str, *, stream: bool) -> str:
        return f"{self.base_url}/v1/messages"

    def _auth(self) -> dict[str, str]:
        auth = {"anthropic-version": API_VERSION}
        if self._api_key:
            auth["x-api-key"] = self._api_key
        return auth

    def _body(self, request: Request, model: str, *, stream: bool) -> dict[str, Any]:
        body, ignored = build_body(request, model, stream=stream)
        if ignored:
            self._warn(ignored)
        return body

    @staticmethod
    def _parse(data: Any, target: CallTarget) -> WireAnswer:
        return parse_answer(data, target)

    @staticmethod
    def _classify(target: CallTarget, status: int | None, headers: Mapping[str, str], text: str) -> ProviderError:
        return classify_error(target, status, headers, text)

    @staticmethod
    def _stream_state() -> _StreamState:
        return _StreamState()


# ---------------------------------------------------------------------------------------------
# Request


def build_body(request: Request, model: str, *, stream: bool) -> tuple[dict[str, Any], str | None]:
    """The JSON body, and a warning when part of the request has no Anthropic equivalent."""
    params = request.params
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": params.max_tokens if params.max_tokens is not None else DEFAULT_MAX_TOKENS,
        "messages": _messages(request.messages),
        "stream": stream,
    }
    if request.system is not None:
        body["system"] = request.system
    optional = {"temperature": params.temperature, "top_p": params.top_p, "stop_sequences": list(params.stop) or None}
    body.update({k: v for k, v in optional.items() if v is not None})
    body.update(anthropic_tools(params))
    output_config, warning = _output_config(params.response_format, params.reasoning_effort)
    if output_config:
        body["output_config"] = output_config
    merged = merge_extra(body, params.extra)
    merged["model"] = model  # set last: no provider extra may change the model called (and priced)
    return merged, warning


def _output_config(response_format: Mapping[str, Any] | None, effort: str | None) -> tuple[dict[str, Any], str | None]:
    config: dict[str, Any] = {"effort": effort} if effort else {}
    fmt = plain_json(response_format) or {}
    schema = (fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" else None
    if schema is not None:
        config["format"] = {"type": "json_schema", "schema": schema}
        return config, None
    if fmt.get("type") not in (None, "text"):
        return config, f"response_format {fmt.get('type')!r} ignored: Anthropic takes only a json_schema"
    return config, None


def _messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if out and out[-1]["role"] == role:
            out[-1]["content"] = _as_blocks(out[-1]["content"]) + blocks
        else:
            plain = len(blocks) == 1 and blocks[0]["type"] == "text"
            out.append({"role": role, "content": blocks[0]["text"] if plain else blocks})
    return out


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [{"type": "tool_result", "tool_use_id": message.tool_call_id, "content": message.content}]
    blocks: list[dict[str, Any]] = anthropic_image_blocks(message)
    if message.content or not (message.tool_calls or message.images):
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls:
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": arguments_object(call.arguments)})
    return blocks


def _as_blocks(content: Any) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)



# ---------------------------------------------------------------------------------------------
# Answers


def parse_answer(data: Any, target: CallTarget) -> WireAnswer:
    if not isinstance(data, dict) or not isinstance(data.get("content"), list):
        if isinstance(data, dict) and data.get("type") == "error":
            raise error_from_payload(target, None, data, {})
        raise target.error(MalformedResponse, f"answer has no content list: {snippet(str(data))}")
    blocks = [b for b in data["content"] if isinstance(b, dict)]
    text = "".join(b.get("text") or "" for b in blocks if b.get("type") == "text")
    calls = tuple(
        ToolCall(b.get("id") or f"call_{i}", b.get("name") or "", json_text(b.get("input") or {}))
        for i, b in enumerate(blocks)
        if b.get("type") == "tool_use"
    )
    raw = data.get("stop_reason")
    return WireAnswer(text, parse_usage(data.get("usage")), FINISH_REASONS.get(raw or "", "other"), raw, calls, data.get("model"))


def parse_usage(usage: Any) -> Usage:
    if not isinstance(usage, dict):
        return Usage()
    tokens = TokenCounts(usage)
    cache_read = tokens("cache_read_input_tokens")
    return Usage(
        input_tokens=tokens("input_tokens") + cache_read + tokens("cache_creation_input_tokens"),
        output_tokens=tokens("output_tokens"),
        cached_tokens=cache_read,
        suspect=tokens.suspect,
    )


class _StreamState:
    """What the events of one stream add up to."""

    end_marker = "message_stop"

    def __init__(self) -> None:
        self.complete = False
        self.raw_finish: str | None = None
        self.model: str | None = None
        self.usage: dict[str, Any] = {}
        self.calls: dict[int, dict[str, Any]] = {}

    def feed(self, event: ServerSentEvent, target: CallTarget, progress: StreamProgress) -> str:
        """Take one event; return its text. Raises the error an ``error`` event carries."""
        payload = event_json(event, target)
        kind = payload.get("type") if isinstance(payload, dict) else None
        if kind == "error":
            raise progress.failed(error_from_payload(target, None, payload, {}), target)
        if kind == "message_start":
            message = payload.get("message") or {}
            self.model = message.get("model")
            self._add_usage(message.get("usage"))
        elif kind == "content_block_start":
            self._start_block(count(payload.get("index")), payload.get("content_block") or {})
        elif kind == "content_block_delta":
            return self._delta(count(payload.get("index")), payload.get("delta") or {})
        elif kind == "message_delta":
            self.raw_finish = (payload.get("delta") or {}).get("stop_reason") or self.raw_finish
            self._add_usage(payload.get("usage"))
        elif kind == "message_stop":
            self.complete = True
        return ""  # ping, content_block_stop and event types newer than this code

    def _add_usage(self, usage: Any) -> None:
        if isinstance(usage, dict):
            self.usage.update({k: v for k, v in usage.items() if v is not None})

    def _start_block(self, index: int, block: Mapping[str, Any]) -> None:
        if block.get("type") == "tool_use":
            self.calls[index] = {"id": block.get("id"), "name": block.get("name") or "", "parts": [], "input": block.get("input")}

    def _delta(self, index: int, delta: Mapping[str, Any]) -> str:
        if delta.get("type") == "text_delta":
            return delta.get("text") or ""
        if delta.get("type") == "input_json_delta" and index in self.calls:
            self.calls[index]["parts"].append(delta.get("partial_json") or "")
        return ""  # thinking, signature and citation deltas are not answer text

    def answer(self, text: str) -> WireAnswer:
        calls = tuple(
            ToolCall(c["id"] or f"call_{i}", c["name"], "".join(c["parts"]) or json_text(c["input"] or {}))
            for i, c in sorted(self.calls.items())
        )
        finish = FINISH_REASONS.get(self.raw_finish or "", "other")
        return WireAnswer(text, parse_usage(self.usage), finish, self.raw_finish, calls, self.model)


# ---------------------------------------------------------------------------------------------
# Errors


def classify_error(target: CallTarget, status: int | None, headers: Mapping[str, str], text: str) -> ProviderError:
    """An error answer in the error tree. A 413 from the edge proxy may not be JSON at all."""
    payload = decode_error_body(text)
    if not isinstance(payload, dict):
        message = snippet(str(payload)) or f"HTTP {status} with an empty body"
        return ErrorDetails(message).to_error(target, status, headers)
    return error_from_payload(target, status, payload, headers)


def error_from_payload(target: CallTarget, status: int | None, payload: Mapping[str, Any], headers: Mapping[str, str]) -> ProviderError:
    """``{"type": "error", "error": {"type", "message"}}``: the type decides the class."""
    error = payload.get("error")
    error = error if isinstance(error, dict) else {"message": str(error or snippet(json.dumps(payload)))}
    kind, message = error.get("type"), str(error.get("message") or "")
    cls = ContextTooLong if is_context_overflow(status, message) else ERROR_TYPES.get(kind or "")
    return ErrorDetails(message or snippet(json.dumps(payload)), code=kind, cls=cls).to_error(target, status, headers)
