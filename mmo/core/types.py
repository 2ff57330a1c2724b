"""The value types that flow through mmo: requests in, completions out.

Everything here is a frozen dataclass: pure data, no I/O, no vendor shapes. Provider adapters turn
vendor JSON into these at the edge; strategies, the run context, the cache and the run log only ever
see these.

Token accounting follows one convention everywhere:

* ``Usage.input_tokens`` counts every prompt token, *including* the cached ones
  (``cached_tokens`` is the subset that was read from the provider's prompt cache).
* ``Usage.output_tokens`` counts every generated token, *including* reasoning / thinking tokens
  (``reasoning_tokens`` is that subset). Providers that report thoughts separately (Gemini) are
  added up by their adapter, because all of them bill thoughts as output.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, Mapping

from mmo.core.usage import UNKNOWN_COST, Cost, Usage, evolve, frozen_mapping

if TYPE_CHECKING:
    from mmo.core.trace import Span

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "other"]
FINISH_REASONS: tuple[str, ...] = ("stop", "length", "tool_calls", "content_filter", "other")

_EMPTY: Mapping[str, Any] = MappingProxyType({})

__all__ = ["UNKNOWN_COST", "Completion", "Cost", "Delta", "ImagePart", "Message", "ModelRef", "Params", "RateLimitInfo", "Request", "StreamRestart", "ToolCall", "ToolSpec", "Usage", "evolve", "frozen_mapping"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call the model asked for. ``arguments`` is the raw JSON text as the model wrote
    it (OpenAI sends a string that may be invalid JSON; Anthropic and Gemini send objects, which
    adapters serialise), so nothing is lost when it does not parse."""

    id: str
    name: str
    arguments: str

    def parsed_arguments(self) -> Any:
        """The arguments as JSON; raises ``ValueError`` when the model wrote invalid JSON."""
        return json.loads(self.arguments or "{}")

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "arguments": self.arguments}


