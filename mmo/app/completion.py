"""What shell completion offers beyond commands and flags: profile names, provider names and a
profile's model aliases.

Completion runs on every Tab press, so it reads profile files as plain YAML (no validation, no
price data) and never raises: a broken or missing profile offers what can still be read, or
nothing, rather than a traceback in the user's prompt.
"""

from __future__ import annotations

from typing import Any

from mmo.app.settings import AppEnv
from mmo.catalog.endpoints import BUILTIN_PROVIDERS


def profile_names(env: AppEnv) -> list[str]:
    """Every visible profile's name (project, user and built-in ones), once each."""
    from mmo.config.search import list_profiles

    return sorted({source.name for source in list_profiles(cwd=env.cwd, paths=env.paths)})


def model_aliases(env: AppEnv, profile: str | None) -> list[str]:
    """The model aliases the profile (else ``MMO_PROFILE``, else ``default``) declares."""
    return sorted(_section(env, profile, "models"))


def provider_names(env: AppEnv, profile: str | None) -> list[str]:
    """Built-in providers and those the profile (else the default one) declares."""
    return sorted(set(BUILTIN_PROVIDERS) | set(_section(env, profile, "providers")))


def _section(env: AppEnv, profile: str | None, key: str) -> dict[str, Any]:
    import yaml

    from mmo.config.search import find_profile
    from mmo.core.errors import ConfigError

    name = profile or env.environ.get("MMO_PROFILE") or "default"
    try:
        data = yaml.safe_load(find_profile(name, cwd=env.cwd, paths=env.paths).read_text())
    except (ConfigError, yaml.YAMLError):
        return {}
    section = data.get(key) if isinstance(data, dict) else None
    return {str(name): value for name, value in section.items()} if isinstance(section, dict) else {}
