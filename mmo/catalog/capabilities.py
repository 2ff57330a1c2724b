"""What a model can take and give: vision input, native structured output, tool calling,
log-probabilities, streaming; each with the source of the fact.

The price library knows context windows (``mmo.catalog.windows``) but nothing of these, so mmo
keeps a curated table of the known families, from the vendors' model pages as of 2026-08
(OpenAI's model pages and structured-outputs guide, Anthropic's models overview and structured
outputs page, Gemini's models page, Groq's and Ollama's docs). A profile's ``capabilities:`` on a
model wins over the table.

A fact may be unknown (``None``): a new model, a local one the table does not list. Unknown is not
false: a model nobody knows is tried (a request that needs a capability goes to a model *known* to
have it first only when a strategy is written that way), and only a model *known* to lack what a
request needs is skipped (``mmo.runtime.capabilities_guard``). Log-probabilities fall back to the
parameter rules (``mmo.catalog.rules``), which already know the families that return none.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Mapping

from mmo.catalog.windows import model_name_key

CAPABILITIES_SOURCE = "mmo table"
RULES_SOURCE = "mmo parameter rules"
PROFILE_SOURCE = "profile"

# The capabilities a request can need, by the name errors, traces and profiles use.
CAPABILITY_NAMES: tuple[str, ...] = ("vision", "structured_output", "tools", "logprobs", "streaming")


@dataclass(frozen=True, slots=True)
class Flag:
    """Whether a model can do one thing (``None``: nobody knows), and who says so."""

    value: bool | None = None
    source: str | None = None

    @property
    def known_false(self) -> bool:
        return self.value is False


UNKNOWN = Flag()


@dataclass(frozen=True, slots=True)
class Capabilities:
    """One model's capabilities. Context window and maximum output are ``ModelFacts`` fields."""

    vision: Flag = UNKNOWN
    structured_output: Flag = UNKNOWN
    tools: Flag = UNKNOWN
    logprobs: Flag = UNKNOWN
    streaming: Flag = UNKNOWN

    def flag(self, name: str) -> Flag:
        flag: Flag = getattr(self, name)
        return flag

    def overlaid_by(self, overrides: Mapping[str, bool | None], source: str = PROFILE_SOURCE) -> Capabilities:
        """These capabilities with every fact ``overrides`` states (not ``None``) in its place."""
        changes = {name: Flag(value, source) for name, value in overrides.items() if value is not None}
        if not changes:
            return self
        merged = {f.name: changes.get(f.name, getattr(self, f.name)) for f in fields(self)}
        return Capabilities(**merged)


@dataclass(frozen=True, slots=True)
class _Family:
    kind: str  # a wire kind ("openai" covers every OpenAI-compatible host) or a provider's name ("ollama")
    patterns: tuple[str, ...]  # globs on the model's own name (after any "vendor/" prefix)
    facts: Mapping[str, bool]
    source: str


_OPENAI_PAGE = "mmo table: OpenAI models pages"
_ANTHROPIC_PAGE = "mmo table: Anthropic models overview"
_GEMINI_PAGE = "mmo table: Gemini models page"
_GROQ_PAGE = "mmo table: Groq models and structured-outputs docs"
_OLLAMA_PAGE = "mmo table: Ollama model library"
_DEEPSEEK_PAGE = "mmo table: DeepSeek API docs"

_ALL = {"vision": True, "structured_output": True, "tools": True, "streaming": True}

