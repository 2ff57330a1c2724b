"""The three vendor wire shapes the loopback server speaks: which path is which vendor, what a
request asks for, and the bytes of a vendor-correct answer, stream or error.

The shapes follow ``shared/reference/wire-formats.md`` sections 1-3: OpenAI Chat Completions
(``data:`` events, ``[DONE]``, usage chunk with ``choices: []``), Anthropic Messages (named
events, cumulative output usage on ``message_delta``) and Gemini ``generateContent`` (CRLF CRLF
separators, usage on every chunk, no terminator). Answers are deterministic so that tests can
assert them: ``echo: <last user text>`` unless a text is configured. A request that offers tools and asks
for a call (``tool_calls``) is answered with one, in the vendor's shape.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Literal

from tests.support.loopback.tool_calls import (
    ToolFormatError,
    anthropic_block,
    anthropic_stream_events,
    arguments_for,
    gemini_part,
    openai_message_calls,
    openai_stream_deltas,
    tool_to_call,
)

Shape = Literal["openai", "anthropic", "gemini"]
ErrorKind = Literal[
    "bad_request",
    "context_too_long",
    "auth",
    "permission",
    "not_found",
    "rate_limit",
    "quota",
    "server",
    "overloaded",
    "timeout",
]

ERROR_KINDS: tuple[str, ...] = ErrorKind.__args__  # type: ignore[attr-defined]


class WireError(ValueError):
    """The request body is not what the route's vendor accepts (answered with a 400)."""


@dataclass(frozen=True)
class Route:
    """A recognised endpoint: the vendor shape and what the path itself says."""

    shape: Shape
    model_in_path: str | None = None
    stream_in_path: bool = False


@dataclass(frozen=True)
class Call:
    """What one request asks for, read from its path and body."""

    shape: Shape
    model: str
    stream: bool
    include_usage: bool
    prompt: str
    input_chars: int
    tool: str | None = None  # the tool the answer calls (tool_calls.tool_to_call)


@dataclass(frozen=True)
class Answer:
    """A successful answer before it is rendered in a vendor's shape."""

    id: str
    text: str
    pieces: tuple[str, ...]
    input_tokens: int
    output_tokens: int
    tool_call: tuple[str, str] | None = None  # (name, arguments as JSON text)

    @property
    def call_id(self) -> str:
        return f"call_{self.id}"


@dataclass(frozen=True)
class StreamBytes:
    """A rendered SSE stream: events before the text, one event per text piece, events after."""

    head: tuple[bytes, ...]
    deltas: tuple[bytes, ...]
    tail: tuple[bytes, ...]


