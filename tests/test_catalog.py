"""The model catalogue: prices (library, profile, local) with their source, context windows and
maximum output with theirs, parameter rules, and lazy look-ups."""

from __future__ import annotations

import genai_prices
import pytest

from mmo.catalog.catalog import Catalog, ModelOverride, Sourced
from mmo.catalog.prices import ModelPrice, PriceOverride
from mmo.core.types import Cost, ModelRef, Usage

LIBRARY = f"genai-prices {genai_prices.__version__}"
MILLION = Usage(input_tokens=1_000_000, output_tokens=1_000_000)


def ref(text: str) -> ModelRef:
    return ModelRef.parse(text)


def priced(prices: dict[str, PriceOverride] | None = None, local: frozenset[str] = frozenset()) -> Catalog:
    """A catalogue with a profile's prices and local models."""
    overrides = {model: ModelOverride(price=price) for model, price in (prices or {}).items()}
    overrides.update({model: ModelOverride(local=True) for model in local})
    return Catalog(overrides=overrides)


def test_gpt_4o_costs_what_the_library_says() -> None:
    book = Catalog()
    assert book.cost(ref("openai:gpt-4o"), MILLION) == Cost(12.5, LIBRARY)
    price = book.price(ref("openai:gpt-4o"))
    assert (price.input_per_mtok, price.output_per_mtok, price.cached_input_per_mtok) == (2.5, 10.0, 1.25)
    assert book.context_window(ref("openai:gpt-4o")) == Sourced(128_000, "mmo table")
    assert price.source == LIBRARY


def test_cached_input_is_billed_at_the_cached_price() -> None:
    # 600 uncached at $2.50, 400 cached at $1.25, 100 out at $10 per million.
    cost = Catalog().cost(ref("openai:gpt-4o"), Usage(input_tokens=1000, output_tokens=100, cached_tokens=400))
    assert cost.usd == pytest.approx(0.0015 + 0.0005 + 0.001)


def test_claude_sonnet_4_5_and_gemini_2_5_flash() -> None:
    book = Catalog()
    sonnet = book.price(ref("anthropic:claude-sonnet-4-5"))
    assert (sonnet.input_per_mtok, sonnet.output_per_mtok, sonnet.cached_input_per_mtok) == (3.0, 15.0, 0.3)
    assert book.cost(ref("anthropic:claude-sonnet-4-5"), Usage(1000, 100)).usd == pytest.approx(0.0045)
    # A dated snapshot name resolves to the same model.
    assert book.cost(ref("anthropic:claude-sonnet-4-5-20250929"), Usage(1000, 100)).usd == pytest.approx(0.0045)
    flash = book.price(ref("gemini:gemini-2.5-flash"))
    assert (flash.input_per_mtok, flash.output_per_mtok) == (0.3, 2.5)
    assert book.context_window(ref("gemini:gemini-2.5-flash")) == Sourced(1_048_576, LIBRARY)  # not in mmo's table
    assert book.cost(ref("gemini:gemini-2.5-flash"), Usage(10_000, 1_000)) == Cost(pytest.approx(0.0055), LIBRARY)


def test_unknown_models_and_providers_cost_unknown_never_zero() -> None:
    book = Catalog()
    for text in ("openai:no-such-model-xyz", "my-proxy:gpt-4o", "ollama:llama3.1:8b"):
        cost = book.cost(ref(text), Usage(100, 10))
        assert cost == Cost(None, "unknown")
        assert not cost.known
        assert book.price(ref(text)) is None
        assert book.worst_case_usd(ref(text), 100, 10) is None


def test_local_models_cost_a_known_zero() -> None:
    book = priced(local=frozenset({"ollama:llama3.1:8b"}))
    assert book.cost(ref("ollama:llama3.1:8b"), MILLION) == Cost(0.0, "local")
    assert book.price(ref("ollama:llama3.1:8b")) == ModelPrice(0.0, 0.0, 0.0, "local")


def test_a_zero_price_in_the_profile_is_a_known_zero() -> None:
    book = priced({"ollama:qwen3:4b": PriceOverride(0.0, 0.0)})
    assert book.cost(ref("ollama:qwen3:4b"), Usage(500, 50, 100)) == Cost(0.0, "profile")


def test_profile_prices_win_over_the_library() -> None:
    book = priced({"openai:gpt-4o": PriceOverride(1.0, 4.0, 0.5)})
    assert book.cost(ref("openai:gpt-4o"), Usage(1_000_000, 1_000_000, 200_000)) == Cost(pytest.approx(0.8 + 0.1 + 4.0), "profile")
    price = book.price(ref("openai:gpt-4o"))
    assert (price.input_per_mtok, price.output_per_mtok, price.cached_input_per_mtok, price.source) == (1.0, 4.0, 0.5, "profile")
    assert book.worst_case_usd(ref("openai:gpt-4o"), 1_000_000, 1_000_000) == pytest.approx(5.0)


