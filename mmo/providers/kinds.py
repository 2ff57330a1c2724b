"""The registry of provider kinds: the wire formats a profile's ``providers:`` entry may speak.

A provider kind is one module holding its adapter (a class with the ``Provider`` protocol's
methods, built as ``Adapter(settings, api_key, client, on_warning=...)``) and, when the kind
takes fields of its own, a ``Spec`` of them; one ``ProviderKind(...)`` line in ``PROVIDER_KINDS``
registers it. The profile schema, ``mmo profiles schema`` and the provider pool read this
registry. Adapters are named by ``"module:Class"`` and imported on first use, so ``mmo --help``
never pays for httpx.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import import_module
from typing import Any, Mapping

from mmo.core.errors import UnknownName
from mmo.spec.base import Spec


@dataclass(frozen=True, slots=True)
class ProviderKind:
    """``adapter`` and ``options`` are ``"module:Name"``. ``options`` is the Spec of the kind's
    own profile fields (they reach the adapter as ``settings.options``); ``needs_key``: whether
    its calls need an API key by default; ``http``: whether it talks HTTP (shares the client)."""

    name: str
    adapter: str
    options: str | None = None
    needs_key: bool = True
    http: bool = True

    def adapter_class(self) -> Any:
        return _load(self.adapter)

    def options_spec(self) -> type[Spec] | None:
        return None if self.options is None else _load(self.options)


# The registration lines.
PROVIDER_KINDS: tuple[ProviderKind, ...] = (
    ProviderKind("openai", "mmo.providers.openai:OpenAIProvider"),
    ProviderKind("anthropic", "mmo.providers.anthropic:AnthropicProvider"),
    ProviderKind("gemini", "mmo.providers.gemini:GeminiProvider"),
    ProviderKind("replay", "mmo.providers.replay:ReplayProvider", options="mmo.providers.replay:ReplayOptions", needs_key=False, http=False),
)


def provider_kinds() -> Mapping[str, ProviderKind]:
    return {kind.name: kind for kind in PROVIDER_KINDS}


def provider_kind(name: str) -> ProviderKind:
    kinds = provider_kinds()
    if name not in kinds:
        raise UnknownName("provider kind", name, list(kinds))
    return kinds[name]


@cache
def _load(reference: str) -> Any:
    module, _, attribute = reference.partition(":")
    return getattr(import_module(module), attribute)