@dataclass(frozen=True)
class ErrorReply:
    """A vendor error, resolved for one shape: HTTP status, extra headers and JSON body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: dict[str, Any]


# --- routes and requests -------------------------------------------------------------------


def route_for(method: str, path: str, query: str) -> Route | None:
    """The vendor endpoint a request line names, or None for an unknown one."""
    if method != "POST":
        return None
    if path == "/v1/chat/completions":
        return Route("openai")
    if path == "/v1/messages":
        return Route("anthropic")
    for prefix in ("/v1beta/models/", "/v1/models/"):
        if path.startswith(prefix):
            model, _, verb = path[len(prefix) :].rpartition(":")
            if model and verb == "generateContent":
                return Route("gemini", model_in_path=model)
            if model and verb == "streamGenerateContent" and "alt=sse" in query.split("&"):
                return Route("gemini", model_in_path=model, stream_in_path=True)
    return None


def parse_call(route: Route, body: Any) -> Call:
    """Read model, stream flags and prompt text from a parsed JSON body."""
    if not isinstance(body, dict):
        raise WireError("the request body must be a JSON object")
    if route.shape == "gemini":
        prompt, chars = _gemini_texts(body)
        return Call("gemini", route.model_in_path or "", route.stream_in_path, True, prompt, chars, _tool(route, body, prompt))
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise WireError("'model' is required")
    if route.shape == "openai":
        prompt, chars = _chat_texts(body.get("messages"), system=None)
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        return Call("openai", model, bool(body.get("stream")), include_usage, prompt, chars, _tool(route, body, prompt))
    prompt, chars = _chat_texts(body.get("messages"), system=body.get("system"))
    return Call("anthropic", model, bool(body.get("stream")), True, prompt, chars, _tool(route, body, prompt))


def _tool(route: Route, body: dict[str, Any], prompt: str) -> str | None:
    try:
        return tool_to_call(route.shape, body, prompt)
    except ToolFormatError as error:
        raise WireError(str(error)) from None


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        for part in content:
            _check_image(part)
        return "".join(
            part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def _check_image(part: Any) -> None:
    """An image part must have its vendor's documented shape with base64 that decodes (a 400
    otherwise, as the vendors answer); other parts pass."""
    if not isinstance(part, dict):
        return
    if part.get("type") == "image_url":  # OpenAI
        url = (part.get("image_url") or {}).get("url") if isinstance(part.get("image_url"), dict) else None
        media, _, data = (url or "").partition(";base64,")
        _check_base64(media.removeprefix("data:") if media.startswith("data:") else None, data, "image_url.url")
    elif part.get("type") == "image":  # Anthropic
        source = part.get("source") if isinstance(part.get("source"), dict) else {}
        if source.get("type") != "base64":
            raise WireError("image.source.type must be 'base64'")
        _check_base64(source.get("media_type"), source.get("data"), "image.source")
    elif "inlineData" in part or "inline_data" in part:  # Gemini
        inline = part.get("inlineData") or part.get("inline_data")
        inline = inline if isinstance(inline, dict) else {}
        _check_base64(inline.get("mimeType") or inline.get("mime_type"), inline.get("data"), "inlineData")


def _check_base64(media_type: Any, data: Any, where: str) -> None:
    import base64
    import binascii

    if not isinstance(media_type, str) or not media_type.startswith("image/"):
        raise WireError(f"{where}: an image media type is required")
    try:
        if not isinstance(data, str) or not base64.b64decode(data, validate=True):
            raise WireError(f"{where}: the image data is empty")
    except binascii.Error:
        raise WireError(f"{where}: the image data is not base64") from None


def _chat_texts(messages: Any, system: Any) -> tuple[str, int]:
    """The last user message's text and the character count of every text sent (OpenAI, Anthropic)."""
    if not isinstance(messages, list) or not messages:
        raise WireError("'messages' must be a non-empty list")
    prompt, chars = "", len(_text_of(system))
    for message in messages:
        if not isinstance(message, dict):
            raise WireError("each message must be an object")
        text = _text_of(message.get("content"))
        chars += len(text)
        if message.get("role") == "user":
            prompt = text
    return prompt, chars


def _gemini_texts(body: dict[str, Any]) -> tuple[str, int]:
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise WireError("'contents' must be a non-empty list")
    system = body.get("systemInstruction") or body.get("system_instruction") or {}
    prompt, chars = "", len(_text_of(system.get("parts") if isinstance(system, dict) else None))
    for content in contents:
        if not isinstance(content, dict):
            raise WireError("each content must be an object")
        text = _text_of(content.get("parts"))
        chars += len(text)
        if content.get("role", "user") == "user":
            prompt = text
    return prompt, chars


# --- answers -----------------------------------------------------------------------------


def tokens_for(chars: int) -> int:
    """The loopback's token count: characters / 4, at least one."""
    return max(1, math.ceil(chars / 4))


def make_answer(call: Call, text: str | None, chunks: int, seq: int) -> Answer:
    """The deterministic answer to a call, split into ``chunks`` stream pieces. A call that asks
    for a tool call gets one, with no text unless a text is configured."""
    body = text if text is not None else "" if call.tool else f"echo: {call.prompt}"
    count = max(1, min(chunks, len(body)))
    size = math.ceil(len(body) / count) if body else 1
    pieces = tuple(body[i : i + size] for i in range(0, len(body), size)) or (() if call.tool else ("",))
    if call.tool is None:
        return Answer(f"loopback-{seq}", body, pieces, tokens_for(call.input_chars), tokens_for(len(body)))
    arguments = arguments_for(call.prompt)
    return Answer(f"loopback-{seq}", body, pieces, tokens_for(call.input_chars), tokens_for(len(body) + len(arguments)), (call.tool, arguments))


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def answer_body(call: Call, answer: Answer) -> dict[str, Any]:
    """The non-streaming success body of the call's vendor."""
    if call.shape == "openai":
        return _openai_completion(call, answer)
    if call.shape == "anthropic":
        return _anthropic_message(call, answer)
    return _gemini_response(call, answer, answer.text, final=True)


def json_stream_body(call: Call, answer: Answer, error: dict[str, Any] | None = None) -> Any:
    """What a stream request gets as plain JSON: Gemini's chunks as one array (``error`` put after
    the first), the other vendors' whole completion."""
    if call.shape != "gemini":
        return answer_body(call, answer)
    pieces = answer.pieces or ("",)
    chunks = [_gemini_response(call, answer, piece, final=i == len(pieces) - 1) for i, piece in enumerate(pieces)]
    return chunks[:1] + [error] + chunks[1:] if error is not None else chunks


