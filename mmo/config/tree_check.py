"""Building a valid profile's strategy tree as a run does (no keys, no network), so what only the
build can tell (an ensemble's ``combine: judge`` without a ``judge:``, ``min_votes`` on an
aggregate, a pipeline placeholder naming a later step) is found by ``mmo profiles validate`` and
at load time, located at the line of the node that refused to build."""

from __future__ import annotations

from typing import Any, Mapping

from mmo.config.problems import KeyPath
from mmo.config.schema import Profile
from mmo.core.errors import ConfigError
from mmo.spec.base import Spec
from mmo.strategies.build import TreeBuilder


def build_problems(profile: Profile) -> list[tuple[KeyPath, str]]:
    """(key path of the failing node, message), or nothing when the tree builds."""
    builder = TreeBuilder(profile)
    try:
        builder.build()
    except ConfigError as error:
        return [(_failing_path(builder.building, _spec_paths(profile.strategy, ("strategy",))), error.message)]
    return []


def _failing_path(building: list[Any], paths: Mapping[int, KeyPath]) -> KeyPath:
    # The innermost node being built that the profile holds (a kind may build helper specs).
    for spec in reversed(building):
        path = paths.get(id(spec))
        if path is not None:
            return path
    return ("strategy",)


def _spec_paths(value: Any, path: KeyPath) -> dict[int, KeyPath]:
    """Each spec object under ``value`` by identity -> its key path in the profile."""
    found: dict[int, KeyPath] = {}
    if isinstance(value, Spec):
        found[id(value)] = path
        for name in type(value).model_fields:
            found.update(_spec_paths(getattr(value, name), (*path, name)))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            found.update(_spec_paths(item, (*path, key)))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found.update(_spec_paths(item, (*path, index)))
    return found
