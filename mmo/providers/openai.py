"""OpenAI Chat Completions, and every server that speaks it: ollama ``/v1``, OpenRouter, Groq,
Together, DeepSeek, Mistral, vLLM, llama.cpp, LM Studio ...

``POST {base_url}/chat/completions``; the base URL includes ``/v1``, as in OpenAI's own SDK.
Bearer auth is sent only when there is a key (local servers need none).

Choices made here:

* Streams ask for ``stream_options.include_usage`` (without it a stream reports no tokens at all)
  and survive the usage-only chunk with ``choices: []``; tool-call fragments are joined by index.
* Tools and the tool choice are written by ``mmo.providers.wire_tools``; an assistant turn that
  called tools carries ``tool_calls`` (arguments as the JSON text the model wrote) and each result
  is a ``tool`` message with its ``tool_call_id``.
* Error bodies vary by server, so they are read defensively: ``error`` as an object or a string,
  ``code`` as a string or a number, vLLM's flat ``{"object": "error", ...}``, OpenRouter's
  ``metadata.raw`` (the upstream's real explanation, appended to the message).
* A refusal (``message.refusal``, structured outputs) with no content becomes the answer text with
  finish reason ``content_filter``: it is what the model said, the user should see it, and gates
  and cascades still know it is not a real answer. A ``content_filter`` finish reason stays a
  finish reason, not an error, so whatever text arrived is kept.
"""

from __future__ import annotations

from typing import Any, Mapping

from mmo.catalog.rules import parameter_rules_for
from mmo.core.errors import (
    AuthFailed,
    ContextTooLong,
    MalformedResponse,
    ModelNotFound,
    Overloaded,
    ProviderError,
    QuotaExhausted,
)
from mmo.core.types import FinishReason, Message, Request, ToolCall, Usage
from mmo.providers.call_progress import StreamProgress
from mmo.providers.http import event_json
from mmo.providers.http_errors import CallTarget, ErrorDetails, as_text, decode_error_body, is_context_overflow, snippet
from mmo.providers.sse import ServerSentEvent
from mmo.providers.wire import WireAnswer, WireProvider
from mmo.providers.wire_images import openai_content
from mmo.providers.wire_json import TokenCounts, count, json_text, merge_extra, plain_json
from mmo.providers.wire_tools import openai_tools

FINISH_REASONS: Mapping[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "model_length": "length",  # Mistral
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",  # the legacy name
    "content_filter": "content_filter",
}


class OpenAIProvider(WireProvider):
    """Chat Completions over the shared client. See the module docstring for the choices made."""

    kind = "openai"

    def _url(self, model: str, *, stream: bool) -> str:
        return f"{self.base_url}/chat/completions"

    def _auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    def _body(self, request: Request, model: str, *, stream: bool) -> dict[str, Any]:
        return build_body(request, model, stream=stream)

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


