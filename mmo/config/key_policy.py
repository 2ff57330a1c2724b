"""Where a profile would send the user's keys. A built-in provider pointed at a host that is
neither its own nor a loopback one must name the key it sends there (``key_env:``) or say it
needs none (``key: none``): otherwise the profile is refused, at the line of its ``base_url``
(the rule itself is ``mmo.catalog.key_scope``)."""

from __future__ import annotations

from mmo.catalog.endpoints import BUILTIN_PROVIDERS
from mmo.catalog.key_scope import foreign_key_message, key_goes_elsewhere
from mmo.config.problems import KeyPath
from mmo.config.schema import Profile


def key_policy_problems(profile: Profile) -> list[tuple[KeyPath, str]]:
    """(key path, message) for each provider entry that would send a built-in's key elsewhere."""
    problems: list[tuple[KeyPath, str]] = []
    for name, entry in profile.providers.items():
        builtin = BUILTIN_PROVIDERS.get(name)
        if builtin is not None and key_goes_elsewhere(builtin, entry.base_url, key_env=entry.key_env, key=entry.key):
            problems.append((("providers", name, "base_url"), foreign_key_message(name, builtin, entry.base_url or "")))
    return problems
