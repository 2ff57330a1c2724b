"""Run a strategy tree from a profile mapping against scripted fake providers (no HTTP)."""

from __future__ import annotations

import asyncio
from typing import Any, Mapping, Sequence

from mmo.catalog.catalog import Catalog
from mmo.catalog.endpoints import BUILTIN_PROVIDERS
from mmo.config.schema import Profile
from mmo.core.protocols import Provider
from mmo.core.target import RunOptions
from mmo.core.types import Completion, Delta, Request, StreamRestart
from mmo.runtime.context import execute
from mmo.runtime.guard import Guard
from mmo.runtime.keys import KeyStore
from mmo.runtime.pool import ProviderPool
from mmo.runtime.services import Services, Warnings
from mmo.runtime.tokens import TokenEstimator
from mmo.strategies.build import build_tree


class Recorder:
    """A stream sink that keeps every event."""

    def __init__(self) -> None:
        self.events: list[Delta | StreamRestart] = []

    def __call__(self, event: Delta | StreamRestart) -> None:
        self.events.append(event)

    @property
    def text(self) -> str:
        return "".join(e.text for e in self.events if isinstance(e, Delta))


def services_for(providers: Mapping[str, Provider], environ: Mapping[str, str] | None = None) -> Services:
    warnings = Warnings()
    env = dict(environ or {})
    pool = ProviderPool(dict(BUILTIN_PROVIDERS), KeyStore(env), env, extra=providers, on_warning=warnings.add)
    return Services(providers=pool, catalog=Catalog(), tokens=TokenEstimator(), warnings=warnings)


def run_profile(
    profile: Mapping[str, Any],
    providers: Mapping[str, Provider],
    prompt: str = "What is the capital of France?",
    *,
    options: RunOptions | None = None,
    sink: Recorder | None = None,
    spans: list | None = None,
    guards: Sequence[Guard] = (),
    request: Request | None = None,
) -> Completion:
    """``request`` (a whole conversation, say) wins over ``prompt``."""
    tree = build_tree(Profile.model_validate({"name": "test", **profile}))
    services = services_for(providers)
    services.guards = tuple(guards)
    request = request if request is not None else Request.from_prompt(prompt)
    on_span = spans.append if spans is not None else None
    return asyncio.run(execute(tree, request, services, options or RunOptions(), sink, on_span=on_span))
