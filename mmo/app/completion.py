"""What shell completion offers beyond commands and flags: profile names, provider names and a
profile's model aliases. Called by the completion scripts at every <TAB>, so each answer is cheap
(names from the file system, no validation) and never fails: a broken profile offers nothing."""

from __future__ import annotations

from mmo.app.settings import AppEnv
from mmo.catalog.endpoints import BUILTIN_PROVIDERS


def profile_names(incomplete: str, env: AppEnv | None = None) -> list[str]:
    from mmo.config.search import list_profiles

    env = env or AppEnv.from_process()
    try:
        names = {source.name for source in list_profiles(cwd=env.cwd, paths=env.paths)}
    except Exception:  # a completion must never print a traceback into the user's shell
        return []
    return sorted(name for name in names if name.startswith(incomplete))


def provider_names(incomplete: str) -> list[str]:
    return sorted(name for name in BUILTIN_PROVIDERS if name.startswith(incomplete))


def model_names(profile: str | None, incomplete: str, env: AppEnv | None = None) -> list[str]:
    """The aliases of ``profile`` (or ``MMO_PROFILE``), then its ``provider:model`` ids."""
    from mmo.config.loader import load_profile

    env = env or AppEnv.from_process()
    name = profile or env.environ.get("MMO_PROFILE")
    if name is None:
        return []
    try:
        loaded = load_profile(name, cwd=env.cwd, paths=env.paths).profile
        entries = [loaded.model_entry(alias) for alias in loaded.models]
    except Exception:  # a broken profile offers nothing rather than an error at every <TAB>
        return []
    ids = [entry.model for entry in entries if entry is not None]
    return [name for name in [*loaded.models, *dict.fromkeys(ids)] if name.startswith(incomplete)]