def answer_stream(call: Call, answer: Answer) -> StreamBytes:
    """The streaming success events of the call's vendor, already framed as SSE."""
    if call.shape == "openai":
        return _openai_stream(call, answer)
    if call.shape == "anthropic":
        return _anthropic_stream(call, answer)
    return _gemini_stream(call, answer)


def _openai_usage(answer: Answer) -> dict[str, Any]:
    return {
        "prompt_tokens": answer.input_tokens,
        "completion_tokens": answer.output_tokens,
        "total_tokens": answer.input_tokens + answer.output_tokens,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def _openai_completion(call: Call, answer: Answer) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": answer.text, "refusal": None}
    finish = "stop"
    if answer.tool_call is not None:
        message["content"] = answer.text or None
        message["tool_calls"] = openai_message_calls(answer.call_id, *answer.tool_call)
        finish = "tool_calls"
    return {
        "id": f"chatcmpl-{answer.id}",
        "object": "chat.completion",
        "created": 0,
        "model": call.model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": _openai_usage(answer),
        "system_fingerprint": "fp_loopback",
    }


def _openai_stream(call: Call, answer: Answer) -> StreamBytes:
    def chunk(choices: list[Any], usage: Any = None) -> bytes:
        event = {"id": f"chatcmpl-{answer.id}", "object": "chat.completion.chunk", "created": 0,
                 "model": call.model, "choices": choices}
        if call.include_usage:
            event["usage"] = usage
        return f"data: {_dumps(event)}\n\n".encode()

    def choice(delta: dict[str, Any], finish: str | None = None) -> list[Any]:
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]

    head = (chunk(choice({"role": "assistant", "content": ""})),)
    deltas = tuple(chunk(choice({"content": piece})) for piece in answer.pieces)
    if answer.tool_call is not None:
        deltas += tuple(chunk(choice(delta)) for delta in openai_stream_deltas(answer.call_id, *answer.tool_call))
    tail = [chunk(choice({}, "tool_calls" if answer.tool_call else "stop"))]
    if call.include_usage:
        tail.append(chunk([], _openai_usage(answer)))
    tail.append(b"data: [DONE]\n\n")
    return StreamBytes(head, deltas, tuple(tail))


def _anthropic_usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {"input_tokens": input_tokens, "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0, "output_tokens": output_tokens}


def _anthropic_message(call: Call, answer: Answer) -> dict[str, Any]:
    return {
        "id": f"msg_{answer.id}",
        "type": "message",
        "role": "assistant",
        "model": call.model,
        "content": _anthropic_content(answer),
        "stop_reason": "tool_use" if answer.tool_call else "end_turn",
        "stop_sequence": None,
        "usage": _anthropic_usage(answer.input_tokens, answer.output_tokens),
    }


def _anthropic_content(answer: Answer) -> list[dict[str, Any]]:
    if answer.tool_call is None:
        return [{"type": "text", "text": answer.text}]
    text = [{"type": "text", "text": answer.text}] if answer.text else []
    return [*text, anthropic_block(answer.call_id, *answer.tool_call)]


def _anthropic_event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {_dumps(data)}\n\n".encode()


def _anthropic_stream(call: Call, answer: Answer) -> StreamBytes:
    if answer.tool_call is not None:
        return _anthropic_tool_stream(call, answer)
    start = {**_anthropic_message(call, answer), "content": [], "stop_reason": None,
             "usage": _anthropic_usage(answer.input_tokens, 1)}
    head = (
        _anthropic_event("message_start", {"type": "message_start", "message": start}),
        _anthropic_event("content_block_start", {"type": "content_block_start", "index": 0,
                                                 "content_block": {"type": "text", "text": ""}}),
        _anthropic_event("ping", {"type": "ping"}),
    )
    deltas = tuple(
        _anthropic_event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                 "delta": {"type": "text_delta", "text": piece}})
        for piece in answer.pieces
    )
    final_delta = {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                   "usage": _anthropic_usage(answer.input_tokens, answer.output_tokens)}
    tail = (
        _anthropic_event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _anthropic_event("message_delta", final_delta),
        _anthropic_event("message_stop", {"type": "message_stop"}),
    )
    return StreamBytes(head, deltas, tail)


