"""Turns provider names into live ``Provider`` objects, lazily, one per name per run.

A provider is built the first time a node calls it: its key is resolved then (environment first,
then the OS keyring), so a profile that lists five vendors needs keys only for the ones a request
actually reaches, and a missing key is an error a fallback can move past.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping

from mmo.core.errors import UnknownName
from mmo.core.protocols import Provider
from mmo.providers.catalogue import BUILTIN_PROVIDERS, ProviderSettings

if TYPE_CHECKING:
    import httpx

    from mmo.runtime.keys import KeyStore


def _adapter_class(kind: str) -> Any:
    # Imported on demand: each adapter pulls in httpx, which `mmo --help` must not pay for.
    if kind == "openai":
        from mmo.providers.openai import OpenAIProvider

        return OpenAIProvider
    if kind == "anthropic":
        from mmo.providers.anthropic import AnthropicProvider

        return AnthropicProvider
    if kind == "gemini":
        from mmo.providers.gemini import GeminiProvider

        return GeminiProvider
    if kind == "replay":
        from mmo.providers.replay import ReplayProvider

        return ReplayProvider
    raise UnknownName("provider kind", kind, ("openai", "anthropic", "gemini", "replay"))


class ProviderPool:
    """Provider settings by name, and the providers built from them so far.

    ``extra`` lets a caller add ready-made providers (a scripted fake in strategy tests, or an
    in-process provider embedded by a library user); they win over settings of the same name.
    """

    def __init__(
        self,
        settings: Mapping[str, ProviderSettings],
        keys: KeyStore,
        environ: Mapping[str, str],
        *,
        extra: Mapping[str, Provider] | None = None,
        on_warning: Callable[[str], None] | None = None,
        client_factory: Callable[[], httpx.AsyncClient] | None = None,
    ) -> None:
        self._settings = dict(settings)
        self._keys = keys
        self._environ = environ
        self._built: dict[str, Provider] = dict(extra or {})
        self._on_warning = on_warning
        self._client_factory = client_factory
        self._client: httpx.AsyncClient | None = None

    def names(self) -> list[str]:
        return sorted({*self._settings, *self._built})

    def settings(self, name: str) -> ProviderSettings | None:
        return self._settings.get(name)

    def get(self, name: str) -> Provider:
        provider = self._built.get(name)
        if provider is None:
            provider = self._build(name)
            self._built[name] = provider
        return provider

    def _build(self, name: str) -> Provider:
        settings = self._settings.get(name)
        if settings is None:
            raise UnknownName("provider", name, self.names())
        settings = settings.resolved(self._environ)
        api_key = None
        if settings.needs_key and settings.kind != "replay":
            api_key = self._keys.resolve(name, settings.key_env).value
        elif settings.key_env and self._environ.get(settings.key_env):
            api_key = self._environ[settings.key_env]  # optional key (ollama behind a proxy)
        cls = _adapter_class(settings.kind)
        client = self._http_client() if settings.kind != "replay" else None
        return cls(settings, api_key, client, on_warning=self._on_warning)

    def _http_client(self) -> httpx.AsyncClient:
        if self._client is None:
            if self._client_factory is not None:
                self._client = self._client_factory()
            else:
                from mmo.providers.http import make_client

                self._client = make_client()
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def merged_settings(declared: Mapping[str, ProviderSettings]) -> dict[str, ProviderSettings]:
    """Built-in providers with a profile's declarations laid over them (a profile may redefine
    a built-in, e.g. point ``openai`` at a gateway)."""
    return {**BUILTIN_PROVIDERS, **declared}
