"""Our own table of what each model accepts, and the parameter rules that follow from it.

Vendors reject some parameters for some model families with a 400 (gotcha 9 in
``shared/reference/wire-formats.md``): OpenAI's reasoning models (o1/o3/o4, gpt-5*) accept only the
default ``temperature``/``top_p``, return no logprobs and want ``max_completion_tokens``; o1-mini
rejects the ``system`` role; Claude Opus 4.7/4.8 and Fable 5 reject sampling parameters and
Opus 4.6+ reject an assistant prefill; Anthropic has no seed and no logprobs at all. Adapters call
``apply_parameter_rules`` before building a body, drop or rename what the model would refuse, and
tell the user with a warning, instead of earning a 400 that no fallback can fix.

Unknown models get permissive defaults (everything allowed, ``context_window=None``): a new model
should work on day one, and a 400 from the vendor is clearer than a guess from us. Context windows
come from ``shared/reference/prices.md`` (genai-prices snapshot 2026-08-21); models listed there
without one stay ``None``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any, Mapping

from mmo.core.types import Message, Params, Request


@dataclass(frozen=True, slots=True)
class ModelCapabilities:
    """What one model accepts. ``reasoning`` is ``None`` when we do not know the model."""

    context_window: int | None = None
    sampling_params: bool = True  # temperature / top_p
    logprobs: bool = True
    seed: bool = True
    system_role: bool = True
    assistant_prefill: bool = True
    reasoning_effort: bool = True
    reasoning: bool | None = None
    max_tokens_field: str = "max_tokens"


@dataclass(frozen=True, slots=True)
class _FamilyRule:
    kind: str
    patterns: tuple[str, ...]  # globs on the model's own name (after any "vendor/" prefix)
    changes: Mapping[str, Any]


_OPENAI_REASONING = ("o1*", "o3*", "o4*", "gpt-5*")
_OPUS_4_6_PLUS = ("claude-opus-4-6*", "claude-opus-4-7*", "claude-opus-4-8*", "claude-opus-5*", "claude-fable-5*")

# Every matching rule applies, in order, so a narrow rule refines a broad one.
_FAMILY_RULES: tuple[_FamilyRule, ...] = (
    _FamilyRule(
        "openai",
        _OPENAI_REASONING,
        {"reasoning": True, "sampling_params": False, "logprobs": False, "max_tokens_field": "max_completion_tokens"},
    ),
    _FamilyRule("openai", ("o1-mini*", "o1-preview*"), {"system_role": False}),
    _FamilyRule("openai", ("gpt-4*", "gpt-3.5*"), {"reasoning": False, "reasoning_effort": False}),
    _FamilyRule("anthropic", ("*",), {"logprobs": False, "seed": False}),
    _FamilyRule("anthropic", ("claude-opus-4-7*", "claude-opus-4-8*", "claude-fable-5*"), {"sampling_params": False}),
    _FamilyRule("anthropic", _OPUS_4_6_PLUS, {"assistant_prefill": False}),
    # Gemini 3 takes thinkingConfig.thinkingLevel (what reasoning_effort maps to); older models
    # take a token budget instead, which users pass through Params.extra.
    _FamilyRule("gemini", ("gemini-1*", "gemini-2*"), {"reasoning_effort": False}),
)

_CONTEXT_WINDOWS: Mapping[str, Mapping[str, int]] = {
    "openai": {
        "gpt-5.6-sol": 1_050_000, "gpt-5.6-terra": 1_050_000, "gpt-5.6-luna": 1_050_000,
        "gpt-5.5": 1_000_000, "gpt-5.5-pro": 1_000_000,
        "gpt-5.4": 1_050_000, "gpt-5.4-mini": 400_000, "gpt-5.4-nano": 400_000,
        "gpt-5": 400_000, "gpt-5-mini": 400_000, "gpt-5-nano": 400_000,
        "gpt-4.1": 1_000_000, "gpt-4.1-mini": 1_000_000, "gpt-4.1-nano": 1_000_000,
        "gpt-4o": 128_000, "gpt-4o-mini": 128_000,
        # OpenAI-compatible hosts (groq, deepseek, x.ai, moonshot) share the "openai" wire kind.
        "openai/gpt-oss-120b": 131_072, "openai/gpt-oss-20b": 131_072,
        "meta-llama/llama-4-maverick-17b-128e-instruct": 131_072, "moonshotai/kimi-k2-instruct": 131_072,
        "deepseek-v4-pro": 1_000_000, "deepseek-v4-flash": 1_000_000,
        "grok-4.5": 500_000, "grok-4.3": 1_000_000, "grok-4-1-fast-reasoning": 2_000_000,
        "kimi-k3": 1_048_576, "kimi-k2.6": 262_144,
    },
    "anthropic": {
        "claude-fable-5": 1_000_000, "claude-opus-5": 1_000_000, "claude-sonnet-5": 1_000_000,
        "claude-opus-4-8": 1_000_000, "claude-opus-4-7": 1_000_000,
        # genai-prices says 200k, LiteLLM 1M: the smaller figure only costs an early escalation.
        "claude-opus-4-6": 200_000,
        "claude-sonnet-4-6": 1_000_000, "claude-sonnet-4-5": 1_000_000,
        "claude-haiku-4-5": 200_000, "claude-3-5-haiku-latest": 200_000,
    },
    "gemini": {
        "gemini-3.7-flash": 1_000_000, "gemini-3.6-flash": 1_000_000, "gemini-3.5-flash": 1_000_000,
        "gemini-3.5-flash-lite": 1_000_000, "gemini-3.1-flash-lite": 1_000_000,
        "gemini-3-flash-preview": 1_000_000, "gemini-2.5-flash-lite": 1_000_000, "gemini-2.0-flash": 1_000_000,
    },
}

# Dated snapshots and aliases share their family's window: gpt-4o-2024-08-06,
# claude-sonnet-4-5-20250929, gemini-2.0-flash-001, claude-3-5-haiku-latest.
_SNAPSHOT_SUFFIX = re.compile(r"(?:-\d{4}-\d{2}-\d{2}|-\d{8}|-\d{3}|-latest)$")


@lru_cache(maxsize=1024)
def capabilities_for(provider_kind: str, model: str) -> ModelCapabilities:
    """What ``model`` accepts on a provider of wire kind ``provider_kind``. A pure function of
    its arguments, asked on every call: remembered per model."""
    full = model.strip().lower().removeprefix("models/")
    short = full.rsplit("/", 1)[-1]
    caps = ModelCapabilities(context_window=_context_window(provider_kind, full, short))
    for rule in _FAMILY_RULES:
        if rule.kind == provider_kind and any(fnmatchcase(short, p) for p in rule.patterns):
            caps = replace(caps, **rule.changes)
    return caps


def _context_window(kind: str, full: str, short: str) -> int | None:
    table = _CONTEXT_WINDOWS.get(kind, {})
    for candidate in (full, short):
        for name in (candidate, _SNAPSHOT_SUFFIX.sub("", candidate)):
            if name in table:
                return table[name]
    return None


def apply_parameter_rules(kind: str, model: str, request: Request) -> tuple[Request, list[str]]:
    """The request adjusted to what ``model`` accepts, and one human-readable warning per change."""
    caps = capabilities_for(kind, model)
    params, warnings = _adjust_params(caps, model, request)
    messages = request.messages
    if not caps.system_role and any(m.role == "system" for m in messages):
        messages = _merge_system_into_user(messages)
        warnings.append(f"system role merged into the first user message for {model}")
    if not caps.assistant_prefill and messages and messages[-1].role == "assistant" and not messages[-1].tool_calls:
        messages = messages[:-1]
        warnings.append(f"assistant prefill dropped: {model} does not accept a final assistant message")
    if caps.max_tokens_field != "max_tokens" and params.max_tokens is not None:
        warnings.append(f"max_tokens sent as {caps.max_tokens_field}")
    adjusted = replace(request, messages=messages, params=params)
    return (adjusted if warnings else request), warnings


def _adjust_params(caps: ModelCapabilities, model: str, request: Request) -> tuple[Params, list[str]]:
    params = request.params
    changes: dict[str, Any] = {}
    warnings: list[str] = []
    if not caps.sampling_params:
        for name in ("temperature", "top_p"):
            if getattr(params, name) is not None:
                changes[name] = None
                warnings.append(f"{name} dropped: {model} accepts only the default")
    if not caps.logprobs and (params.logprobs or params.top_logprobs is not None):
        changes.update(logprobs=False, top_logprobs=None)
        warnings.append(f"logprobs dropped: {model} does not return logprobs")
    if not caps.seed and params.seed is not None:
        changes["seed"] = None
        warnings.append(f"seed dropped: {model} has no seed parameter")
    if not caps.reasoning_effort and params.reasoning_effort is not None:
        changes["reasoning_effort"] = None
        warnings.append(f"reasoning_effort dropped: {model} does not accept it")
    return (replace(params, **changes) if changes else params), warnings


def _merge_system_into_user(messages: tuple[Message, ...]) -> tuple[Message, ...]:
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    rest = [m for m in messages if m.role != "system"]
    for i, message in enumerate(rest):
        if message.role == "user":
            rest[i] = replace(message, content=f"{system}\n\n{message.content}")
            return tuple(rest)
    return (Message("user", system), *rest)
