"""``ProviderPool``: provider names to live ``Provider`` objects, built lazily, one per name per run.

A provider is built the first time a node calls it: its key is resolved then (environment first,
then the OS keyring, unless its settings point away from the provider's own host), so a profile that lists five vendors needs keys only for the ones a request
actually reaches, and a missing key is an error a fallback can move past. Its adapter comes from
the provider-kind registry (``mmo.providers.kinds``). The pool implements ``ProviderLookup``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Mapping, cast

from mmo.catalog.endpoints import ProviderSettings
from mmo.core.errors import UnknownName
from mmo.core.protocols import Provider
from mmo.providers.kinds import provider_kind

if TYPE_CHECKING:
    import httpx

    from mmo.runtime.keys import KeyStore


class ProviderPool:
    """Provider settings by name, and the providers built from them so far.

    ``extra`` lets a caller add ready-made providers (a scripted fake in tests, or an in-process
    provider embedded by a library user); they win over settings of the same name.
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
        wrap: Callable[[Provider], Provider] | None = None,
    ) -> None:
        self._settings = dict(settings)
        self._wrap = wrap  # laid over every provider as it is first used (a batch job's answers)
        self._wrapped: set[str] = set()
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
        if self._wrap is not None and name not in self._wrapped:
            provider = self._built[name] = self._wrap(provider)
            self._wrapped.add(name)
        return provider

    def _build(self, name: str) -> Provider:
        settings = self._settings.get(name)
        if settings is None:
            raise UnknownName("provider", name, self.names())
        settings = settings.resolved(self._environ)
        kind = provider_kind(settings.kind)
        api_key = None
        if settings.needs_key and kind.needs_key:
            api_key = self._keys.resolve(name, settings.key_env, use_keyring=settings.keyring).value
        elif settings.key_env and self._environ.get(settings.key_env):
            api_key = self._environ[settings.key_env]  # optional key (ollama behind a proxy)
        client = self._http_client() if kind.http else None
        adapter: Provider = kind.adapter_class()(settings, api_key, client, on_warning=self._on_warning)
        return adapter

    def _http_client(self) -> httpx.AsyncClient:
        if self._client is None:
            if self._client_factory is not None:
                self._client = self._client_factory()
            else:
                from mmo.providers.http import CLIENT_HEADERS, make_client
                from mmo.providers.light_http import LightClient

                # Duck-typed: a JSON POST goes on its own connections, all else to make_client's.
                self._client = cast("httpx.AsyncClient", LightClient(make_client, self._environ, headers=CLIENT_HEADERS))
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