IMAGE_MEDIA_TYPES: tuple[str, ...] = ("image/png", "image/jpeg", "image/webp", "image/gif")


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image in a user message: its bytes, its media type (one of ``IMAGE_MEDIA_TYPES``) and,
    when its header could be read, its size in pixels (for each vendor's image-token rule).
    ``source`` names where it came from (a file, stdin, a batch row) for messages; it is never
    sent and is not part of the cache key, which holds the image's SHA-256 instead of its bytes."""

    media_type: str
    data: bytes = field(repr=False)
    width: int | None = None
    height: int | None = None
    source: str | None = field(default=None, compare=False)

    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {"media_type": self.media_type, "sha256": self.digest(), "bytes": len(self.data)}

    def describe(self) -> str:
        """``image/png 640x480, 12 KB, from photo.png``: for traces and logs (never the bytes)."""
        size = f" {self.width}x{self.height}" if self.width and self.height else ""
        source = f", from {self.source}" if self.source else ""
        return f"{self.media_type}{size}, {max(1, round(len(self.data) / 1024))} KB{source}"


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call: its name, what it does, and a JSON Schema of its
    arguments. Provider-neutral: each adapter writes it in its vendor's tool format."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "parameters": _plain(self.parameters)}


@dataclass(frozen=True, slots=True)
class Message:
    """One turn. ``images`` go with a user message's text (in the vendor's order: images first
    where the vendor documents that order as best)."""

    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    images: tuple[ImagePart, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.images:
            out["images"] = [image.to_dict() for image in self.images]
        if self.tool_calls:
            out["tool_calls"] = [t.to_dict() for t in self.tool_calls]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            out["name"] = self.name
        return out


@dataclass(frozen=True, slots=True)
class Params:
    """Generation parameters, provider-neutral. ``None`` means "the provider's default".

    ``extra`` holds provider-specific fields sent verbatim in the request body (for example
    ``{"top_k": 40}`` or ``{"safetySettings": [...]}``); it is part of the cache key.
    ``timeout_s`` bounds one HTTP attempt and does not change the output, so it is not.
    ``output_schema`` is a JSON Schema the answer must match (``mmo ask --schema``): adapters ask
    for it through the vendor's native structured output where the model has one. ``tools`` are
    the functions the model may call, ``tool_choice`` is ``auto``, ``required``, ``none`` or a
    tool's name.
    """

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    response_format: Mapping[str, Any] | None = None
    reasoning_effort: str | None = None
    logprobs: bool = False
    top_logprobs: int | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    timeout_s: float | None = None
    output_schema: Mapping[str, Any] | None = None
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str | None = None

    def output_affecting(self) -> dict[str, Any]:
        """Every field that can change the answer, as plain JSON-able data (for cache keys)."""
        out = {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "stop": list(self.stop),
            "seed": self.seed,
            "response_format": _plain(self.response_format),
            "reasoning_effort": self.reasoning_effort,
            "logprobs": self.logprobs,
            "top_logprobs": self.top_logprobs,
            "extra": _plain(self.extra),
        }
        # Only when set: the keys of every earlier cached answer (none of them had these) stay.
        if self.output_schema is not None:
            out["output_schema"] = _plain(self.output_schema)
        if self.tools:
            out["tools"] = [tool.to_dict() for tool in self.tools]
        if self.tool_choice is not None:
            out["tool_choice"] = self.tool_choice
        return out

    def overlaid_by(self, top: Params) -> Params:
        """These params with every field that ``top`` sets (differs from the default) laid over
        them: how a request's explicit parameters win over profile and model defaults."""
        if top == _DEFAULT_PARAMS:
            return self  # the usual case (a request that sets nothing), in one comparison
        changes = {name: getattr(top, name) for name in _PARAM_FIELDS if getattr(top, name) != getattr(_DEFAULT_PARAMS, name)}
        changes.pop("extra", None)
        merged = replace(self, **changes) if changes else self
        if top.extra:
            merged = merged.merged(extra=top.extra)
        return merged

    def merged(self, **changes: Any) -> Params:
        """A copy with the given fields replaced; ``extra`` is merged key by key."""
        if "extra" in changes:
            changes["extra"] = frozen_mapping({**self.extra, **(changes["extra"] or {})})
        return replace(self, **changes)


_DEFAULT_PARAMS = Params()
_PARAM_FIELDS: tuple[str, ...] = tuple(Params.__dataclass_fields__)


def plain_data(value: Any) -> Any:
    """Mapping proxies and tuples to dicts and lists, recursively, for JSON."""
    if isinstance(value, Mapping):
        return {str(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    return value


_plain = plain_data


@dataclass(frozen=True, slots=True)
class Request:
    """One prompt to answer. ``metadata`` and ``tags`` come from the caller (``mmo ask --meta``,
    a batch row) and drive router rules and replay look-ups; they never reach a provider."""

    messages: tuple[Message, ...]
    params: Params = field(default_factory=Params)
    metadata: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    tags: tuple[str, ...] = ()

    @classmethod
    def from_prompt(
        cls,
        prompt: str,
        *,
        system: str | None = None,
        params: Params | None = None,
        metadata: Mapping[str, str] | None = None,
        tags: tuple[str, ...] = (),
    ) -> Request:
        messages: list[Message] = []
        if system:
            messages.append(Message("system", system))
        messages.append(Message("user", prompt))
        return cls(tuple(messages), params or Params(), frozen_mapping(metadata), tuple(tags))

    @property
    def system(self) -> str | None:
        """The system prompt (several system messages are joined by a blank line)."""
        parts = [m.content for m in self.messages if m.role == "system"]
        return "\n\n".join(parts) if parts else None

    def last_user_text(self) -> str:
        for message in reversed(self.messages):
            if message.role == "user":
                return message.content
        return ""

    def prompt_text(self) -> str:
        """All message text, for token estimates and rules that look at the whole prompt."""
        return "\n".join(m.content for m in self.messages)

    def images(self) -> tuple[ImagePart, ...]:
        """Every image in the conversation, in order."""
        return tuple(image for m in self.messages for image in m.images)

    def with_params(self, params: Params) -> Request:
        return evolve(self, params=params)


@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """A provider's rate-limit headers on one answer. Resets are seconds from the answer's
    arrival; ``None`` where the provider did not say (or sent a placeholder such as ``-1``)."""

    limit_requests: int | None = None
    remaining_requests: int | None = None
    reset_requests_s: float | None = None
    limit_tokens: int | None = None
    remaining_tokens: int | None = None
    reset_tokens_s: float | None = None


@dataclass(frozen=True, slots=True)
class Completion:
    """One answer. ``model_id`` is ``provider:model`` as configured; ``reported_model`` is what
    the server says it ran (often a dated snapshot). ``cost`` covers this answer's own call; the
    total over every attempt of a run lives in the trace."""

    text: str
    model_id: str
    usage: Usage = field(default_factory=Usage)
    finish_reason: FinishReason = "stop"
    tool_calls: tuple[ToolCall, ...] = ()
    reported_model: str | None = None
    cost: Cost = UNKNOWN_COST
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    latency_simulated: bool = False
    cached: bool = False
    avg_logprob: float | None = None
    raw_finish_reason: str | None = None
    rate_limits: RateLimitInfo | None = None  # what the server said about its limits; not cached
    trace: Span | None = None

    def with_changes(self, **changes: Any) -> Completion:
        return replace(self, **changes)

    @property
    def truncated(self) -> bool:
        """Cut at the output limit (``max_tokens``): an answer, but maybe not a whole one."""
        return self.finish_reason == "length"


@dataclass(frozen=True, slots=True)
class Delta:
    """One piece of a streamed answer. A stream yields text deltas and ends with exactly one
    delta whose ``final`` holds the complete ``Completion`` (usage, finish reason, tool calls)."""

    text: str = ""
    final: Completion | None = None
    model_id: str | None = None  # filled in by the run context, so a renderer can name the source


@dataclass(frozen=True, slots=True)
class StreamRestart:
    """Sent to the stream sink when a stream that already showed text is abandoned and another
    model takes over: the renderer prints a visible marker naming both models."""

    failed_model: str
    error: str


@dataclass(frozen=True, slots=True)
class ModelRef:
    """``provider:model``. The model part may itself contain colons (``ollama:llama3.1:8b``)."""

    provider: str
    name: str

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        provider, sep, name = text.partition(":")
        if not sep or not provider or not name:
            raise ValueError(f"expected 'provider:model', got {text!r}")
        return cls(provider, name)

    @property
    def id(self) -> str:
        return f"{self.provider}:{self.name}"

    def __str__(self) -> str:
        return self.id
