"""Run strategy trees with guards around every model call: scripted fake providers, one session's
services shared across runs, an injectable clock, and tiny test strategies for runs that make
several calls."""

from __future__ import annotations

import asyncio
from typing import Any, Mapping, Sequence

from mmo.app.portfolio import catalog_for, provider_settings
from mmo.config.schema import Profile
from mmo.core.protocols import Node, Provider, RunContext
from mmo.core.target import RunOptions
from mmo.core.types import Completion, Params, Request
from mmo.runtime.context import execute
from mmo.runtime.guard import Guard
from mmo.runtime.services import Services
from mmo.strategies.build import TreeBuilder
from tests.support.strategy_harness import services_for


class FakeClock:
    """Monotonic time that only moves when a test (or an injected sleep) moves it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def profile_of(mapping: Mapping[str, Any]) -> Profile:
    return Profile.model_validate({"name": "test", **mapping})


def session_services(profile: Profile, providers: Mapping[str, Provider], guards: Sequence[Guard]) -> Services:
    services = services_for(providers)
    services.catalog = catalog_for(profile, provider_settings(profile))
    services.guards = tuple(guards)
    return services


def build(profile: Profile, spec: Any = None) -> Node:
    """The tree for ``spec`` (a node as a profile would write it; default: the profile's strategy)."""
    if spec is not None:
        from pydantic import TypeAdapter

        from mmo.config.schema import NodeSpec

        spec = TypeAdapter(NodeSpec).validate_python(spec)
    return TreeBuilder(profile).build(spec)


async def run_once(
    root: Node,
    services: Services,
    prompt: str = "What is the capital of France?",
    *,
    max_tokens: int | None = None,
    options: RunOptions | None = None,
    spans: list | None = None,
    sink: Any = None,
) -> Completion:
    request = Request.from_prompt(prompt, params=Params(max_tokens=max_tokens))
    on_span = spans.append if spans is not None else None
    return await execute(root, request, services, options or RunOptions(read_cache=False, write_cache=False), sink, on_span=on_span)


def run_sync(root: Node, services: Services, prompt: str = "What is the capital of France?", **kw: Any) -> Completion:
    return asyncio.run(run_once(root, services, prompt, **kw))


class Sequence2:
    """A test strategy: run each child in turn, answer with the last one (several calls per run)."""

    kind = "sequence"
    label = "sequence"

    def __init__(self, *nodes: Node) -> None:
        self.nodes = nodes

    def children(self) -> Sequence[Node]:
        return self.nodes

    async def run(self, request: Request, ctx: RunContext) -> Completion:
        result: Completion | None = None
        for node in self.nodes:
            result = await ctx.call(node, request, stream=False)
        assert result is not None
        return result


class Together:
    """A test strategy: run every child at once (as an ensemble would); the first child answers."""

    kind = "together"
    label = "together"

    def __init__(self, *nodes: Node) -> None:
        self.nodes = nodes

    def children(self) -> Sequence[Node]:
        return self.nodes

    async def run(self, request: Request, ctx: RunContext) -> Completion:
        results = await asyncio.gather(*(ctx.call(node, request, stream=False) for node in self.nodes), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return results[0]  # type: ignore[return-value]