def test_a_profile_input_price_without_a_cached_one_bills_cached_like_input() -> None:
    book = priced({"vendor:model": PriceOverride(2.0, 8.0)})
    assert book.cost(ref("vendor:model"), Usage(1_000_000, 0, 500_000)).usd == pytest.approx(2.0)


def test_a_price_the_profile_leaves_out_comes_from_the_library() -> None:
    book = priced({"openai:gpt-4o": PriceOverride(input_per_mtok=1.0)})
    cost = book.cost(ref("openai:gpt-4o"), MILLION)
    assert cost == Cost(pytest.approx(11.0), f"profile + {LIBRARY}")


def test_a_partial_profile_price_for_an_unknown_model_is_unknown_when_it_matters() -> None:
    book = priced({"vendor:model": PriceOverride(input_per_mtok=1.0)})
    assert book.cost(ref("vendor:model"), Usage(1000, 10)) == Cost(None, "unknown")
    assert book.cost(ref("vendor:model"), Usage(1000, 0)) == Cost(pytest.approx(0.001), "profile")


def test_prices_are_looked_up_once_per_model() -> None:
    book = Catalog()
    first = book.cost(ref("openai:gpt-4o"), Usage(1000, 100))
    second = book.cost(ref("openai:gpt-4o"), Usage(1000, 100))
    assert first == second
    assert book.cost(ref("openai:gpt-4o"), Usage(2000, 200)).usd == pytest.approx(2 * first.usd)


def test_library_models_cover_the_catalogue_providers() -> None:
    book = Catalog()
    everything = book.library_models()
    providers = {m.provider for m in everything}
    assert {"openai", "anthropic", "gemini", "openrouter", "groq", "together", "deepseek", "mistral"} <= providers
    assert "ollama" not in providers
    assert book.library_models("ollama") == []
    gemini = {m.model: m for m in book.library_models("gemini")}
    flash = gemini["gemini-2.5-flash"]
    assert (flash.id, flash.price.input_per_mtok, flash.price.output_per_mtok, flash.context_window) == ("gemini:gemini-2.5-flash", 0.3, 2.5, 1_048_576)
    # Google's price list also holds Claude on Vertex, which the Gemini API does not serve.
    assert not [m for m in gemini if m.startswith("claude")]
    openai = book.library_models("openai")
    assert all(m.provider == "openai" for m in openai)
    assert [m.model for m in openai] == sorted(m.model for m in openai)


def test_local_and_complete_profile_prices_never_import_the_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from mmo.core.types import ModelRef, Usage\n"
        "from mmo.catalog.catalog import Catalog, ModelOverride\n"
        "from mmo.catalog.prices import PriceOverride\n"
        "book = Catalog(overrides={'ollama:qwen3:4b': ModelOverride(price=PriceOverride(0.0, 0.0)), 'ollama:llama3.1:8b': ModelOverride(local=True)})\n"
        "assert book.cost(ModelRef.parse('ollama:qwen3:4b'), Usage(9, 9)).usd == 0.0\n"
        "assert book.cost(ModelRef.parse('ollama:llama3.1:8b'), Usage(9, 9)).usd == 0.0\n"
        "assert book.context_window(ModelRef.parse('ollama:llama3.1:8b')).value is None\n"
        "assert book.context_window(ModelRef.parse('openai:gpt-4o')).value == 128000  # mmo's table, no library\n"
        "print('genai_prices' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_profile_context_window_and_max_output_win_with_their_source() -> None:
    book = Catalog(overrides={"openai:gpt-4o": ModelOverride(context_window=32_000, max_output=2_000)})
    facts = book.facts(ref("openai:gpt-4o"))
    assert facts.context_window == Sourced(32_000, "profile")
    assert facts.max_output == Sourced(2_000, "profile")
    assert facts.price is not None and facts.price.source == LIBRARY
    assert facts.key_env == "OPENAI_API_KEY" and facts.endpoint is not None and facts.endpoint.kind == "openai"
    assert Catalog().context_window(ref("openai:gpt-4o")) == Sourced(128_000, "mmo table")


def test_facts_carry_the_family_parameter_rules() -> None:
    rules = Catalog().facts(ref("openai:gpt-5-mini")).rules
    assert rules.sampling_params is False and rules.max_tokens_field == "max_completion_tokens"
    assert Catalog().facts(ref("anthropic:claude-sonnet-4-5")).rules.seed is False


def test_known_models_lay_a_profiles_overrides_over_the_library_listing() -> None:
    book = Catalog(overrides={"openai:gpt-4o": ModelOverride(context_window=64_000), "vendor:private-model": ModelOverride(local=True)})
    listed = {facts.ref.id: facts for facts in book.known_models()}
    assert listed["openai:gpt-4o"].context_window == Sourced(64_000, "profile")
    assert listed["vendor:private-model"].price == ModelPrice(0.0, 0.0, 0.0, "local")
    assert listed["gemini:gemini-2.5-flash"].context_window.value == 1_048_576