def _anthropic_tool_stream(call: Call, answer: Answer) -> StreamBytes:
    """Text (when there is any) in block 0, then the tool_use block, its input in fragments."""
    assert answer.tool_call is not None
    start = {**_anthropic_message(call, answer), "content": [], "stop_reason": None,
             "usage": _anthropic_usage(answer.input_tokens, 1)}
    head = [_anthropic_event("message_start", {"type": "message_start", "message": start})]
    deltas: list[bytes] = []
    if answer.pieces:
        head.append(_anthropic_event("content_block_start", {"type": "content_block_start", "index": 0,
                                                             "content_block": {"type": "text", "text": ""}}))
        deltas += [_anthropic_event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                            "delta": {"type": "text_delta", "text": piece}})
                   for piece in answer.pieces]
        deltas.append(_anthropic_event("content_block_stop", {"type": "content_block_stop", "index": 0}))
    events = anthropic_stream_events(1 if answer.pieces else 0, answer.call_id, *answer.tool_call)
    deltas += [_anthropic_event(name, data) for name, data in events]
    final_delta = {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                   "usage": _anthropic_usage(answer.input_tokens, answer.output_tokens)}
    tail = (_anthropic_event("message_delta", final_delta), _anthropic_event("message_stop", {"type": "message_stop"}))
    return StreamBytes(tuple(head), tuple(deltas), tail)


def _gemini_response(call: Call, answer: Answer, text: str, final: bool) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"text": text}] if text or answer.tool_call is None else []
    if final and answer.tool_call is not None:
        parts.append(gemini_part(*answer.tool_call))
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    usage: dict[str, Any] = {"promptTokenCount": answer.input_tokens}
    if final:
        candidate["finishReason"] = "STOP"
        usage["candidatesTokenCount"] = answer.output_tokens
        usage["totalTokenCount"] = answer.input_tokens + answer.output_tokens
    else:
        usage["totalTokenCount"] = answer.input_tokens
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": call.model,
            "responseId": answer.id}


def _gemini_stream(call: Call, answer: Answer) -> StreamBytes:
    pieces = answer.pieces or ("",)  # a tool call alone comes in one chunk
    last = len(pieces) - 1
    deltas = tuple(
        f"data: {_dumps(_gemini_response(call, answer, piece, final=i == last))}\r\n\r\n".encode()
        for i, piece in enumerate(pieces)
    )
    return StreamBytes((), deltas, ())


# --- errors ------------------------------------------------------------------------------

_KIND_BY_STATUS = {400: "bad_request", 401: "auth", 402: "quota", 403: "permission", 404: "not_found",
                   408: "timeout", 413: "bad_request", 429: "rate_limit", 500: "server", 502: "server",
                   503: "overloaded", 504: "timeout", 529: "overloaded"}

_DEFAULT_STATUS = {"bad_request": 400, "context_too_long": 400, "auth": 401, "permission": 403,
                   "not_found": 404, "rate_limit": 429, "quota": 429, "server": 500,
                   "overloaded": 503, "timeout": 504}

_SHAPE_STATUS = {("anthropic", "overloaded"): 529, ("anthropic", "quota"): 402, ("gemini", "auth"): 400}

_OPENAI = {  # kind -> (type, code)
    "bad_request": ("invalid_request_error", None),
    "context_too_long": ("invalid_request_error", "context_length_exceeded"),
    "auth": ("invalid_request_error", "invalid_api_key"),
    "permission": ("invalid_request_error", "unsupported_country_region_territory"),
    "not_found": ("invalid_request_error", "model_not_found"),
    "rate_limit": ("requests", "rate_limit_exceeded"),
    "quota": ("insufficient_quota", "insufficient_quota"),
    "server": ("server_error", None),
    "overloaded": ("server_error", "server_is_overloaded"),
    "timeout": ("server_error", "timeout"),
}

_ANTHROPIC = {"bad_request": "invalid_request_error", "context_too_long": "invalid_request_error",
              "auth": "authentication_error", "permission": "permission_error",
              "not_found": "not_found_error", "rate_limit": "rate_limit_error", "quota": "billing_error",
              "server": "api_error", "overloaded": "overloaded_error", "timeout": "timeout_error"}

_GEMINI_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                  404: "NOT_FOUND", 409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
                  503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}

_CONTEXT_LIMIT = 128_000


def kind_for_status(status: int) -> ErrorKind:
    """The error kind a bare HTTP status stands for (unknown 5xx: server, unknown 4xx: bad request)."""
    kind = _KIND_BY_STATUS.get(status)
    if kind is None:
        kind = "server" if status >= 500 else "bad_request"
    return kind  # type: ignore[return-value]


