"""Library prices remembered on disk, so that pricing a call does not load every price of every
provider (genai-prices takes ~240 ms to import, most of it its whole data set).

The first look-up of a model asks the library and writes what it found to a small JSON file in
the user cache directory, one file per genai-prices version (a new version starts a new file).
Later processes price that model from the file alone: its base prices, its long-prompt tiers,
its context window. A model the library does not know is remembered as unknown.

Only what mmo can compute exactly as the library does is remembered as a price: a model with one
price schedule (not time-dependent), whose prices that apply to mmo's usage are per-token input,
cached input and output, with or without tiers, and no per-request fee. Anything else is
remembered as "ask the library", and the library prices it. The arithmetic is the library's:
``Decimal`` prices, the tier chosen by the prompt's total input tokens (a tier applies to all
tokens once the prompt passes its start), cached input at the cached price when there is one.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from mmo.core.types import Cost, Usage

if TYPE_CHECKING:
    from genai_prices.types import ModelInfo as LibraryModel

PER_MTOK = 1_000_000
_PRICED = ("input_mtok", "cache_read_mtok", "output_mtok")
_NO_EFFECT_ON_TEXT_USAGE = frozenset(  # prices whose count is always 0 for mmo's usage
    {
        "cache_write_mtok", "cache_write_1h_mtok", "web_searches_kcount", "storage_searches_kcount",
        "input_audio_mtok", "output_audio_mtok", "cache_audio_read_mtok", "audio_hours", "input_audio_hours",
        "input_image_mtok", "output_image_mtok", "cache_image_read_mtok", "input_video_mtok",
        "input_document_kpages", "input_annotated_document_kpages", "input_mchars",
    }
)

Tiered = tuple[Decimal, tuple[tuple[int, Decimal], ...]]  # base price, then (start, price) ascending


@dataclass(frozen=True, slots=True)
class MemoPrice:
    """One model's remembered library price. ``prices`` holds input, cached input and output
    (``None`` where the library has none), or is ``None``: ask the library for this model."""

    prices: tuple[Tiered | None, Tiered | None, Tiered | None] | None
    context_window: int | None
    source: str

    def cost(self, usage: Usage) -> Cost | None:
        """The cost the library gives, or ``None`` when only the library can say."""
        if self.prices is None:
            return None
        input_price, cached_price, output_price = self.prices
        total_input = usage.input_tokens
        cached = min(usage.cached_tokens, usage.input_tokens) if cached_price is not None else 0
        total = Decimal(0)
        for price, count in ((input_price, total_input - cached), (cached_price, cached), (output_price, usage.output_tokens)):
            if price is not None:
                total += _applicable(price, total_input) * count / PER_MTOK
        return Cost(float(total), self.source)

    def base(self, index: int) -> float | None:
        price = self.prices[index] if self.prices is not None else None
        return float(price[0]) if price is not None else None


def _applicable(price: Tiered, total_input_tokens: int) -> Decimal:
    base, tiers = price
    for start, tier_price in reversed(tiers):
        if total_input_tokens > start:
            return tier_price
    return base


def memo_of(model: LibraryModel | None, context_window: int | None, source: str) -> MemoPrice | None:
    """What to remember of a library model (``None``: the library does not know it)."""
    if model is None:
        return None
    prices = model.prices
    if isinstance(prices, list):  # prices that change with the date or the time of day
        return MemoPrice(None, context_window, source)
    stored = {key: value for key, value in prices.__dict__.items() if not key.startswith("_") and value is not None}
    if not set(stored) <= {*_PRICED, *_NO_EFFECT_ON_TEXT_USAGE}:
        return MemoPrice(None, context_window, source)
    return MemoPrice(tuple(_tiered(stored.get(key)) for key in _PRICED), context_window, source)  # type: ignore[arg-type]


def _tiered(value: Any) -> Tiered | None:
    if value is None:
        return None
    tiers = getattr(value, "tiers", None)
    if tiers is None:
        return (Decimal(value), ())
    return (Decimal(value.base), tuple((int(tier.start), Decimal(tier.price)) for tier in sorted(tiers, key=lambda t: t.start)))


class PriceMemo:
    """The file of remembered look-ups for one version of the price library. The version is asked
    for only when a price is (reading package metadata costs a millisecond, and most profiles
    price their models themselves)."""

    def __init__(self, directory: Path, library_version: Callable[[], str]) -> None:
        self._directory = directory
        self._library_version = library_version
        self._path: Path | None = None
        self._entries: dict[str, Any] | None = None

    @property
    def path(self) -> Path:
        if self._path is None:
            self._path = self._directory / f"genai-prices-{self._library_version()}.json"
        return self._path

    def _load(self) -> dict[str, Any]:
        if self._entries is None:
            try:
                loaded = json.loads(self.path.read_text(encoding="utf-8"))
                self._entries = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                self._entries = {}  # none yet, or unreadable: the library answers and it is rewritten
        return self._entries

    def has(self, model_id: str) -> bool:
        return model_id in self._load()

    def get(self, model_id: str) -> MemoPrice | None:
        """The remembered price (``None``: remembered as unknown to the library). Ask ``has`` first."""
        return _decode(self._load()[model_id])

    def put(self, model_id: str, memo: MemoPrice | None) -> None:
        """Remember one look-up; the file is rewritten whole and renamed into place, merged with
        what another process may have written meanwhile."""
        entries = self._load()
        entries[model_id] = _encode(memo)
        try:
            on_disk = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            on_disk = {}
        merged = {**(on_disk if isinstance(on_disk, dict) else {}), **entries}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".prices-", suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(merged, out, separators=(",", ":"))
            os.replace(temporary, self.path)
        except OSError:
            return  # a read-only cache directory: prices still come from the library


def _encode(memo: MemoPrice | None) -> Mapping[str, Any] | None:
    if memo is None:
        return None
    prices = None if memo.prices is None else [None if p is None else [str(p[0]), [[start, str(price)] for start, price in p[1]]] for p in memo.prices]
    return {"prices": prices, "window": memo.context_window, "source": memo.source}


def _decode(data: Any) -> MemoPrice | None:
    if data is None:
        return None
    raw = data.get("prices")
    prices = None if raw is None else tuple(None if p is None else (Decimal(p[0]), tuple((int(s), Decimal(v)) for s, v in p[1])) for p in raw)
    return MemoPrice(prices, data.get("window"), str(data.get("source", "")))  # type: ignore[arg-type]
