"""Google Gemini ``generateContent``: ``POST {base_url}/v1beta/models/{model}:generateContent``, and
``:streamGenerateContent?alt=sse`` for streams (SSE with ``\\r\\n\\r\\n`` separators and no end
marker; without ``alt=sse`` the API streams one JSON array instead). The base URL is the host root.

Choices made here:

* The key goes in the ``x-goog-api-key`` header, never in a ``?key=`` query: URLs end up in logs,
  traces and proxy records.
* Roles are ``user``/``model``; consecutive turns of one role are merged. Tool calls become
  ``functionCall`` parts in the model turn, each with the thought signature Google documents for
  history whose own signature is unknown on the first call of the turn, as the model sends them
  (mmo does not keep signatures; Gemini 3 refuses a function call turn without one), and tool results ``functionResponse`` parts in a user turn, named after the call
  they answer. Tools and the tool choice: ``mmo.providers.wire_tools``.
* Usage: thoughts are billed as output but reported outside ``candidatesTokenCount``, so
  output = candidates + thoughts (reasoning = thoughts); cached = ``cachedContentTokenCount``.
* A blocked answer (``finishReason: SAFETY`` and friends, often with no ``parts`` at all) is a
  completion with finish reason ``content_filter``; a blocked prompt (no candidates, a
  ``promptFeedback.blockReason``) raises ``ContentFiltered``, since there is no answer at all.
* Function calls finish with ``STOP``; the completion reports ``tool_calls``.
* Errors: an invalid key is a 400 whose ``details`` say ``API_KEY_INVALID``; a 429's wait is in
  ``RetryInfo.retryDelay`` ("37s"), and a per-day quota is a quota stop, not a rate limit.
Vertex AI answers with the same body, so its responses parse the same way.
"""

from __future__ import annotations

import json
from typing import Any, Mapping
from urllib.parse import quote

