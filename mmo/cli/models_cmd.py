"""``mmo models``: what the model catalogue knows: prices (USD per 1M tokens) with their source,
context windows, maximum output and capabilities (the ``can`` column: a letter where the model
can, ``-`` where it cannot, ``?`` where nobody knows; ``--json`` gives each fact's source); with
``--profile``, that profile's models and overrides."""

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mmo.cli.completing import complete_provider
from mmo.cli.options import DebugOption, JsonOption, ProfileOption

if TYPE_CHECKING:
    from mmo.app.models import ModelListing


def register(app: typer.Typer) -> None:
    app.command("models")(models)


def models(
    provider: Annotated[str | None, typer.Option("--provider", help="Only this provider (openai, anthropic, gemini, groq, ...).", autocompletion=complete_provider)] = None,
    search: Annotated[str | None, typer.Option("--search", help="Only models whose id contains this text.")] = None,
    profile: ProfileOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Known models with prices (USD per 1M tokens), context windows, maximum output and what
    each can do (images, JSON Schema, tools, logprobs, streaming).

    Examples:

      mmo models --provider anthropic

      mmo models --search gpt-4.1 --json

      mmo models --profile multimodal
    """
    from mmo.cli.errors import guarded

    guarded(debug, lambda: run_models(provider, search, profile, json_out))


def run_models(provider: str | None, search: str | None, profile: str | None, json_out: bool) -> None:
    from mmo.app.models import list_models
    from mmo.app.settings import AppEnv

    listing = list_models(AppEnv.from_process(), provider=provider, search=search, profile=profile)
    if json_out:
        sys.stdout.write(json.dumps([_as_dict(facts) for facts in listing.models], indent=2) + "\n")
        return
    _print_table(listing)


def _print_table(listing: "ModelListing") -> None:
    from rich.table import Table

    from mmo.cli.terminal import SafeConsole

    table = Table(box=None, header_style="bold", pad_edge=False, collapse_padding=True)
    # A model id is what a user copies: at 80 columns it folds onto a second line, never cut.
    table.add_column("model", overflow="fold", ratio=1)
    for column in ("in $/M", "out $/M", "cached", "context", "max out", "can"):
        table.add_column(column, no_wrap=True, justify="right" if column != "can" else "left")
    for facts in listing.models:
        price = facts.price
        table.add_row(
            facts.ref.id,
            _price(price.input_per_mtok if price else None),
            _price(price.output_per_mtok if price else None),
            _price(price.cached_input_per_mtok if price else None),
            _tokens(facts.context_window.value),
            _tokens(facts.max_output.value),
            _can(facts.capabilities),
        )
    console = SafeConsole()
    console.print(table)
    scope = f"; profile {listing.profile!r} overrides applied" if listing.profile else ""
    console.print(f"{len(listing.models)} models; prices from {listing.library} (offline snapshot){scope}", style="dim")
    legend = ", ".join(f"{letter} {words}" for letter, _, words in _CAN_LETTERS)
    console.print(f"can: {legend}; - cannot, ? unknown (--json gives each fact's source)", style="dim")


def _as_dict(facts: Any) -> dict[str, Any]:
    price = facts.price
    return {
        "id": facts.ref.id,
        "provider": facts.ref.provider,
        "model": facts.ref.name,
        "input_per_mtok": price.input_per_mtok if price else None,
        "output_per_mtok": price.output_per_mtok if price else None,
        "cached_input_per_mtok": price.cached_input_per_mtok if price else None,
        "price_source": price.source if price else None,
        "context_window": facts.context_window.value,
        "context_window_source": facts.context_window.source,
        "max_output": facts.max_output.value,
        "max_output_source": facts.max_output.source,
        "local": facts.local,
        "key_env": facts.key_env,
        "capabilities": {name: {"value": flag.value, "source": flag.source} for _, name, _ in _CAN_LETTERS for flag in [facts.capabilities.flag(name)]},
    }


_CAN_LETTERS: tuple[tuple[str, str, str], ...] = (
    ("V", "vision", "images in"),
    ("J", "structured_output", "JSON Schema"),
    ("T", "tools", "tool calls"),
    ("L", "logprobs", "logprobs"),
    ("S", "streaming", "streams"),
)


def _can(capabilities: Any) -> str:
    """``VJT-S``: a letter per capability the model has, ``-`` where it has not, ``?`` unknown."""
    marks = []
    for letter, name, _ in _CAN_LETTERS:
        value = capabilities.flag(name).value
        marks.append(letter if value else "?" if value is None else "-")
    return "".join(marks)


def _price(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _tokens(value: int | None) -> str:
    """``1.05M``, ``200k``, ``8.2k``: compact, so the model ids keep their room (``--json`` is exact)."""
    if value is None:
        return "-"
    if value >= 1_000_000:
        return f"{value / 1_000_000:.3g}M"
    if value >= 1_000:
        return f"{value / 1_000:.3g}k"
    return str(value)
