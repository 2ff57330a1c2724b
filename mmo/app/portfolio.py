"""A profile's portfolio as the runtime needs it: its providers' settings (built-in ones with the
profile's declarations laid over them) and the model catalogue with the profile's overrides."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping

from mmo.catalog.catalog import Catalog, ModelOverride
from mmo.catalog.endpoints import BUILTIN_PROVIDERS, ProviderSettings, env_name
from mmo.catalog.key_scope import foreign_key_message, key_goes_elsewhere, key_scope
from mmo.catalog.price_memo import PriceMemo
from mmo.catalog.prices import LibraryPrices, PriceOverride, library_version
from mmo.config.schema import Profile
from mmo.core.errors import ConfigError, UnknownName
from mmo.core.protocols import Node, Provider, leaf_targets
from mmo.core.types import frozen_mapping
from mmo.providers.kinds import provider_kind
from mmo.spec.portfolio import ProviderEntryBase


def provider_settings(profile: Profile) -> dict[str, ProviderSettings]:
    """Built-in providers, with the profile's declarations laid over them."""
    settings = dict(BUILTIN_PROVIDERS)
    for name, entry in profile.providers.items():
        settings[name] = _settings_from_entry(name, entry, BUILTIN_PROVIDERS.get(name))
    return settings


def _settings_from_entry(name: str, entry: ProviderEntryBase, builtin: ProviderSettings | None) -> ProviderSettings:
    kind = provider_kind(entry.kind)
    if kind.http and not entry.base_url and builtin is None:
        raise ConfigError(f"provider {name!r} needs a base_url (for example http://localhost:8000/v1)")
    own_fields = set(type(entry).model_fields) - set(ProviderEntryBase.model_fields)
    options: dict[str, Any] = {field: getattr(entry, field) for field in sorted(own_fields)}
    settings = ProviderSettings(
        name=name,
        kind=entry.kind,
        base_url=(entry.base_url or (builtin.base_url if builtin else None) or "").rstrip("/") or None,
        key_env=entry.key_env or (builtin.key_env if builtin else f"{env_name(name)}_API_KEY"),
        needs_key=entry.key != "none" and kind.needs_key,
        base_url_env=builtin.base_url_env if builtin else (),
        headers=frozen_mapping(entry.headers),
        options=frozen_mapping(options),
        transport=entry.transport.limits(),
    )
    return settings if builtin is None else _keep_key_home(settings, entry, builtin)


def _keep_key_home(settings: ProviderSettings, entry: ProviderEntryBase, builtin: ProviderSettings) -> ProviderSettings:
    """A built-in provider's key goes only to its own host (``mmo.catalog.key_scope``): pointed
    elsewhere, it sends the key its profile names (from the environment only), a loopback server
    gets none, and any other host without a named key is refused (``key_policy_problems`` reports
    that with the file and line when the profile is loaded)."""
    if key_scope(builtin, entry.base_url) == "own":
        return settings
    if key_goes_elsewhere(builtin, entry.base_url, key_env=entry.key_env, key=entry.key):
        raise ConfigError(foreign_key_message(settings.name, builtin, entry.base_url or ""))
    if entry.key_env:
        return replace(settings, keyring=False)
    return replace(settings, key_env=None, needs_key=False, keyring=False)


def catalog_for(profile: Profile, endpoints: Mapping[str, ProviderSettings], prices_dir: Path | None = None) -> Catalog:
    """The catalogue with what the profile's ``models:`` entries say (price, local, windows).
    With ``prices_dir``, library prices once looked up are remembered there (``PriceMemo``)."""
    overrides: dict[str, ModelOverride] = {}
    for alias in profile.models:
        entry = profile.model_entry(alias)
        if entry is None:
            continue
        price = None if entry.price is None else PriceOverride(entry.price.input, entry.price.output, entry.price.cached_input)
        stated = entry.capabilities.stated() if entry.capabilities is not None else {}
        overrides[entry.model] = ModelOverride(entry.local, price, entry.context_window, entry.max_output, stated)
    library = LibraryPrices(PriceMemo(prices_dir, library_version)) if prices_dir is not None else None
    return Catalog(endpoints, overrides, library)


def check_providers(root: Node, settings: Mapping[str, ProviderSettings], extra: Mapping[str, Provider]) -> None:
    """Refuse to start when a model names a provider nobody declared: before anything is spent."""
    known = [*settings, *extra]
    for target in leaf_targets(root):
        if target.ref.provider not in known:
            raise UnknownName("provider", target.ref.provider, known)


def warn_unknown_models(root: Node, catalog: Catalog, warn: Callable[[str], None]) -> None:
    """A model the price library does not know is often a typo (``gpt-5-mimi``): say so, with
    close matches, before anything is spent. Not an error: new models appear before the library
    knows them, and a profile may price them itself."""
    import difflib

    for target in leaf_targets(root):
        endpoint = catalog.endpoint(target.ref.provider)
        if endpoint is None or target.ref.provider not in BUILTIN_PROVIDERS or not provider_kind(endpoint.kind).http:
            continue
        if target.local or catalog.price(target.ref) is not None:
            continue
        known = [m.model for m in catalog.library_models(target.ref.provider)]
        close = difflib.get_close_matches(target.ref.name, known, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else " (its cost will show as unknown)"
        warn(f"{target.id} is not a model the price library knows{hint}")
