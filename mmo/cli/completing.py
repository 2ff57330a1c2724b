"""Shell-completion callbacks for options and arguments (Typer's ``autocompletion``): the shell
script (``mmo completions SHELL``) calls back into mmo, which offers profile names, provider
names and the chosen profile's model aliases. A callback never fails noisily: any error offers
nothing, because a traceback in the middle of a command line helps no one."""

from __future__ import annotations

from collections.abc import Callable

import typer


def _offer(names: Callable[[], list[str]], incomplete: str) -> list[str]:
    try:
        return [name for name in names() if name.startswith(incomplete)]
    except Exception:  # completion must never print a traceback into the prompt
        return []


def _chosen_profile(ctx: typer.Context) -> str | None:
    while ctx is not None:
        profile = ctx.params.get("profile")
        if isinstance(profile, str):
            return profile
        ctx = ctx.parent  # type: ignore[assignment]
    return None


def complete_profile(incomplete: str) -> list[str]:
    from mmo.app.completion import profile_names
    from mmo.app.settings import AppEnv

    return _offer(lambda: profile_names(AppEnv.from_process()), incomplete)


def complete_provider(ctx: typer.Context, incomplete: str) -> list[str]:
    from mmo.app.completion import provider_names
    from mmo.app.settings import AppEnv

    return _offer(lambda: provider_names(AppEnv.from_process(), _chosen_profile(ctx)), incomplete)


def complete_model(ctx: typer.Context, incomplete: str) -> list[str]:
    from mmo.app.completion import model_aliases
    from mmo.app.settings import AppEnv

    return _offer(lambda: model_aliases(AppEnv.from_process(), _chosen_profile(ctx)), incomplete)
