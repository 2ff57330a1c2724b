"""Anthropic's batch endpoint against the loopback fake: params are the live body without
``stream``; counts are unknown until the job ends; how an ``ended`` job ended is read from it
(cancel asked: cancelled; expired requests: expired); results come as CRLF JSONL without a
content type; a refused create is the live error; ``find`` has nothing to match."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from mmo.core.errors import BadRequest
from mmo.core.types import Params, Request
from mmo.providers.anthropic import build_body
from mmo.providers.batch_api import BatchEndpoint, BatchItem, BatchRequestExpired
from mmo.providers.http import make_client
from tests.support.fake_batch import FakeBatchServer, JobScript
from tests.support.fake_batch.harness import MODELS, endpoint_for, items, run_job

MODEL = MODELS["anthropic"]


@pytest.fixture
def server() -> Iterator[FakeBatchServer]:
    with FakeBatchServer(api_key="sk-ant-fake-0123") as running:
        yield running
    assert running.handler_errors() == []


def run(server: FakeBatchServer, work):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        async with make_client() as client:
            return await work(endpoint_for("anthropic", server, client, key="sk-ant-fake-0123"))

    return asyncio.run(go())


def test_params_are_the_live_body_without_stream(server: FakeBatchServer) -> None:
    request = Request.from_prompt("hello", system="be brief", params=Params(max_tokens=64))
    run(server, lambda e: e.submit([BatchItem("one", request)], MODEL, label="mmo-a-1"))

    expected, _ = build_body(request, MODEL, stream=False)
    expected.pop("stream")
    assert server.jobs()[0].bodies == (expected,)


def test_counts_are_unknown_until_the_job_ends(server: FakeBatchServer) -> None:
    server.script_next(JobScript(pending_polls=1, fail_ids=frozenset({"r-0"})))
    finished = run(server, lambda e: run_job(e, items(3), MODEL))

    pending, ended = finished.polls
    assert (pending.state, pending.total, pending.succeeded, pending.failed) == ("pending", 3, None, None)
    assert (ended.state, ended.raw_state, ended.succeeded, ended.failed) == ("completed", "ended", 2, 1)


def test_an_ended_job_with_expired_requests_is_expired(server: FakeBatchServer) -> None:
    server.script_next(JobScript(expire_after=1))
    finished = run(server, lambda e: run_job(e, items(3), MODEL))

    assert finished.job.state == "expired" and finished.job.failed == 2
    assert sum(isinstance(r.error, BatchRequestExpired) for r in finished.results) == 2


def test_results_are_split_by_mmo_whatever_the_content_type_and_line_ends(server: FakeBatchServer) -> None:
    finished = run(server, lambda e: run_job(e, items(5), MODEL))
    assert sorted(r.custom_id for r in finished.results) == [f"r-{i}" for i in range(5)]
    assert all(r.completion is not None and "\r" not in r.completion.text for r in finished.results)


def test_a_refused_create_is_the_live_error(server: FakeBatchServer) -> None:
    server.script_next(JobScript(whole_job_failure=True))
    with pytest.raises(BadRequest):
        run(server, lambda e: e.submit(items(2), MODEL, label="mmo-a-2"))


def test_find_returns_nothing_as_no_label_is_kept(server: FakeBatchServer) -> None:
    async def work(endpoint: BatchEndpoint):  # type: ignore[no-untyped-def]
        await endpoint.submit(items(1), MODEL, label="mmo-a-3")
        return await endpoint.find("mmo-a-3")

    assert run(server, work) == []
