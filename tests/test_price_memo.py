"""Library prices remembered on disk: the same cost the library gives, for every model it prices,
and a later process prices a remembered model without loading the library."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import genai_prices
import pytest
from genai_prices import Usage as LibraryUsage
from genai_prices import data_snapshot
from genai_prices.types import ModelPrice as LibraryModelPrice

from mmo.catalog.catalog import Catalog
from mmo.catalog.price_memo import PriceMemo, memo_of
from mmo.catalog.prices import LibraryPrices, library_version
from mmo.core.types import UNKNOWN_COST, ModelRef, Usage

SOURCE = f"genai-prices {genai_prices.__version__}"


def _usages(rng: random.Random, thresholds: list[int]) -> list[Usage]:
    """Small, large, cached and uncached usages, and prompts either side of every tier start."""
    out = [Usage(0, 0), Usage(1, 1), Usage(1000, 200, 400), Usage(1000, 200, 5000)]
    for start in thresholds:
        out += [Usage(start, 7, start // 3), Usage(start + 1, 7, start // 3), Usage(start + 1, 1)]
    out += [Usage(rng.randrange(2_000_000), rng.randrange(100_000), rng.randrange(1_000_000)) for _ in range(20)]
    return out


def _library_cost(model, provider, usage: Usage) -> Decimal | None:  # type: ignore[no-untyped-def]
    cached = min(usage.cached_tokens, usage.input_tokens)
    billed = LibraryUsage(input_tokens=usage.input_tokens, cache_read_tokens=cached, output_tokens=usage.output_tokens)
    try:
        return model.calc_price(billed, provider).total_price  # type: ignore[no-any-return]
    except ValueError:
        return None


def test_every_remembered_price_costs_exactly_what_the_library_says() -> None:
    rng = random.Random(8)
    remembered = compared = 0
    for provider in data_snapshot.get_snapshot().providers:
        for model in provider.models:
            memo = memo_of(model, model.context_window, SOURCE)
            assert memo is not None
            if memo.prices is None:
                continue
            remembered += 1
            assert isinstance(model.prices, LibraryModelPrice)
            thresholds = sorted({start for price in memo.prices if price for start, _ in price[1]})
            for usage in _usages(rng, thresholds):
                expected = _library_cost(model, provider, usage)
                assert expected is not None, (provider.id, model.id)
                got = memo.cost(usage)
                assert got is not None and got.usd == float(expected), (provider.id, model.id, usage, got, expected)
                compared += 1
    assert remembered > 500 and compared > remembered * 20  # most of the library is remembered, all checked


def test_the_memo_survives_the_file_round_trip(tmp_path: Path) -> None:
    provider = next(p for p in data_snapshot.get_snapshot().providers if p.id == "google")
    tiered = next(m for m in provider.models if memo_of(m, None, SOURCE).prices and any(p and p[1] for p in memo_of(m, None, SOURCE).prices))
    memo = memo_of(tiered, tiered.context_window, SOURCE)
    PriceMemo(tmp_path, lambda: "1.0").put("google:x", memo)
    PriceMemo(tmp_path, lambda: "1.0").put("google:unknown", None)
    again = PriceMemo(tmp_path, lambda: "1.0")
    assert again.get("google:x") == memo and again.has("google:unknown") and again.get("google:unknown") is None
    assert not PriceMemo(tmp_path, lambda: "2.0").has("google:x")  # a new library version starts afresh


def test_a_corrupt_memo_is_rewritten_from_the_library(tmp_path: Path) -> None:
    memo = PriceMemo(tmp_path, library_version)
    memo.path.write_text("{not json", encoding="utf-8")
    book = Catalog(library=LibraryPrices(memo))
    assert book.cost(ModelRef.parse("openai:gpt-4o"), Usage(1_000_000, 1_000_000)).usd == 12.5
    assert "openai:gpt-4o" in json.loads(memo.path.read_text(encoding="utf-8"))


def test_an_unknown_model_is_remembered_as_unknown(tmp_path: Path) -> None:
    memo = PriceMemo(tmp_path, library_version)
    ref = ModelRef.parse("openai:no-such-model-xyz")
    assert Catalog(library=LibraryPrices(memo)).cost(ref, Usage(10, 10)) == UNKNOWN_COST
    assert Catalog(library=LibraryPrices(PriceMemo(tmp_path, library_version))).cost(ref, Usage(10, 10)) == UNKNOWN_COST


def test_a_read_only_memo_directory_still_prices(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    memo = PriceMemo(blocker / "prices", library_version)  # its parent is a file: nothing can be written
    assert Catalog(library=LibraryPrices(memo)).cost(ModelRef.parse("openai:gpt-4o"), Usage(1_000_000, 0)).usd == 2.5


@pytest.mark.parametrize("model", ["openai:gpt-4o", "anthropic:claude-sonnet-4-5", "gemini:gemini-2.5-pro"])
def test_a_later_process_prices_a_remembered_model_without_the_library(tmp_path: Path, model: str) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from mmo.catalog.catalog import Catalog
        from mmo.catalog.price_memo import PriceMemo
        from mmo.catalog.prices import LibraryPrices, library_version
        from mmo.core.types import ModelRef, Usage
        book = Catalog(library=LibraryPrices(PriceMemo(Path({str(tmp_path)!r}), library_version)))
        ref = ModelRef.parse({model!r})
        cost = book.cost(ref, Usage(300_000, 2_000, 1_000))
        print(cost.usd, cost.source, book.context_window(ref).value, book.price(ref).output_per_mtok, "genai_prices" in sys.modules)
        """
    )
    first = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    second = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert first[-1] == "True" and second[-1] == "False"  # the first asked the library, the second did not
    assert first[:-1] == second[:-1]
    assert float(second[0]) > 0 and second[1:3] == SOURCE.split()
