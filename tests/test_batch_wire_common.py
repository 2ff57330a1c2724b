"""The three batch endpoints against the loopback fake, behaviour every vendor shares: a job's
answers are the Completions a live call gives, matched by custom_id whatever order they come
back in; partial failures are the live API's errors; expired and cancelled requests are the
transient batch errors; a refused key is ``AuthFailed``; ``batch_endpoint`` finds an endpoint
only for providers that have a batch API."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import httpx
import pytest

from mmo.catalog.endpoints import ProviderSettings
from mmo.core.errors import AuthFailed, BadRequest, RateLimited
from mmo.core.types import Request
from mmo.providers.batch_api import BatchEndpoint, BatchItem, BatchRequestCancelled, BatchRequestExpired, batch_endpoint
from mmo.providers.fake import FakeProvider
from mmo.providers.http import make_client
from mmo.providers.openai import OpenAIProvider
from tests.support.fake_batch import FakeBatchServer, JobScript
from tests.support.fake_batch.harness import KINDS, MODELS, endpoint_for, finish, items, provider_for, run_job

T = TypeVar("T")


@pytest.fixture(scope="module")
def server() -> Iterator[FakeBatchServer]:
    with FakeBatchServer(api_key="sk-fake-key-0123") as running:
        yield running
    assert running.handler_errors() == []


def on_endpoint(kind: str, server: FakeBatchServer, work: Callable[[BatchEndpoint], Awaitable[T]], **options: object) -> T:
    async def run() -> T:
        async with make_client() as client:
            return await work(endpoint_for(kind, server, client, **options))

    return asyncio.run(run())


@pytest.mark.parametrize("kind", KINDS)
def test_results_are_the_live_completions_matched_by_custom_id(kind: str, server: FakeBatchServer) -> None:
    batch = items(12)
    server.script_next(JobScript(pending_polls=2, shuffle=True))
    finished = on_endpoint(kind, server, lambda e: run_job(e, batch, MODELS[kind]))

    assert [p.state for p in finished.polls] == ["pending", "pending", "completed"]
    assert (finished.job.total, finished.job.succeeded, finished.job.failed) == (12, 12, 0)
    order = [r.custom_id for r in finished.results]
    assert sorted(order) == sorted(i.custom_id for i in batch) and order != [i.custom_id for i in batch]

    async def live() -> list[str]:
        async with make_client() as client:
            provider = provider_for(kind, server, client)
            return [(await provider.complete(i.request, MODELS[kind])).text for i in batch]

    by_id = finished.by_id()
    for item, live_text in zip(batch, asyncio.run(live()), strict=True):
        completion = by_id[item.custom_id].completion
        assert completion is not None and by_id[item.custom_id].error is None
        assert completion.text == live_text == f"echo: {item.request.messages[-1].content}"
        assert completion.model_id == f"{kind}-fake:{MODELS[kind]}"
        assert completion.usage.input_tokens > 0 and completion.usage.output_tokens > 0
        assert completion.finish_reason == "stop"


@pytest.mark.parametrize("kind", KINDS)
def test_a_partial_failure_is_the_live_apis_error(kind: str, server: FakeBatchServer) -> None:
    server.script_next(JobScript(fail_ids=frozenset({"r-1"}), fail_fraction=0.25, error_kind="rate_limit"))
    finished = on_endpoint(kind, server, lambda e: run_job(e, items(8), MODELS[kind]))

    failed = {r.custom_id for r in finished.results if r.error is not None}
    assert failed == {"r-1", "r-3", "r-7"}  # r-1 scripted; a quarter spread evenly over the input: r-3, r-7
    assert all(isinstance(r.error, RateLimited) and r.completion is None for r in finished.results if r.error is not None)
    assert (finished.job.succeeded, finished.job.failed) == (8 - len(failed), len(failed))
    assert len(finished.results) == 8


@pytest.mark.parametrize("kind", KINDS)
def test_a_bad_request_stays_permanent(kind: str, server: FakeBatchServer) -> None:
    server.script_next(JobScript(fail_ids=frozenset({"r-2"}), error_kind="bad_request"))
    finished = on_endpoint(kind, server, lambda e: run_job(e, items(3), MODELS[kind]))
    error = finished.by_id()["r-2"].error
    assert isinstance(error, BadRequest) and not error.retryable


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_an_expired_job_keeps_what_finished_and_expires_the_rest(kind: str, server: FakeBatchServer) -> None:
    server.script_next(JobScript(expire_after=3, shuffle=False))
    finished = on_endpoint(kind, server, lambda e: run_job(e, items(5), MODELS[kind]))

    assert finished.job.state == "expired"
    by_id = finished.by_id()
    assert [by_id[f"r-{i}"].completion is not None for i in range(3)] == [True] * 3
    expired = [by_id[f"r-{i}"].error for i in (3, 4)]
    assert all(isinstance(e, BatchRequestExpired) and e.retryable for e in expired)


@pytest.mark.parametrize("kind", KINDS)
def test_a_cancelled_job_ends_cancelled(kind: str, server: FakeBatchServer) -> None:
    server.script_next(JobScript(pending_polls=5, cancelling_polls=1, done_before_cancel=2, shuffle=False))

    async def work(endpoint: BatchEndpoint):  # type: ignore[no-untyped-def]
        job = await endpoint.submit(items(4), MODELS[kind], label="mmo-cancel-1")
        cancelling = await endpoint.cancel(job.job_id)
        return cancelling, await finish(endpoint, job, MODELS[kind])

    cancelling, finished = on_endpoint(kind, server, work)
    assert cancelling.state in ("cancelling", "pending")  # Gemini has no cancelling state
    assert finished.job.state == "cancelled"
    by_id = finished.by_id()
    assert by_id["r-0"].completion is not None and by_id["r-1"].completion is not None
    if kind != "gemini":  # Gemini reports nothing for the requests it did not run
        assert all(isinstance(by_id[f"r-{i}"].error, BatchRequestCancelled) for i in (2, 3))
    else:
        assert set(by_id) == {"r-0", "r-1"}


@pytest.mark.parametrize("kind", KINDS)
def test_a_refused_key_is_auth_failed(kind: str, server: FakeBatchServer) -> None:
    before = server.route_counts().get(f"{kind}.auth", 0)
    with pytest.raises(AuthFailed):
        on_endpoint(kind, server, lambda e: e.submit(items(1), MODELS[kind], label="mmo-x-1"), key="sk-wrong-key")
    assert server.route_counts()[f"{kind}.auth"] == before + 1


@pytest.mark.parametrize("kind", KINDS)
def test_the_key_never_reaches_a_job_or_the_endpoints_repr(kind: str, server: FakeBatchServer) -> None:
    async def work(endpoint: BatchEndpoint) -> tuple[str, str]:
        job = await endpoint.submit(items(1), MODELS[kind], label="mmo-key-1")
        return repr(job), repr(endpoint)

    shown = on_endpoint(kind, server, work)
    assert all("sk-fake-key-0123" not in text for text in shown)


@pytest.mark.parametrize("kind", KINDS)
def test_custom_ids_are_checked_before_anything_is_sent(kind: str, server: FakeBatchServer) -> None:
    request = Request.from_prompt("x")
    for bad in ([BatchItem("a" * 65, request)], [BatchItem("same", request), BatchItem("same", request)], [BatchItem("a b", request)], []):
        with pytest.raises(ValueError):
            on_endpoint(kind, server, lambda e, bad=bad: e.submit(bad, MODELS[kind], label="mmo-bad-1"))


@pytest.mark.parametrize("kind", KINDS)
def test_request_bytes_sum_close_to_the_upload(kind: str, server: FakeBatchServer) -> None:
    async def work(endpoint: BatchEndpoint) -> int:
        return sum(endpoint.request_bytes(item, MODELS[kind]) for item in items(50))

    counted = on_endpoint(kind, server, work)
    assert 50 * 40 < counted < 50 * 400


def test_only_providers_with_a_batch_api_get_an_endpoint() -> None:
    async def run() -> list[object]:
        async with make_client() as client:
            def openai_like(name: str) -> OpenAIProvider:
                return OpenAIProvider(ProviderSettings(name, "openai", "http://127.0.0.1:9/v1", needs_key=False), None, client)

            return [batch_endpoint(openai_like("ollama")), batch_endpoint(openai_like("openrouter")), batch_endpoint(openai_like("groq")),
                    batch_endpoint(FakeProvider()), batch_endpoint(object())]

    ollama, openrouter, groq, fake, other = asyncio.run(run())
    assert ollama is None and openrouter is None and fake is None and other is None
    assert groq is not None and groq.kind == "openai"  # type: ignore[attr-defined]


def test_endpoints_share_the_providers_client(server: FakeBatchServer) -> None:
    """One client for live calls and batch jobs: the endpoint opens no connection pool of its own."""
    async def run() -> int:
        transport_calls = 0

        class Counting(httpx.AsyncHTTPTransport):
            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                nonlocal transport_calls
                transport_calls += 1
                return await super().handle_async_request(request)

        async with httpx.AsyncClient(transport=Counting()) as client:
            endpoint = endpoint_for("anthropic", server, client)
            await run_job(endpoint, items(2), MODELS["anthropic"])
        return transport_calls

    assert asyncio.run(run()) >= 3  # create, polls, results
