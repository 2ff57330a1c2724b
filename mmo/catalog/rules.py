"""Parameter rules per model family: what each model accepts, and the changes that follow.

Vendors reject some parameters for some model families with a 400 (gotcha 9 in
``shared/reference/wire-formats.md``): OpenAI's reasoning models (o1/o3/o4, gpt-5*) accept only the
default ``temperature``/``top_p``, return no logprobs and want ``max_completion_tokens``; o1-mini
rejects the ``system`` role; Claude Opus 4.7/4.8 and Fable 5 reject sampling parameters and
Opus 4.6+ reject an assistant prefill; Anthropic has no seed and no logprobs at all. Adapters call
``apply_parameter_rules`` before building a body, drop or rename what the model would refuse, and
tell the user with a warning, instead of earning a 400 that no fallback can fix.

Unknown models get permissive defaults (everything allowed): a new model should work on day one,
and a 400 from the vendor is clearer than a guess from us. Context windows and output limits are
in ``mmo.catalog.windows``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any, Mapping

from mmo.catalog.windows import model_name_key
from mmo.core.types import Message, Params, Request


@dataclass(frozen=True, slots=True)
class ParameterRules:
    """Which request parameters one model accepts (what it can do is in ``mmo.catalog.capabilities``). ``reasoning`` is ``None`` when we do not know
    the model."""

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

@lru_cache(maxsize=1024)
def parameter_rules_for(provider_kind: str, model: str) -> ParameterRules:
    """What ``model`` accepts on a provider of wire kind ``provider_kind``. A pure function of
    its arguments, asked on every call: remembered per model."""
    short = model_name_key(model).rsplit("/", 1)[-1]
    caps = ParameterRules()
    for rule in _FAMILY_RULES:
        if rule.kind == provider_kind and any(fnmatchcase(short, p) for p in rule.patterns):
            caps = replace(caps, **rule.changes)
    return caps


def apply_parameter_rules(kind: str, model: str, request: Request) -> tuple[Request, list[str]]:
    """The request adjusted to what ``model`` accepts, and one human-readable warning per change."""
    caps = parameter_rules_for(kind, model)
    params, warnings = _adjust_params(caps, model, request)
    messages = request.messages
    if not caps.system_role and any(m.role == "system" for m in messages):
        messages = _merge_system_into_user(messages)
        warnings.append(f"system role merged into the first user message for {model}")
    if not caps.assistant_prefill and messages and messages[-1].role == "assistant" and not messages[-1].tool_calls:
        messages = messages[:-1]
        warnings.append(f"assistant prefill dropped: {model} does not accept a final assistant message")
    # max_tokens sent as max_completion_tokens is the same request in the field the model reads:
    # nothing the user asked for changes, so it is not a warning (it was one on every run).
    if not warnings:  # nothing changed: no copy of the request
        return request, warnings
    return replace(request, messages=messages, params=params), warnings


def _adjust_params(caps: ParameterRules, model: str, request: Request) -> tuple[Params, list[str]]:
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
