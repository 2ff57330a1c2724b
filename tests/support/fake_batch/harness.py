"""Driving a real batch endpoint against the fake: a configured provider of each kind pointed at
a ``FakeBatchServer`` (``provider_for``), its endpoint through ``batch_endpoint`` as the runtime
gets it, and a whole job run to its end (``run_job``: submit, poll a bounded number of times,
read every result)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from mmo.catalog.endpoints import ProviderSettings
from mmo.core.transport_limits import DEFAULT_TRANSPORT_LIMITS, TransportLimits
from mmo.core.types import Request
from mmo.providers.anthropic import AnthropicProvider
from mmo.providers.batch_api import BatchEndpoint, BatchItem, ItemResult, RemoteJob, batch_endpoint
from mmo.providers.gemini import GeminiProvider
from mmo.providers.openai import OpenAIProvider
from mmo.providers.wire import WireProvider
from tests.support.fake_batch.server import FakeBatchServer

KINDS = ("openai", "anthropic", "gemini")
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-2.5-flash"}
MAX_POLLS = 50


def provider_for(kind: str, server: FakeBatchServer, client: httpx.AsyncClient, *, key: str | None = "sk-fake-key-0123",
                 limits: TransportLimits = DEFAULT_TRANSPORT_LIMITS) -> WireProvider:
    base_url = {"openai": server.openai_base_url, "anthropic": server.anthropic_base_url, "gemini": server.gemini_base_url}[kind]
    settings = ProviderSettings(f"{kind}-fake", kind, base_url, transport=limits)
    adapter = {"openai": OpenAIProvider, "anthropic": AnthropicProvider, "gemini": GeminiProvider}[kind]
    provider: WireProvider = adapter(settings, key, client)
    return provider


def endpoint_for(kind: str, server: FakeBatchServer, client: httpx.AsyncClient, **options: object) -> BatchEndpoint:
    endpoint = batch_endpoint(provider_for(kind, server, client, **options))  # type: ignore[arg-type]
    assert endpoint is not None
    return endpoint


def items(count: int, prefix: str = "r") -> list[BatchItem]:
    return [BatchItem(f"{prefix}-{i}", Request.from_prompt(f"row {i}")) for i in range(count)]


@dataclass(frozen=True)
class Finished:
    job: RemoteJob
    polls: tuple[RemoteJob, ...]
    results: tuple[ItemResult, ...]

    def by_id(self) -> dict[str, ItemResult]:
        return {result.custom_id: result for result in self.results}


async def finish(endpoint: BatchEndpoint, job: RemoteJob, model: str) -> Finished:
    """Poll ``job`` until it ends (at most ``MAX_POLLS`` times), then read its results."""
    polls = []
    for _ in range(MAX_POLLS):
        job = await endpoint.status(job.job_id)
        polls.append(job)
        if job.ended:
            break
    assert job.ended, f"job still {job.raw_state} after {MAX_POLLS} polls"
    results = [result async for result in endpoint.results(job.job_id, model)]
    return Finished(job, tuple(polls), tuple(results))


async def run_job(endpoint: BatchEndpoint, batch: Sequence[BatchItem], model: str, label: str = "mmo-run-1") -> Finished:
    return await finish(endpoint, await endpoint.submit(batch, model, label=label), model)
