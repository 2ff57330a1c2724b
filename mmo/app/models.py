"""The ``models`` use case: what the catalogue knows about models (price with its source,
context window, maximum output, parameter rules), for one profile's view when one is given."""

from __future__ import annotations

from dataclasses import dataclass

from mmo.app.portfolio import catalog_for, provider_settings
from mmo.app.profile_choice import resolve_profile
from mmo.app.settings import AppEnv, ProfileChoice
from mmo.catalog.catalog import Catalog, ModelFacts
from mmo.catalog.endpoints import BUILTIN_PROVIDERS
from mmo.catalog.prices import library_source
from mmo.core.errors import UnknownName


@dataclass(frozen=True, slots=True)
class ModelListing:
    models: tuple[ModelFacts, ...]
    library: str  # the price library and its version, e.g. "genai-prices 0.2.3"
    profile: str | None


def list_models(env: AppEnv, *, provider: str | None = None, search: str | None = None, profile: str | None = None) -> ModelListing:
    """Known models, optionally of one provider, whose id contains ``search``; with ``profile``,
    its own models and providers too, and its overrides (prices, windows) laid over the facts."""
    catalog = Catalog()
    providers = list(BUILTIN_PROVIDERS)
    if profile is not None:
        loaded = resolve_profile(ProfileChoice(profile), env).profile
        endpoints = provider_settings(loaded)
        catalog, providers = catalog_for(loaded, endpoints), list(endpoints)
    if provider is not None and provider not in providers:
        raise UnknownName("provider", provider, providers)
    found = catalog.known_models(provider if provider in BUILTIN_PROVIDERS else None)
    if provider is not None:
        found = [facts for facts in found if facts.ref.provider == provider]
    if search:
        found = [facts for facts in found if search.lower() in facts.ref.id.lower()]
    return ModelListing(tuple(found), library_source(), profile)
