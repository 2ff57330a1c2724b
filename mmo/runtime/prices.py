"""What a call cost, from a maintained price library (genai-prices) or the profile's own prices.

Precedence for a model id ``provider:model``: marked ``local`` in the profile (a known $0), then a
price given in the profile, then genai-prices (offline snapshot; the source names its version).
A model priced nowhere costs *unknown* (``usd=None``), never $0.

genai-prices takes ~240 ms to import and brings its own HTTP stack, so it is imported on the
first look-up, and what each model resolved to is remembered per ``PriceBook``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping

from mmo.core.types import UNKNOWN_COST, Cost, ModelRef, Usage
from mmo.providers.catalogue import BUILTIN_PROVIDERS, PRICE_PROVIDER_IDS

if TYPE_CHECKING:
    from genai_prices.types import ModelInfo as LibraryModel
    from genai_prices.types import Provider as LibraryProvider

PER_MTOK = 1_000_000
LOCAL_SOURCE = "local"
PROFILE_SOURCE = "profile"


@dataclass(frozen=True, slots=True)
class PriceOverride:
    """USD per million tokens, from a profile. ``cached_input_per_mtok=None`` bills cached input
    at the input price; a missing input or output price is taken from the library."""

    input_per_mtok: float | None = None
    output_per_mtok: float | None = None
    cached_input_per_mtok: float | None = None


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """The base price of one model (tiers for very long prompts are applied by ``cost`` only)."""

    input_per_mtok: float | None
    output_per_mtok: float | None
    cached_input_per_mtok: float | None
    context_window: int | None
    source: str


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One model the price library knows, for ``mmo models``."""

    provider: str
    model: str
    name: str | None
    input_per_mtok: float | None
    output_per_mtok: float | None
    cached_input_per_mtok: float | None
    context_window: int | None
    deprecated: bool = False

    @property
    def id(self) -> str:
        return f"{self.provider}:{self.model}"


def price_provider_id(provider: str) -> str:
    """Our provider name as genai-prices spells it."""
    return PRICE_PROVIDER_IDS.get(provider, provider)


def library_source() -> str:
    import genai_prices

    return f"genai-prices {genai_prices.__version__}"


def _to_float(price: Any) -> float | None:
    """A genai-prices price (Decimal, tiered, or None) as a float; tiered gives the base price."""
    if price is None:
        return None
    return float(getattr(price, "base", price))


def _base_prices(model: LibraryModel) -> tuple[float | None, float | None, float | None]:
    prices = model.get_prices(datetime.now(timezone.utc))
    return _to_float(prices.input_mtok), _to_float(prices.output_mtok), _to_float(prices.cache_read_mtok)


# genai-prices' "google" list includes Anthropic models resold on Vertex AI; the Gemini API that
# our "gemini" provider speaks does not serve them.
_NOT_SERVED: Mapping[str, tuple[str, ...]] = MappingProxyType({"gemini": ("claude-",)})

_Found = tuple["LibraryProvider", "LibraryModel"]


