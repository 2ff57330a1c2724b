"""``mmo models``: what the price library knows, with our capability table's context windows."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import Optional


def run_models(provider: Optional[str], search: Optional[str], json_out: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    from mmo.core.errors import UnknownName
    from mmo.providers.catalogue import BUILTIN_PROVIDERS
    from mmo.runtime.prices import PriceBook, library_source

    if provider is not None and provider not in BUILTIN_PROVIDERS:
        raise UnknownName("provider", provider, list(BUILTIN_PROVIDERS))
    models = PriceBook().known_models(provider)
    if search:
        models = [m for m in models if search.lower() in m.id.lower()]
    if json_out:
        sys.stdout.write(json.dumps([{"id": m.id, **asdict(m)} for m in models], indent=2) + "\n")
        return
    table = Table("model", "input $/M", "output $/M", "cached $/M", "context", box=None, header_style="bold")
    for m in models:
        table.add_row(m.id, _price(m.input_per_mtok), _price(m.output_per_mtok), _price(m.cached_input_per_mtok), _window(m.context_window))
    console = Console()
    console.print(table)
    console.print(f"{len(models)} models; prices from {library_source()} (offline snapshot)", style="dim")


def _price(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:g}"


def _window(value: Optional[int]) -> str:
    return "-" if value is None else f"{value:,}"
