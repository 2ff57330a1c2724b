"""Run one request through the one run API (``open_engine`` + ``Engine.run``), as ``mmo ask``
does but without logging it, with the cache off and optional ready-made providers."""

from __future__ import annotations

import asyncio
from typing import Mapping

from mmo.app.engine import open_engine
from mmo.app.profile_choice import ResolvedProfile
from mmo.app.settings import AppEnv, ProfileChoice, RunSettings
from mmo.core.protocols import Provider
from mmo.core.types import Completion, Request


async def run_request(
    request: Request,
    env: AppEnv,
    *,
    profile: str | None = None,
    resolved: ResolvedProfile | None = None,
    providers: Mapping[str, Provider] | None = None,
    linger_s: float = 0.0,
) -> Completion:
    """The answer, or the run's error raised (as ``execute`` would). ``linger_s`` keeps the engine
    (and its HTTP client) open that long after the answer."""
    settings = RunSettings(choice=ProfileChoice(profile), read_cache=False, write_cache=False)
    async with open_engine(settings, env, resolved=resolved, providers=providers) as engine:
        outcome = await engine.run(request)
        if linger_s:
            await asyncio.sleep(linger_s)
    if outcome.error is not None:
        raise outcome.error
    assert outcome.completion is not None
    return outcome.completion


def run_request_sync(request: Request, env: AppEnv, **kw: object) -> Completion:
    return asyncio.run(run_request(request, env, **kw))  # type: ignore[arg-type]
