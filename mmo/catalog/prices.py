"""Prices: the maintained price library (genai-prices), a profile's own prices, and the one
worst-case price function.

``LibraryPrices`` asks genai-prices about one model at a time and remembers the answer (hits and
misses). genai-prices takes ~240 ms to import and holds every provider's prices, so it is imported
on the first look-up only, and a profile that prices its models itself never imports it.
``ModelPrice.worst_case_usd`` is the one formula for the most a call can cost, used by budgets,
``--max-cost`` and dry runs alike.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from mmo.catalog.endpoints import PRICE_PROVIDER_IDS
from mmo.catalog.price_memo import MemoPrice, PriceMemo, memo_of
from mmo.core.types import UNKNOWN_COST, Cost, ModelRef, Usage

if TYPE_CHECKING:
    from genai_prices.types import ModelInfo as LibraryModel
    from genai_prices.types import Provider as LibraryProvider

PER_MTOK = 1_000_000
LOCAL_SOURCE = "local"
PROFILE_SOURCE = "profile"
UNKNOWN_SOURCE = "unknown"


@dataclass(frozen=True, slots=True)
class PriceOverride:
    """USD per million tokens, from a profile. ``cached_input_per_mtok=None`` bills cached input
    at the input price; a missing input or output price is taken from the library."""

    input_per_mtok: float | None = None
    output_per_mtok: float | None = None
    cached_input_per_mtok: float | None = None

    @property
    def complete(self) -> bool:
        return self.input_per_mtok is not None and self.output_per_mtok is not None


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """The base price of one model (tiers for very long prompts are applied by the library's
    ``cost`` only), and where it comes from."""

    input_per_mtok: float | None
    output_per_mtok: float | None
    cached_input_per_mtok: float | None
    source: str

    @property
    def complete(self) -> bool:
        """Whether both prices a worst case needs are known."""
        return self.input_per_mtok is not None and self.output_per_mtok is not None

    def worst_case_usd(self, input_tokens: float, output_tokens: float) -> float | None:
        """The most a call of ``input_tokens`` prompt and up to ``output_tokens`` output tokens
        can cost (every prompt token at the uncached price), or ``None`` when a price is unknown."""
        if self.input_per_mtok is None or self.output_per_mtok is None:
            return None
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / PER_MTOK

    def cost(self, usage: Usage) -> Cost:
        """What ``usage`` costs at this price; cached input at the cached price."""
        cached = min(usage.cached_tokens, usage.input_tokens)
        fresh, output = usage.input_tokens - cached, usage.output_tokens
        input_price, cached_price, output_price = self.input_per_mtok, self.cached_input_per_mtok, self.output_per_mtok
        if (fresh and input_price is None) or (cached and cached_price is None) or (output and output_price is None):
            return UNKNOWN_COST  # tokens of a kind with no price
        usd = 0 + fresh * (input_price or 0.0) + cached * (cached_price or 0.0) + output * (output_price or 0.0)
        return Cost(usd / PER_MTOK, self.source)


FREE = ModelPrice(0.0, 0.0, 0.0, LOCAL_SOURCE)


def overlay(override: PriceOverride, library: ModelPrice | None) -> ModelPrice:
    """A profile's prices, with any it leaves out taken from the library."""
    fallback = library or ModelPrice(None, None, None, UNKNOWN_SOURCE)
    input_price = override.input_per_mtok if override.input_per_mtok is not None else fallback.input_per_mtok
    output_price = override.output_per_mtok if override.output_per_mtok is not None else fallback.output_per_mtok
    cached_price = override.cached_input_per_mtok
    if cached_price is None:
        # A profile that sets its own input price without a cached one means "bill cached like input".
        cached_price = input_price if override.input_per_mtok is not None else fallback.cached_input_per_mtok
    borrowed = not override.complete
    source = f"{PROFILE_SOURCE} + {fallback.source}" if borrowed and library is not None else PROFILE_SOURCE
    return ModelPrice(input_price, output_price, cached_price, source)


@dataclass(frozen=True, slots=True)
class LibraryModelInfo:
    """One model the price library lists, for ``mmo models``."""

    provider: str
    model: str
    name: str | None
    price: ModelPrice
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


def library_version() -> str:
    """The installed price library's version, read without importing it: from the name of its
    ``.dist-info`` directory beside the package (importlib.metadata costs 15-30 ms of imports on
    every priced call's start-up), else from the package metadata."""
    from importlib.util import find_spec

    spec = find_spec("genai_prices")
    if spec is not None and spec.origin:
        folder = os.path.dirname(os.path.dirname(spec.origin))
        with os.scandir(folder) as entries:
            found = [entry.name for entry in entries if entry.name.startswith("genai_prices-") and entry.name.endswith(".dist-info")]
        if len(found) == 1:
            return found[0].removeprefix("genai_prices-").removesuffix(".dist-info")
    from importlib.metadata import version

    return version("genai-prices")


