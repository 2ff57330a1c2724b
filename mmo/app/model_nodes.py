"""One model instead of the profile's strategy, by name: what ``-m`` runs, and what a batch row
that names its own ``model`` runs.

A name is a profile alias or ``provider:model``, resolved exactly as ``-m`` resolves it (the
profile's strategy replaced by that one model, so the alias's price, parameters, limits and
``local:`` apply). Its node is built once per name; a name that is unknown, malformed or whose
provider nobody declared is a ``ConfigError`` saying why, before anything is spent.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping

from mmo.app.portfolio import provider_settings
from mmo.config.schema import Profile
from mmo.core.errors import UnknownName
from mmo.core.protocols import Node, Provider, leaf_targets
from mmo.strategies.build import build_tree, describe


class SingleModels:
    """Nodes of one model each, for one profile and the providers a run may use."""

    def __init__(self, profile: Profile, provider_names: Iterable[str]) -> None:
        self.profile = profile
        self.provider_names = list(dict.fromkeys(provider_names))
        self._nodes: dict[str, tuple[Node, str]] = {}

    def node(self, name: str) -> Node:
        return self._built(name)[0]

    def strategy(self, name: str) -> str:
        """The one-line description of the node (as ``describe`` gives it)."""
        return self._built(name)[1]

    def check(self, name: str) -> None:
        """Raises ``ConfigError`` when ``name`` cannot be run."""
        self._built(name)

    def _built(self, name: str) -> tuple[Node, str]:
        found = self._nodes.get(name)
        if found is None:
            root = build_tree(self.profile.model_copy(update={"strategy": name}))
            for target in leaf_targets(root):
                if target.ref.provider not in self.provider_names:
                    raise UnknownName("provider", target.ref.provider, self.provider_names)
            found = self._nodes[name] = (root, describe(root))
        return found


def model_check(profile: Profile, providers: Mapping[str, Provider] | None = None) -> Callable[[str], None]:
    """What checks a name before a run opens its engine (a batch row's ``model``, for
    ``--strict`` too): the profile's providers and ``providers`` (ready-made ones) are known."""
    return SingleModels(profile, [*provider_settings(profile), *(providers or {})]).check
