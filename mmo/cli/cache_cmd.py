"""``mmo cache``: the response cache's size and contents."""

import typer

app = typer.Typer(help="Inspect or clear the response cache.\n\nExamples:\n\n  mmo cache stats --json\n\n  mmo cache clear", no_args_is_help=True)


@app.command()
def stats(json_out: bool = typer.Option(False, "--json", help="Print JSON: directory, entries, size in bytes, hits, misses.")) -> None:
    """Entries, size on disk, hits and misses."""
    from mmo.cli.errors import guarded

    guarded(False, lambda: _stats(json_out))


def _stats(json_out: bool) -> None:
    import json
    import sys

    from rich.console import Console
    from rich.table import Table

    from mmo.app.cache import cache_stats
    from mmo.app.settings import AppEnv

    info = cache_stats(AppEnv.from_process(), on_warning=lambda message: typer.echo(f"warning: {message}", err=True))
    if json_out:
        shown = {"directory": str(info.directory), "entries": info.entries, "size_bytes": info.size_bytes, "hits": info.hits, "misses": info.misses}
        sys.stdout.write(json.dumps(shown, indent=2) + "\n")
        return
    table = Table(show_header=False, box=None)
    table.add_row("directory", str(info.directory))
    table.add_row("entries", str(info.entries))
    table.add_row("size", f"{info.size_bytes / 1024:.1f} KiB")
    table.add_row("hits / misses", f"{info.hits} / {info.misses}")
    Console().print(table)


@app.command()
def clear() -> None:
    """Delete every cached response (a damaged cache file included)."""
    from mmo.cli.errors import guarded

    guarded(False, _clear)


def _clear() -> None:
    from mmo.app.cache import clear_cache
    from mmo.app.settings import AppEnv

    cleared = clear_cache(AppEnv.from_process())
    damaged = f" and {cleared.damaged_files} damaged cache file{'s' if cleared.damaged_files != 1 else ''}" if cleared.damaged_files else ""
    typer.echo(f"removed {cleared.entries} cached responses{damaged}")


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="cache")