# Every matching family applies, in order, so a narrow entry refines a broad one.
_FAMILIES: tuple[_Family, ...] = (
    # OpenAI: gpt-4o (2024-08-06 on), 4.1, 5.x and the o-series see images, call tools and follow
    # a JSON Schema (response_format json_schema); o1-mini / o1-preview do none of these.
    _Family("openai", ("gpt-4o*", "gpt-4.1*", "gpt-5*", "o1", "o1-20*", "o3", "o3-20*", "o3-pro*", "o4-mini*"), _ALL, _OPENAI_PAGE),
    _Family("openai", ("o3-mini*",), {"vision": False, "structured_output": True, "tools": True, "streaming": True}, _OPENAI_PAGE),
    _Family("openai", ("o1-mini*", "o1-preview*"), {"vision": False, "structured_output": False, "tools": False}, _OPENAI_PAGE),
    _Family("openai", ("gpt-4o*", "gpt-4.1*", "gpt-3.5*"), {"logprobs": True}, _OPENAI_PAGE),
    _Family("openai", ("gpt-4o-2024-05-13",), {"structured_output": False}, _OPENAI_PAGE),
    _Family("openai", ("gpt-3.5*",), {"vision": False, "structured_output": False, "tools": True, "streaming": True}, _OPENAI_PAGE),
    # OpenAI-compatible hosts share the "openai" wire kind (Groq, DeepSeek, Moonshot).
    _Family("openai", ("gpt-oss-*", "kimi-k2*"), {"vision": False, "structured_output": True, "tools": True, "streaming": True}, _GROQ_PAGE),
    _Family("openai", ("llama-4-*",), _ALL, _GROQ_PAGE),
    _Family("openai", ("deepseek-chat", "deepseek-v4*"), {"vision": False, "structured_output": False, "tools": True, "streaming": True}, _DEEPSEEK_PAGE),
    _Family("openai", ("deepseek-reasoner",), {"vision": False, "structured_output": False, "streaming": True}, _DEEPSEEK_PAGE),
    # Anthropic: every Claude 3+ model sees images and calls tools; native structured output
    # (output_format json_schema) from Sonnet 4.5, Opus 4.1 and Haiku 4.5 on.
    _Family("anthropic", ("claude-*",), {"vision": True, "tools": True, "streaming": True, "structured_output": False}, _ANTHROPIC_PAGE),
    _Family(
        "anthropic",
        ("claude-sonnet-4-5*", "claude-opus-4-1*", "claude-haiku-4-5*", "claude-*-4-6*", "claude-*-4-7*", "claude-*-4-8*", "claude-opus-5*", "claude-sonnet-5*", "claude-haiku-5*", "claude-fable-5*"),
        {"structured_output": True},
        _ANTHROPIC_PAGE,
    ),
    # Claude 3.5 Haiku launched text-only; its later image support is not on the models page.
    _Family("anthropic", ("claude-3-5-haiku*",), {"vision": False}, _ANTHROPIC_PAGE),
    # Gemini 1.5 and later: images, function calling, responseSchema / responseJsonSchema.
    _Family("gemini", ("gemini-1.5*", "gemini-2*", "gemini-3*"), _ALL, _GEMINI_PAGE),
    _Family("gemini", ("gemma-*",), {"vision": True, "tools": False, "structured_output": False, "streaming": True}, _GEMINI_PAGE),
    # Ollama constrains any model's output to a JSON Schema (``format``) and streams; vision and
    # tools depend on the model family.
    _Family("ollama", ("*",), {"structured_output": True, "streaming": True}, _OLLAMA_PAGE),
    _Family("ollama", ("llava*", "bakllava*", "llama3.2-vision*", "gemma3*", "qwen2.5vl*", "qwen3-vl*", "minicpm-v*", "moondream*", "llama4*", "mistral-small3.1*"), {"vision": True}, _OLLAMA_PAGE),
    _Family("ollama", ("llama3.1*", "llama3.2", "llama3.2:*", "llama3.3*", "qwen2.5*", "qwen3*", "mistral*", "mistral-nemo*", "command-r*", "llama4*", "gpt-oss*"), {"tools": True}, _OLLAMA_PAGE),
    _Family("ollama", ("llama3.1*", "llama3.2", "llama3.2:*", "llama3.3*", "mistral", "mistral:*", "phi3*", "phi4*", "deepseek-r1*", "gpt-oss*"), {"vision": False}, _OLLAMA_PAGE),
)


@lru_cache(maxsize=1024)
def table_capabilities(provider: str, provider_kind: str, model: str, logprobs_allowed: bool) -> Capabilities:
    """The table's facts for ``model`` on ``provider`` (of wire kind ``provider_kind``); logprobs
    from the parameter rules when the model's family is known not to return them."""
    full = model_name_key(model)
    short = full.rsplit("/", 1)[-1]
    facts: dict[str, Flag] = {}
    for family in _FAMILIES:
        if family.kind in (provider, provider_kind) and any(fnmatchcase(short, p) or fnmatchcase(full, p) for p in family.patterns):
            facts.update({name: Flag(value, family.source) for name, value in family.facts.items()})
    if not logprobs_allowed:
        facts["logprobs"] = Flag(False, RULES_SOURCE)
    return Capabilities(**facts)