from mmo.core.errors import (
    AuthFailed,
    BadRequest,
    ContentFiltered,
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
from mmo.providers.rate_limits import parse_go_duration
from mmo.providers.sse import ServerSentEvent
from mmo.providers.wire import WireAnswer, WireProvider
from mmo.providers.wire_images import gemini_image_parts
from mmo.providers.wire_json import TokenCounts, arguments_object, json_text, merge_extra, plain_json
from mmo.providers.wire_tools import GEMINI_UNKNOWN_SIGNATURE, gemini_tools

API_VERSION = "v1beta"

_BLOCKED = ("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION")
FINISH_REASONS: Mapping[str, FinishReason] = {"STOP": "stop", "MAX_TOKENS": "length", **{r: "content_filter" for r in _BLOCKED}}

GRPC_STATUSES: Mapping[str, type[ProviderError]] = {
    "INVALID_ARGUMENT": BadRequest,
    # Seen as "free tier not available in your country, enable billing": an account stop that
    # another vendor can get past, unlike a malformed request.
    "FAILED_PRECONDITION": QuotaExhausted,
    "OUT_OF_RANGE": BadRequest,
    "UNAUTHENTICATED": AuthFailed,
    "PERMISSION_DENIED": AuthFailed,
    "NOT_FOUND": ModelNotFound,
    "RESOURCE_EXHAUSTED": RateLimited,
    "ABORTED": ServerError,
    "INTERNAL": ServerError,
    "UNKNOWN": ServerError,
    "DEADLINE_EXCEEDED": ServerError,
    "UNAVAILABLE": Overloaded,
}
_KEY_REASONS = ("API_KEY_INVALID", "API_KEY_EXPIRED")


class GeminiProvider(WireProvider):
    """Gemini over the shared client. See the module docstring for the choices made."""

    kind = "gemini"

    def _url(self, model: str, *, stream: bool) -> str:
        name = quote(model.removeprefix("models/"), safe="/-._~")
        action = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"{self.base_url}/{API_VERSION}/models/{name}:{action}"

    def _auth(self) -> dict[str, str]:
        return {"x-goog-api-key": self._api_key} if self._api_key else {}

    def _body(self, request: Request, model: str, *, stream: bool) -> dict[str, Any]:
        return build_body(request)

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


def build_body(request: Request) -> dict[str, Any]:
    body: dict[str, Any] = {"contents": _contents(request.messages)}
    if request.system is not None:
        body["systemInstruction"] = {"parts": [{"text": request.system}]}
    body.update(gemini_tools(request.params))
    config = _generation_config(request)
    if config:
        body["generationConfig"] = config
    merged = merge_extra(body, request.params.extra)
    merged.pop("model", None)  # the model is named in the URL only: an extra cannot add another
    return merged


def _generation_config(request: Request) -> dict[str, Any]:
    params = request.params
    optional: dict[str, Any] = {
        "maxOutputTokens": params.max_tokens,
        "temperature": params.temperature,
        "topP": params.top_p,
        "stopSequences": list(params.stop) or None,
        "seed": params.seed,
    }
    config = {k: v for k, v in optional.items() if v is not None}
    fmt = plain_json(params.response_format) or {}
    if fmt.get("type") in ("json_schema", "json_object"):
        config["responseMimeType"] = "application/json"
        schema = (fmt.get("json_schema") or {}).get("schema")
        if schema is not None:
            config["responseJsonSchema"] = schema
    if params.logprobs or params.top_logprobs is not None:
        config["responseLogprobs"] = True
        if params.top_logprobs is not None:
            config["logprobs"] = params.top_logprobs
    if params.reasoning_effort:
        config["thinkingConfig"] = {"thinkingLevel": params.reasoning_effort}
    return config


def _contents(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    contents: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}
    for message in messages:
        if message.role == "system":
            continue
        call_names.update({c.id: c.name for c in message.tool_calls})
        role = "model" if message.role == "assistant" else "user"
        parts = _parts(message, call_names)
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    return contents


def _parts(message: Message, call_names: Mapping[str, str]) -> list[dict[str, Any]]:
    if message.role == "tool":
        name = message.name or call_names.get(message.tool_call_id or "", "")
        return [{"functionResponse": {"name": name, "response": _tool_response(message.content)}}]
    parts: list[dict[str, Any]] = gemini_image_parts(message)
    if message.content or not (message.tool_calls or message.images):
        parts.append({"text": message.content})
    for position, call in enumerate(message.tool_calls):
        part: dict[str, Any] = {"functionCall": {"name": call.name, "args": arguments_object(call.arguments)}}
        if position == 0:  # as the model sends them: the first call of a turn carries the signature
            part["thoughtSignature"] = GEMINI_UNKNOWN_SIGNATURE
        parts.append(part)
    return parts


def _tool_response(content: str) -> Any:
    """A tool's result: a JSON object as is, anything else wrapped as ``{"result": ...}``."""
    try:
        value = json.loads(content)
    except (ValueError, RecursionError):  # RecursionError: nested past what Python can parse
        return {"result": content}
    return value if isinstance(value, dict) else {"result": value}



# ---------------------------------------------------------------------------------------------
# Answers


def parse_answer(data: Any, target: CallTarget) -> WireAnswer:
    if not isinstance(data, dict):
        raise target.error(MalformedResponse, f"answer is not an object: {snippet(str(data))}")
    if "error" in data:
        raise error_from_payload(target, None, data, {})
    candidate = _first_candidate(data, target)
    if candidate is None:
        raise target.error(MalformedResponse, f"answer has no candidates: {snippet(json.dumps(data))}")
    text, calls = _read_parts(candidate)
    raw = candidate.get("finishReason")
    return WireAnswer(
        text=text,
        usage=parse_usage(data.get("usageMetadata")),
        finish_reason=FINISH_REASONS.get(raw or "", "other"),
        raw_finish_reason=raw,
        tool_calls=calls,
        reported_model=data.get("modelVersion"),
        avg_logprob=_number(candidate.get("avgLogprobs")),
    )


def _first_candidate(data: Mapping[str, Any], target: CallTarget) -> Mapping[str, Any] | None:
    """The first candidate; a blocked prompt (no candidates, a block reason) raises."""
    candidates = data.get("candidates")
    if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict):
        return candidates[0]
    feedback = data.get("promptFeedback") or {}
    reason = feedback.get("blockReason") if isinstance(feedback, dict) else None
    if reason:
        detail = feedback.get("blockReasonMessage") or "the prompt was blocked"
        raise target.error(ContentFiltered, f"{detail} ({reason})", code=str(reason))
    return None


def _read_parts(candidate: Mapping[str, Any], first_call: int = 0) -> tuple[str, tuple[ToolCall, ...]]:
    """Answer text and function calls; thought summaries are not answer text. A blocked
    candidate has ``content: {}`` with no ``parts`` key."""
    parts = (candidate.get("content") or {}).get("parts") or []
    text = "".join(p.get("text") or "" for p in parts if isinstance(p, dict) and not p.get("thought"))
    calls = [p["functionCall"] for p in parts if isinstance(p, dict) and isinstance(p.get("functionCall"), dict)]
    return text, tuple(
        ToolCall(c.get("id") or f"call_{first_call + i}", c.get("name") or "", json_text(c.get("args") or {}))
        for i, c in enumerate(calls)
    )