def build_body(request: Request, model: str, *, stream: bool) -> dict[str, Any]:
    """The JSON body for ``model``. ``request`` has already been through the parameter rules;
    the capability table only decides the name of the token limit."""
    params = request.params
    body: dict[str, Any] = {"model": model, "messages": [_message(m) for m in request.messages], "stream": stream}
    if params.max_tokens is not None:
        body[parameter_rules_for("openai", model).max_tokens_field] = params.max_tokens
    optional = {
        "temperature": params.temperature,
        "top_p": params.top_p,
        "stop": list(params.stop) or None,
        "seed": params.seed,
        "response_format": plain_json(params.response_format),
        "reasoning_effort": params.reasoning_effort,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    body.update(openai_tools(params))
    if params.logprobs or params.top_logprobs is not None:
        body["logprobs"] = True
        if params.top_logprobs is not None:
            body["top_logprobs"] = params.top_logprobs
    if stream:
        body["stream_options"] = {"include_usage": True}
    merged = merge_extra(body, params.extra)
    merged["model"] = model  # set last: no provider extra may change the model called (and priced)
    return merged


def _message(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": openai_content(message)}
    if message.role == "assistant" and message.tool_calls:
        out["content"] = message.content or None
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    if message.role == "tool":
        out["tool_call_id"] = message.tool_call_id
    elif message.name:
        out["name"] = message.name
    return out


# ---------------------------------------------------------------------------------------------
# Answers


def parse_answer(data: Any, target: CallTarget) -> WireAnswer:
    """A non-streaming answer. Some gateways (OpenRouter) answer 200 with an error body."""
    if isinstance(data, dict) and "error" in data:
        raise error_from_payload(target, None, data, {})
    choice = _first_choice(data)
    if choice is None:
        raise target.error(MalformedResponse, f"answer has no choices: {snippet(str(data))}")
    message = choice.get("message") or {}
    text, raw = message.get("content") or "", choice.get("finish_reason")
    finish = FINISH_REASONS.get(raw or "", "other")
    refusal = message.get("refusal")
    if not text and isinstance(refusal, str) and refusal:
        text, finish = refusal, "content_filter"
    calls = tuple(_tool_call(i, c) for i, c in enumerate(message.get("tool_calls") or ()))
    return WireAnswer(
        text=text,
        usage=parse_usage(data.get("usage")),
        finish_reason=finish,
        raw_finish_reason=raw,
        tool_calls=calls,
        reported_model=data.get("model"),
        avg_logprob=_avg_logprob(choice.get("logprobs")),
    )


def _first_choice(data: Any) -> dict[str, Any] | None:
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices:
        return None
    first: dict[str, Any] | None = next((c for c in choices if c.get("index", 0) == 0), choices[0])
    return first


def _tool_call(position: int, call: Mapping[str, Any]) -> ToolCall:
    function = call.get("function") or {}
    arguments = function.get("arguments")
    text = arguments if isinstance(arguments, str) else json_text(arguments if arguments is not None else {})
    return ToolCall(call.get("id") or f"call_{position}", function.get("name") or "", text)


def parse_usage(usage: Any) -> Usage:
    """Token counts. ``completion_tokens`` already includes reasoning tokens; DeepSeek reports its
    cache hits as ``prompt_cache_hit_tokens``."""
    if not isinstance(usage, dict):
        return Usage()
    prompt_details = _object(usage.get("prompt_tokens_details"))
    output_details = _object(usage.get("completion_tokens_details"))
    tokens = TokenCounts(usage)
    cached = tokens("cached_tokens", prompt_details) if prompt_details.get("cached_tokens") else tokens("prompt_cache_hit_tokens")
    return Usage(
        input_tokens=tokens("prompt_tokens"),
        output_tokens=tokens("completion_tokens"),
        cached_tokens=cached,
        reasoning_tokens=tokens("reasoning_tokens", output_details),
        suspect=tokens.suspect,
    )


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _avg_logprob(logprobs: Any) -> float | None:
    tokens = logprobs.get("content") if isinstance(logprobs, dict) else None
    values = [t["logprob"] for t in tokens or () if isinstance(t, dict) and isinstance(t.get("logprob"), (int, float))]
    return sum(values) / len(values) if values else None


class _StreamState:
    """What the chunks of one stream add up to."""

    end_marker = "a finish reason or [DONE]"

    def __init__(self) -> None:
        self.done = False
        self.raw_finish: str | None = None
        self.usage = Usage()
        self.model: str | None = None
        self.refusal: list[str] = []
        self.logprobs: list[float] = []
        self.calls: dict[int, dict[str, Any]] = {}

    @property
    def complete(self) -> bool:
        # Not every compatible server sends [DONE]; a finish reason ends the answer as well.
        return self.done or self.raw_finish is not None

    def feed(self, event: ServerSentEvent, target: CallTarget, progress: StreamProgress) -> str:
        """Take one event; return its text. Raises the error a chunk carries."""
        if event.data.strip() == "[DONE]":
            self.done = True
            return ""
        chunk = event_json(event, target)
        if not isinstance(chunk, dict):
            raise target.error(MalformedResponse, f"stream chunk is not an object: {snippet(str(chunk))}")
        if "error" in chunk:
            raise progress.failed(error_from_payload(target, None, chunk, {}), target)
        self.model = chunk.get("model") or self.model
        usage = chunk.get("usage") or (chunk.get("x_groq") or {}).get("usage")  # Groq used to nest it
        if isinstance(usage, dict):
            self.usage = parse_usage(usage)
        choice = _first_choice(chunk)  # the usage-only chunk has "choices": []
        if choice is None:
            return ""
        self.raw_finish = choice.get("finish_reason") or self.raw_finish
        delta = choice.get("delta") or {}
        for fragment in delta.get("tool_calls") or ():
            self._add_fragment(fragment)
        if isinstance(delta.get("refusal"), str):
            self.refusal.append(delta["refusal"])
        self._add_logprobs(choice.get("logprobs"))
        return delta.get("content") or ""

    def _add_fragment(self, fragment: Mapping[str, Any]) -> None:
        call = self.calls.setdefault(count(fragment.get("index")), {"id": None, "name": "", "arguments": []})
        function = fragment.get("function") or {}
        call["id"] = fragment.get("id") or call["id"]
        call["name"] = function.get("name") or call["name"]
        if function.get("arguments"):
            call["arguments"].append(function["arguments"])

    def _add_logprobs(self, logprobs: Any) -> None:
        tokens = logprobs.get("content") if isinstance(logprobs, dict) else None
        for token in tokens or ():
            if isinstance(token, dict) and isinstance(token.get("logprob"), (int, float)):
                self.logprobs.append(token["logprob"])

    def answer(self, text: str) -> WireAnswer:
        finish = FINISH_REASONS.get(self.raw_finish or "", "other")
        refusal = "".join(self.refusal)
        if not text and refusal:
            text, finish = refusal, "content_filter"
        calls = tuple(
            ToolCall(c["id"] or f"call_{i}", c["name"], "".join(c["arguments"]) or "{}")
            for i, c in sorted(self.calls.items())
        )
        avg = sum(self.logprobs) / len(self.logprobs) if self.logprobs else None
        return WireAnswer(text, self.usage, finish, self.raw_finish, calls, self.model, avg)


# ---------------------------------------------------------------------------------------------
# Errors


def classify_error(target: CallTarget, status: int | None, headers: Mapping[str, str], text: str) -> ProviderError:
    """An error answer (status, headers, body text) in the error tree."""
    payload = decode_error_body(text)
    if isinstance(payload, str):
        message = snippet(payload) or f"HTTP {status} with an empty body"
        return ErrorDetails(message).to_error(target, status, headers)
    return error_from_payload(target, status, payload, headers)


def error_from_payload(target: CallTarget, status: int | None, payload: Any, headers: Mapping[str, str]) -> ProviderError:
    """An OpenAI-style error object, whatever the server's dialect. Inside a 200 answer
    (``status`` None) a numeric ``code`` (OpenRouter, vLLM) stands in for the status."""
    error = payload.get("error", payload) if isinstance(payload, dict) else payload
    if not isinstance(error, dict):
        error = {"message": str(error)}
    message = str(error.get("message") or "")
    metadata = error.get("metadata")
    raw = metadata.get("raw") if isinstance(metadata, dict) else None
    if isinstance(raw, str) and raw and raw not in message:
        message = f"{message}: {raw}" if message else raw
    code, kind = error.get("code"), error.get("type")
    if status is None and isinstance(code, int) and 400 <= code < 600:
        status = code
    details = ErrorDetails(
        message or snippet(str(payload)),
        code=as_text(code) if code is not None else as_text(kind),
        cls=_class_from_body(status, as_text(code) or "", as_text(kind) or "", message),
    )
    return details.to_error(target, status, headers)


def _class_from_body(status: int | None, code: str, kind: str, message: str) -> type[ProviderError] | None:
    if "insufficient_quota" in (code, kind):
        return QuotaExhausted  # a billing stop that arrives as a 429: retrying will not help
    if code == "context_length_exceeded" or is_context_overflow(status, message):
        return ContextTooLong
    if code == "model_not_found" or "try pulling it first" in message:  # the latter: Ollama
        return ModelNotFound
    if code == "invalid_api_key":
        return AuthFailed
    if code in ("server_is_overloaded", "slow_down"):
        return Overloaded  # also when it arrives inside a 200 stream, with no status to go by
    return None
