"""Provider endpoints: wire kind, base URL, and the environment variable for the key.

Base URLs follow each vendor's own SDK: an OpenAI-compatible base includes ``/v1`` and the
adapter appends ``/chat/completions``; Anthropic's and Gemini's are the host root and the adapter
appends ``/v1/messages`` or ``/v1beta/models/...``. The vendors' usual environment variables
override a built-in's base URL (for proxies and gateways), and ``MMO_<PROVIDER>_BASE_URL`` works
for every provider, built-in or declared in a profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from mmo.core.transport_limits import DEFAULT_TRANSPORT_LIMITS, TransportLimits
from mmo.core.types import frozen_mapping


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """Everything needed to build one provider, except its key (resolved at call time).
    ``keyring``: whether the key may come from the OS keyring, which holds keys for the
    providers' own hosts only (``mmo.catalog.key_scope``)."""

    name: str
    kind: str  # the wire format it speaks: a provider kind of ``mmo.providers.kinds``
    base_url: str | None = None
    key_env: str | None = None
    needs_key: bool = True
    base_url_env: tuple[str, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)  # kind-specific, e.g. replay's path
    keyring: bool = True
    transport: TransportLimits = DEFAULT_TRANSPORT_LIMITS  # size, depth and time bounds of one HTTP attempt

    @property
    def override_envs(self) -> tuple[str, ...]:
        """Variables that override the base URL, most specific first."""
        return (f"MMO_{env_name(self.name)}_BASE_URL", *self.base_url_env)

    def resolved(self, environ: Mapping[str, str]) -> ProviderSettings:
        """These settings with the base URL taken from the environment when one is set there."""
        for var in self.override_envs:
            value = environ.get(var)
            if value:
                return replace(self, base_url=value.rstrip("/"))
        return self


def env_name(provider: str) -> str:
    """``my-proxy`` -> ``MY_PROXY``: the provider's part of an environment variable name."""
    return "".join(c if c.isalnum() else "_" for c in provider).upper()


def _builtin(name: str, kind: str, base_url: str, key_env: str | None, *, base_url_env: tuple[str, ...] = (), needs_key: bool = True) -> ProviderSettings:
    return ProviderSettings(name, kind, base_url, key_env, needs_key, base_url_env, frozen_mapping({}), frozen_mapping({}))


BUILTIN_PROVIDERS: Mapping[str, ProviderSettings] = frozen_mapping(
    {
        p.name: p
        for p in (
            _builtin("openai", "openai", "https://api.openai.com/v1", "OPENAI_API_KEY", base_url_env=("OPENAI_BASE_URL",)),
            _builtin("anthropic", "anthropic", "https://api.anthropic.com", "ANTHROPIC_API_KEY", base_url_env=("ANTHROPIC_BASE_URL",)),
            _builtin("gemini", "gemini", "https://generativelanguage.googleapis.com", "GEMINI_API_KEY", base_url_env=("GEMINI_BASE_URL",)),
            _builtin("ollama", "openai", "http://localhost:11434/v1", "OLLAMA_API_KEY", base_url_env=("OLLAMA_BASE_URL",), needs_key=False),
            _builtin("openrouter", "openai", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
            _builtin("groq", "openai", "https://api.groq.com/openai/v1", "GROQ_API_KEY"),
            _builtin("together", "openai", "https://api.together.xyz/v1", "TOGETHER_API_KEY"),
            _builtin("deepseek", "openai", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
            _builtin("mistral", "openai", "https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
        )
    }
)

# genai-prices names some vendors differently from our provider names.
PRICE_PROVIDER_IDS: Mapping[str, str] = frozen_mapping({"gemini": "google", "together": "together", "mistral": "mistral"})
