"""Context windows and maximum output per model: our curated table for the known families.

The price library knows context windows for many models but not output limits, and misses some
windows, so mmo keeps its own table of both; ``Catalog`` takes a window from a profile first,
then this table, then the price library. Windows come from ``shared/reference/prices.md``
(genai-prices snapshot 2026-08-21); models listed there without one stay ``None``. Dated
snapshots and aliases share their family's figures (``gpt-4o-2024-08-06``,
``claude-sonnet-4-5-20250929``, ``gemini-2.0-flash-001``, ``claude-3-5-haiku-latest``).
"""

from __future__ import annotations

import re
from typing import Mapping

WINDOWS_SOURCE = "mmo table"

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


def model_name_key(model: str) -> str:
    """A model name as the tables spell it: lower case, without Gemini's ``models/`` prefix."""
    return model.strip().lower().removeprefix("models/")


def _lookup(table: Mapping[str, Mapping[str, int]], kind: str, model: str) -> int | None:
    full = model_name_key(model)
    short = full.rsplit("/", 1)[-1]
    entries = table.get(kind, {})
    for candidate in (full, short):
        for name in (candidate, _SNAPSHOT_SUFFIX.sub("", candidate)):
            if name in entries:
                return entries[name]
    return None


def context_window(provider_kind: str, model: str) -> int | None:
    """The table's context window for ``model`` on a provider of wire kind ``provider_kind``."""
    return _lookup(_CONTEXT_WINDOWS, provider_kind, model)


def max_output(provider_kind: str, model: str) -> int | None:
    """The table's maximum output tokens for ``model``, or ``None`` when not known."""
    return _lookup(_MAX_OUTPUT, provider_kind, model)


# Most output tokens per call. From LiteLLM's model_prices_and_context_window.json (stored
# snapshot 00035b69) and, where a vendor's model page says otherwise or the file lacks the model,
# the vendor's page (claude-sonnet-4-6, claude-opus-5, gemini-3.x flash, deepseek-v4). Models whose
# sources disagree (grok-4.x) or list only their context window are left out: unknown, not guessed.
_MAX_OUTPUT: Mapping[str, Mapping[str, int]] = {
    "openai": {
        "gpt-5.6-sol": 128_000, "gpt-5.6-terra": 128_000, "gpt-5.6-luna": 128_000,
        "gpt-5.5": 128_000, "gpt-5.5-pro": 128_000,
        "gpt-5.4": 128_000, "gpt-5.4-mini": 128_000, "gpt-5.4-nano": 128_000,
        "gpt-5": 128_000, "gpt-5-mini": 128_000, "gpt-5-nano": 128_000,
        "gpt-4.1": 32_768, "gpt-4.1-mini": 32_768, "gpt-4.1-nano": 32_768,
        "gpt-4o": 16_384, "gpt-4o-mini": 16_384,
        "o1": 100_000, "o3": 100_000, "o3-mini": 100_000, "o4-mini": 100_000,
        "openai/gpt-oss-120b": 32_766, "openai/gpt-oss-20b": 32_768,
        "deepseek-chat": 8_192, "deepseek-reasoner": 65_536,
        "deepseek-v4-pro": 393_216, "deepseek-v4-flash": 393_216,
    },
    "anthropic": {
        "claude-fable-5": 128_000, "claude-opus-5": 128_000, "claude-sonnet-5": 128_000,
        "claude-opus-4-8": 128_000, "claude-opus-4-7": 128_000, "claude-opus-4-6": 128_000,
        "claude-sonnet-4-6": 128_000, "claude-sonnet-4-5": 64_000, "claude-haiku-4-5": 64_000,
        "claude-opus-4-1": 32_000, "claude-sonnet-4": 64_000, "claude-3-5-haiku": 8_192,
    },
    "gemini": {
        "gemini-3.7-flash": 65_536, "gemini-3.6-flash": 65_536, "gemini-3.5-flash": 65_536,
        "gemini-3.5-flash-lite": 65_536, "gemini-3.1-flash-lite": 65_536, "gemini-3-flash-preview": 65_536,
        "gemini-3-pro-preview": 65_535, "gemini-2.5-pro": 65_535, "gemini-2.5-flash": 65_535,
        "gemini-2.5-flash-lite": 65_535, "gemini-2.0-flash": 8_192,
        "gemini-1.5-flash": 8_192, "gemini-1.5-pro": 8_192,
    },
}