def parse_usage(usage: Any) -> Usage:
    if not isinstance(usage, dict):
        return Usage()
    tokens = TokenCounts(usage)
    thoughts = tokens("thoughtsTokenCount")
    return Usage(
        input_tokens=tokens("promptTokenCount") + tokens("toolUsePromptTokenCount"),
        output_tokens=tokens("candidatesTokenCount") + thoughts,
        cached_tokens=tokens("cachedContentTokenCount"),
        reasoning_tokens=thoughts,
        suspect=tokens.suspect,
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


class _StreamState:
    """What the chunks of one stream add up to; each chunk is a whole GenerateContentResponse."""

    end_marker = "a finish reason"  # the stream has no end marker: a finish reason is the end

    def __init__(self) -> None:
        self.raw_finish: str | None = None
        self.usage = Usage()
        self.model: str | None = None
        self.avg_logprob: float | None = None
        self.calls: list[ToolCall] = []

    @property
    def complete(self) -> bool:
        return self.raw_finish is not None

    def feed(self, event: ServerSentEvent, target: CallTarget, progress: StreamProgress) -> str:
        chunk = event_json(event, target)
        if not isinstance(chunk, dict):
            raise target.error(MalformedResponse, f"stream chunk is not an object: {snippet(str(chunk))}")
        if "error" in chunk:
            raise progress.failed(error_from_payload(target, None, chunk, {}), target)
        self.model = chunk.get("modelVersion") or self.model
        if isinstance(chunk.get("usageMetadata"), dict):
            self.usage = parse_usage(chunk["usageMetadata"])  # each chunk carries the running total
        candidate = _first_candidate(chunk, target)
        if candidate is None:
            return ""
        text, calls = _read_parts(candidate, first_call=len(self.calls))
        self.calls.extend(calls)
        self.raw_finish = candidate.get("finishReason") or self.raw_finish
        self.avg_logprob = _number(candidate.get("avgLogprobs")) or self.avg_logprob
        return text

    def answer(self, text: str) -> WireAnswer:
        finish = FINISH_REASONS.get(self.raw_finish or "", "other")
        return WireAnswer(text, self.usage, finish, self.raw_finish, tuple(self.calls), self.model, self.avg_logprob)


# ---------------------------------------------------------------------------------------------
# Errors


def classify_error(target: CallTarget, status: int | None, headers: Mapping[str, str], text: str) -> ProviderError:
    payload = decode_error_body(text)
    if isinstance(payload, list) and payload:  # streamGenerateContent without alt=sse
        payload = payload[0]
    if not isinstance(payload, dict):
        message = snippet(str(payload)) or f"HTTP {status} with an empty body"
        return ErrorDetails(message).to_error(target, status, headers)
    return error_from_payload(target, status, payload, headers)


def error_from_payload(target: CallTarget, status: int | None, payload: Mapping[str, Any], headers: Mapping[str, str]) -> ProviderError:
    """``{"error": {"code", "message", "status", "details": [...]}}``: the details decide first
    (an invalid key, a per-day quota, the retry delay), then the gRPC status, then the HTTP one."""
    error = payload.get("error")
    error = error if isinstance(error, dict) else {"message": str(error)}
    message, grpc = str(error.get("message") or ""), str(error.get("status") or "")
    if status is None and isinstance(error.get("code"), int):
        status = error["code"]
    details = [d for d in error.get("details") or () if isinstance(d, dict)]
    reasons = [str(d["reason"]) for d in details if d.get("reason")]
    cls = _class_from_details(status, grpc, message, reasons, details)
    retry_after = next((parse_go_duration(d.get("retryDelay")) for d in details if d.get("retryDelay")), None)
    code = next((r for r in reasons if r in _KEY_REASONS), None) or grpc or None
    return ErrorDetails(message or snippet(json.dumps(payload)), code=code, cls=cls, retry_after=retry_after).to_error(
        target, status, headers
    )


def _class_from_details(
    status: int | None, grpc: str, message: str, reasons: list[str], details: list[dict[str, Any]]
) -> type[ProviderError] | None:
    if any(r in _KEY_REASONS for r in reasons):
        return AuthFailed  # Gemini answers a bad key with 400 INVALID_ARGUMENT
    if grpc == "RESOURCE_EXHAUSTED" and _per_day_quota(details):
        return QuotaExhausted  # a daily quota will not come back in seconds
    if is_context_overflow(status, message):
        return ContextTooLong
    return GRPC_STATUSES.get(grpc)


def _per_day_quota(details: list[dict[str, Any]]) -> bool:
    violations = [v for d in details for v in d.get("violations") or () if isinstance(v, dict)]
    return any("perday" in str(v.get("quotaId", "")).lower() for v in violations)