class PriceBook:
    """Costs and prices by model id. Remembers each model's library look-up (hits and misses)."""

    __slots__ = ("_overrides", "_local", "_found")

    def __init__(self, overrides: Mapping[str, PriceOverride] | None = None, local_models: frozenset[str] = frozenset()) -> None:
        self._overrides: Mapping[str, PriceOverride] = MappingProxyType(dict(overrides or {}))
        self._local = frozenset(local_models)
        self._found: dict[str, _Found | None] = {}

    def _library_model(self, ref: ModelRef) -> _Found | None:
        if ref.id not in self._found:
            from genai_prices import Usage as GPUsage
            from genai_prices import calc_price

            # Pricing nothing is the public way to ask the library which model a name means.
            try:
                match = calc_price(GPUsage(), ref.name, provider_id=price_provider_id(ref.provider))
            except LookupError:
                self._found[ref.id] = None
            else:
                self._found[ref.id] = (match.provider, match.model)
        return self._found[ref.id]

    def cost(self, ref: ModelRef, usage: Usage) -> Cost:
        """What ``usage`` of ``ref`` cost. Cached input tokens are billed at the cached price."""
        if ref.id in self._local:
            return Cost(0.0, LOCAL_SOURCE)
        override = self._overrides.get(ref.id)
        if override is not None:
            # A complete profile price needs no library (and so no 240 ms import) at all.
            complete = override.input_per_mtok is not None and override.output_per_mtok is not None
            return self._cost_from_price(_overlay(override, None) if complete else self.lookup(ref), usage)
        found = self._library_model(ref)
        if found is None:
            return UNKNOWN_COST
        from genai_prices import Usage as GPUsage

        provider, model = found
        cached = min(usage.cached_tokens, usage.input_tokens)
        billed = GPUsage(input_tokens=usage.input_tokens, cache_read_tokens=cached, output_tokens=usage.output_tokens)
        try:
            total = model.calc_price(billed, provider).total_price
        except ValueError:  # a price for a unit we do not report (e.g. audio-only models)
            return UNKNOWN_COST
        return Cost(float(total), library_source())

    def lookup(self, ref: ModelRef) -> ModelPrice | None:
        """The price ``cost`` would use, or ``None`` when the model is priced nowhere."""
        if ref.id in self._local:
            return ModelPrice(0.0, 0.0, 0.0, self._context_window(ref), LOCAL_SOURCE)
        override = self._overrides.get(ref.id)
        library = self._library_price(ref)
        if override is None:
            return library
        return _overlay(override, library)

    def _library_price(self, ref: ModelRef) -> ModelPrice | None:
        found = self._library_model(ref)
        if found is None:
            return None
        model = found[1]
        return ModelPrice(*_base_prices(model), model.context_window, library_source())

    def _context_window(self, ref: ModelRef) -> int | None:
        found = self._library_model(ref)
        return found[1].context_window if found is not None else None

    @staticmethod
    def _cost_from_price(price: ModelPrice | None, usage: Usage) -> Cost:
        if price is None:
            return UNKNOWN_COST
        cached = min(usage.cached_tokens, usage.input_tokens)
        parts = ((usage.input_tokens - cached, price.input_per_mtok), (cached, price.cached_input_per_mtok), (usage.output_tokens, price.output_per_mtok))
        if any(tokens and per_mtok is None for tokens, per_mtok in parts):
            return UNKNOWN_COST
        return Cost(sum(tokens * (per_mtok or 0.0) for tokens, per_mtok in parts) / PER_MTOK, price.source)

    def known_models(self, provider: str | None = None) -> list[ModelInfo]:
        """Models with prices from the library, for the catalogue's providers (or just one)."""
        from genai_prices import data_snapshot

        by_id = {p.id: p for p in data_snapshot.get_snapshot().providers}
        names = [provider] if provider is not None else list(BUILTIN_PROVIDERS)
        out: list[ModelInfo] = []
        for name in names:
            library_provider = by_id.get(price_provider_id(name))
            for model in library_provider.models if library_provider else ():
                if model.id.startswith(_NOT_SERVED.get(name, ())):
                    continue
                out.append(ModelInfo(name, model.id, model.name, *_base_prices(model), model.context_window, bool(model.deprecated)))
        return sorted(out, key=lambda m: (m.provider, m.model))


def _overlay(override: PriceOverride, library: ModelPrice | None) -> ModelPrice:
    """The profile's prices, with any it leaves out taken from the library."""
    fallback = library or ModelPrice(None, None, None, None, "unknown")
    input_price = override.input_per_mtok if override.input_per_mtok is not None else fallback.input_per_mtok
    output_price = override.output_per_mtok if override.output_per_mtok is not None else fallback.output_per_mtok
    cached_price = override.cached_input_per_mtok
    if cached_price is None:
        # A profile that sets its own input price without a cached one means "bill cached like input".
        cached_price = input_price if override.input_per_mtok is not None else fallback.cached_input_per_mtok
    borrowed = override.input_per_mtok is None or override.output_per_mtok is None
    source = f"{PROFILE_SOURCE} + {fallback.source}" if borrowed and library is not None else PROFILE_SOURCE
    return ModelPrice(input_price, output_price, cached_price, fallback.context_window, source)
