"""``Catalog``: the one source of facts about a model, with a profile's overrides laid over them.

For ``provider:model`` it answers where the model is served (the provider's endpoint and key
variable), what it costs (``price``, ``cost``, ``worst_case_usd``), its context window and maximum
output, and which parameters it accepts (``rules``). Every fact carries its source. Precedence:

* price: marked ``local`` in the profile (a known $0), then the profile's price (parts it leaves
  out come from the library), then genai-prices; priced nowhere is *unknown*, never $0;
* context window: the profile's ``context_window``, then mmo's table, then genai-prices;
* maximum output: the profile's ``max_output``, then mmo's table;
* capabilities (vision, structured output, tools, logprobs, streaming): the profile's
  ``capabilities:``, then mmo's table (``mmo.catalog.capabilities``); unknown stays unknown.

Each model is looked up on first use and remembered, so one call loads one model's facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from mmo.catalog.capabilities import Capabilities, table_capabilities
from mmo.catalog.endpoints import BUILTIN_PROVIDERS, ProviderSettings
from mmo.catalog.prices import FREE, LibraryModelInfo, LibraryPrices, ModelPrice, PriceOverride, overlay
from mmo.catalog.rules import ParameterRules, parameter_rules_for
from mmo.catalog.windows import WINDOWS_SOURCE, context_window, max_output
from mmo.core.types import UNKNOWN_COST, Cost, ModelRef, Usage

PROFILE_SOURCE = "profile"
SUSPECT_USAGE_COST = Cost(None, "unknown: suspect usage")


@dataclass(frozen=True, slots=True)
class ModelOverride:
    """What a profile says about one model (``models:`` entries), keyed by ``provider:model``."""

    local: bool = False
    price: PriceOverride | None = None
    context_window: int | None = None
    max_output: int | None = None
    capabilities: Mapping[str, bool | None] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Sourced:
    """A fact and where it comes from ("profile", "mmo table", "genai-prices 0.2.3")."""

    value: int | None
    source: str | None


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """Everything the catalogue knows about one model."""

    ref: ModelRef
    endpoint: ProviderSettings | None  # None: a provider the catalogue does not know
    local: bool
    price: ModelPrice | None
    context_window: Sourced
    max_output: Sourced
    rules: ParameterRules = field(default_factory=ParameterRules)
    capabilities: Capabilities = field(default_factory=Capabilities)

    @property
    def key_env(self) -> str | None:
        return self.endpoint.key_env if self.endpoint is not None and self.endpoint.needs_key else None


class Catalog:
    """Model facts for one profile: its endpoints and overrides over the built-in knowledge."""

    def __init__(
        self,
        endpoints: Mapping[str, ProviderSettings] | None = None,
        overrides: Mapping[str, ModelOverride] | None = None,
        library: LibraryPrices | None = None,
    ) -> None:
        self._endpoints = MappingProxyType(dict(BUILTIN_PROVIDERS if endpoints is None else endpoints))
        self._overrides = MappingProxyType(dict(overrides or {}))
        self._library = library or LibraryPrices()
        self._facts: dict[str, ModelFacts] = {}
        self._profile_prices: dict[str, ModelPrice | None] = {}  # a profile's prices, resolved once

    def endpoint(self, provider: str) -> ProviderSettings | None:
        return self._endpoints.get(provider)

    def endpoints(self) -> Mapping[str, ProviderSettings]:
        return self._endpoints

    def facts(self, ref: ModelRef) -> ModelFacts:
        """Every fact about one model (its price too: this may load the price library)."""
        found = self._facts.get(ref.id)
        if found is None:
            override = self._overrides.get(ref.id, ModelOverride())
            found = self._facts[ref.id] = ModelFacts(
                ref=ref,
                endpoint=self._endpoints.get(ref.provider),
                local=override.local,
                price=self.price(ref),
                context_window=self.context_window(ref),
                max_output=self.max_output(ref),
                rules=self.rules(ref),
                capabilities=self.capabilities(ref),
            )
        return found

    def rules(self, ref: ModelRef) -> ParameterRules:
        return parameter_rules_for(self._kind(ref), ref.name)

    def capabilities(self, ref: ModelRef) -> Capabilities:
        """What the model can do: the profile's ``capabilities:`` over mmo's table."""
        table = table_capabilities(ref.provider, self._kind(ref), ref.name, self.rules(ref).logprobs)
        override = self._overrides.get(ref.id)
        return table.overlaid_by(override.capabilities) if override is not None else table

    def context_window(self, ref: ModelRef) -> Sourced:
        """The profile's figure, else mmo's table, else the price library's (looked up only then)."""
        found = self.context_window_without_library(ref)
        if found.value is not None or self._skips_library(ref):
            return found
        library, source = self._library.context_window(ref)
        return Sourced(library, source) if library is not None else found

    def context_window_without_library(self, ref: ModelRef) -> Sourced:
        """The profile's figure, else mmo's table (no library look-up)."""
        override = self._overrides.get(ref.id)
        if override is not None and override.context_window is not None:
            return Sourced(override.context_window, PROFILE_SOURCE)
        table = context_window(self._kind(ref), ref.name)
        return Sourced(table, WINDOWS_SOURCE) if table is not None else Sourced(None, None)

    def max_output(self, ref: ModelRef) -> Sourced:
        override = self._overrides.get(ref.id)
        if override is not None and override.max_output is not None:
            return Sourced(override.max_output, PROFILE_SOURCE)
        table = max_output(self._kind(ref), ref.name)
        return Sourced(table, WINDOWS_SOURCE) if table is not None else Sourced(None, None)

    def _kind(self, ref: ModelRef) -> str:
        endpoint = self._endpoints.get(ref.provider)
        return endpoint.kind if endpoint is not None else ""

    def _skips_library(self, ref: ModelRef) -> bool:
        """A local model, or one the profile prices fully, never needs the price library."""
        override = self._overrides.get(ref.id)
        return override is not None and (override.local or (override.price is not None and override.price.complete))

    # --- money ---------------------------------------------------------------------------------

    def price(self, ref: ModelRef) -> ModelPrice | None:
        """The price ``cost`` uses, or ``None`` when the model is priced nowhere."""
        override = self._overrides.get(ref.id)
        if override is not None and override.local:
            return FREE
        if override is not None and override.price is not None:
            library = None if override.price.complete else self._library.price(ref)
            return overlay(override.price, library)
        return self._library.price(ref)

    def cost(self, ref: ModelRef, usage: Usage) -> Cost:
        """What ``usage`` of the model actually called costs. Cached input at the cached price;
        the library's tiers for long prompts apply where the library prices the model. Usage a
        server reported wrongly (``Usage.suspect``) is never priced: its cost is unknown."""
        if usage.suspect is not None:
            return SUSPECT_USAGE_COST
        model_id = ref.id
        if model_id not in self._profile_prices:
            override = self._overrides.get(model_id)
            if override is None or (not override.local and override.price is None):
                return self._library.cost(ref, usage)
            self._profile_prices[model_id] = self.price(ref)
        price = self._profile_prices[model_id]
        return price.cost(usage) if price is not None else UNKNOWN_COST

    def worst_case_usd(self, ref: ModelRef, input_tokens: float, output_tokens: float) -> float | None:
        """The most a call can cost, or ``None`` when a needed price is unknown."""
        price = self.price(ref)
        return price.worst_case_usd(input_tokens, output_tokens) if price is not None else None

    # --- listing -------------------------------------------------------------------------------

    def library_models(self, provider: str | None = None) -> list[LibraryModelInfo]:
        """Models the price library lists for the built-in providers (or just one)."""
        names = [provider] if provider is not None else list(BUILTIN_PROVIDERS)
        return self._library.known_models(names)

    def known_models(self, provider: str | None = None) -> list[ModelFacts]:
        """Every model the price library lists (for the built-in providers, or one) and every
        model the profile describes, with the profile's overrides laid over them."""
        listed = {info.id: info for info in self.library_models(provider)}
        ids = [*listed, *(model_id for model_id in self._overrides if model_id not in listed)]
        facts: list[ModelFacts] = []
        for model_id in ids:
            ref = ModelRef.parse(model_id)
            if provider is not None and ref.provider != provider:
                continue
            facts.append(self._listed_facts(ref, listed.get(model_id)))
        return sorted(facts, key=lambda f: f.ref.id)

    def _listed_facts(self, ref: ModelRef, info: LibraryModelInfo | None) -> ModelFacts:
        if info is None or ref.id in self._overrides:
            return self.facts(ref)
        window = self.context_window_without_library(ref)
        if window.value is None and info.context_window is not None:
            window = Sourced(info.context_window, info.price.source)
        endpoint = self._endpoints.get(ref.provider)
        return ModelFacts(ref, endpoint, False, info.price, window, self.max_output(ref), self.rules(ref), self.capabilities(ref))