def status_for(shape: Shape, kind: ErrorKind) -> int:
    """The status the vendor answers an error kind with (Anthropic overload: 529, ...)."""
    return _SHAPE_STATUS.get((shape, kind), _DEFAULT_STATUS[kind])


def error_message(kind: ErrorKind, call: Call) -> str:
    """A message in the words the vendors use, so adapters that read messages see real ones."""
    tokens = tokens_for(call.input_chars) + _CONTEXT_LIMIT
    messages = {
        "bad_request": "Invalid request (loopback).",
        "context_too_long": _context_message(call.shape, tokens),
        "auth": "API key not valid. Please pass a valid API key." if call.shape == "gemini"
        else "Incorrect API key provided.",
        "permission": "You are not allowed to use this model.",
        "not_found": f"The model `{call.model}` does not exist or you do not have access to it.",
        "rate_limit": f"Rate limit reached for {call.model}. Please try again later.",
        "quota": "You exceeded your current quota, please check your plan and billing details.",
        "server": "The server had an error while processing your request.",
        "overloaded": "Overloaded" if call.shape == "anthropic" else "The model is overloaded. Please try again later.",
        "timeout": "Request timed out.",
    }
    return messages[kind]


def _context_message(shape: Shape, tokens: int) -> str:
    if shape == "anthropic":
        return f"prompt is too long: {tokens} tokens > {_CONTEXT_LIMIT} maximum"
    if shape == "gemini":
        return f"The input token count ({tokens}) exceeds the maximum number of tokens allowed ({_CONTEXT_LIMIT})."
    return (f"This model's maximum context length is {_CONTEXT_LIMIT} tokens. However, your messages "
            f"resulted in {tokens} tokens. Please reduce the length of the messages.")


def error_reply(
    call: Call,
    kind: ErrorKind,
    status: int,
    retry_after_s: float | None,
    retry_after_ms: int | None,
    message: str | None = None,
) -> ErrorReply:
    """The vendor-correct error for a call. Retry hints go where each vendor puts them: headers
    for OpenAI and Anthropic, a ``RetryInfo`` detail in the body for Gemini."""
    text = message or error_message(kind, call)
    if call.shape == "gemini":
        return ErrorReply(status, (), _gemini_error(kind, status, text, retry_after_s))
    headers: list[tuple[str, str]] = []
    if retry_after_s is not None:
        headers.append(("retry-after", f"{retry_after_s:g}"))
    if retry_after_ms is not None:
        headers.append(("retry-after-ms", str(retry_after_ms)))
    if call.shape == "openai":
        error_type, code = _OPENAI[kind]
        body = {"error": {"message": text, "type": error_type, "param": None, "code": code}}
    else:
        body = {"type": "error", "error": {"type": _ANTHROPIC[kind], "message": text},
                "request_id": "req_loopback"}
    return ErrorReply(status, tuple(headers), body)


def _gemini_error(kind: ErrorKind, status: int, text: str, retry_after_s: float | None) -> dict[str, Any]:
    details: list[dict[str, Any]] = []
    if kind == "auth" and status == 400:
        details.append({"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com"})
    if kind in ("rate_limit", "quota"):
        quota_id = "GenerateRequestsPerDayPerProjectPerModel-FreeTier" if kind == "quota" \
            else "GenerateRequestsPerMinutePerProjectPerModel"
        details.append({"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                        "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_requests",
                                        "quotaId": quota_id}]})
    if retry_after_s is not None:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_after_s:g}s"})
    status_name = _GEMINI_STATUS.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
    error: dict[str, Any] = {"code": status, "message": text, "status": status_name}
    if details:
        error["details"] = details
    return {"error": error}


def error_event(call: Call, kind: ErrorKind) -> bytes:
    """The event a vendor sends when a 200 stream fails part-way."""
    status = status_for(call.shape, kind)
    body = error_reply(call, kind, status, None, None).body
    if call.shape == "anthropic":
        return _anthropic_event("error", {"type": "error", "error": body["error"]})
    separator = "\r\n\r\n" if call.shape == "gemini" else "\n\n"
    return f"data: {_dumps(body)}{separator}".encode()


def unknown_route_body(path: str) -> dict[str, Any]:
    """What the loopback answers for a path that is none of the three vendors'."""
    return {"error": {"message": f"loopback: no such endpoint {path}", "type": "invalid_request_error",
                      "param": None, "code": "unknown_url"}}


def encode_json(value: Any) -> bytes:
    return _dumps(value).encode()