def _to_float(price: Any) -> float | None:
    """A genai-prices price (Decimal, tiered, or None) as a float; tiered gives the base price."""
    if price is None:
        return None
    return float(getattr(price, "base", price))


def _base_price(model: LibraryModel) -> ModelPrice:
    prices = model.get_prices(datetime.now(UTC))
    return ModelPrice(_to_float(prices.input_mtok), _to_float(prices.output_mtok), _to_float(prices.cache_read_mtok), library_source())


# genai-prices' "google" list includes Anthropic models resold on Vertex AI; the Gemini API that
# our "gemini" provider speaks does not serve them.
_NOT_SERVED: Mapping[str, tuple[str, ...]] = MappingProxyType({"gemini": ("claude-",)})

_Found = tuple["LibraryProvider", "LibraryModel"]


class LibraryPrices:
    """genai-prices, one model at a time; each model's look-up (hit or miss) is remembered in this
    process, and on disk with a ``PriceMemo`` (so a later process need not load the library)."""

    __slots__ = ("_found", "_memo")

    def __init__(self, memo: PriceMemo | None = None) -> None:
        self._found: dict[str, _Found | None] = {}
        self._memo = memo

    def _model(self, ref: ModelRef) -> _Found | None:
        if ref.id not in self._found:
            from genai_prices import Usage as LibraryUsage
            from genai_prices import calc_price

            # Pricing nothing is the public way to ask the library which model a name means.
            try:
                match = calc_price(LibraryUsage(), ref.name, provider_id=price_provider_id(ref.provider))
            except LookupError:
                self._found[ref.id] = None
            else:
                self._found[ref.id] = (match.provider, match.model)
            if self._memo is not None:
                model = self._found[ref.id]
                window = model[1].context_window if model is not None else None
                self._memo.put(ref.id, memo_of(model[1] if model is not None else None, window, library_source()))
        return self._found[ref.id]

    def _remembered(self, ref: ModelRef) -> tuple[bool, MemoPrice | None]:
        """(whether the memo knows the model, what it knows); the library is not loaded."""
        if self._memo is None or ref.id in self._found or not self._memo.has(ref.id):
            return False, None
        return True, self._memo.get(ref.id)

    def price(self, ref: ModelRef) -> ModelPrice | None:
        known, memo = self._remembered(ref)
        if known and (memo is None or memo.prices is not None):
            return None if memo is None else ModelPrice(memo.base(0), memo.base(2), memo.base(1), memo.source)
        found = self._model(ref)
        return _base_price(found[1]) if found is not None else None

    def context_window(self, ref: ModelRef) -> tuple[int | None, str]:
        """The library's context window for the model, and the library's name and version."""
        known, memo = self._remembered(ref)
        if known:
            return (None, "") if memo is None else (memo.context_window, memo.source)
        found = self._model(ref)
        return (found[1].context_window if found is not None else None), library_source()

    def cost(self, ref: ModelRef, usage: Usage) -> Cost:
        """What ``usage`` of ``ref`` cost, tiers for long prompts included."""
        known, memo = self._remembered(ref)
        if known:
            if memo is None:
                return UNKNOWN_COST
            remembered = memo.cost(usage)
            if remembered is not None:
                return remembered
        found = self._model(ref)
        if found is None:
            return UNKNOWN_COST
        from genai_prices import Usage as LibraryUsage

        provider, model = found
        cached = min(usage.cached_tokens, usage.input_tokens)
        billed = LibraryUsage(input_tokens=usage.input_tokens, cache_read_tokens=cached, output_tokens=usage.output_tokens)
        try:
            total = model.calc_price(billed, provider).total_price
        except ValueError:  # a price for a unit we do not report (e.g. audio-only models)
            return UNKNOWN_COST
        return Cost(float(total), library_source())

    def known_models(self, providers: Iterable[str]) -> list[LibraryModelInfo]:
        """Every model the library prices for these providers (this one loads them all)."""
        from genai_prices import data_snapshot

        by_id = {p.id: p for p in data_snapshot.get_snapshot().providers}
        out: list[LibraryModelInfo] = []
        for name in providers:
            library_provider = by_id.get(price_provider_id(name))
            for model in library_provider.models if library_provider else ():
                if model.id.startswith(_NOT_SERVED.get(name, ())):
                    continue
                out.append(LibraryModelInfo(name, model.id, model.name, _base_price(model), model.context_window, bool(model.deprecated)))
        return sorted(out, key=lambda m: (m.provider, m.model))
