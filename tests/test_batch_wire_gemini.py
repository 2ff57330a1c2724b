"""Gemini's batch endpoint against the loopback fake: inline requests are the live body keyed by
custom_id; both state spellings are read; results are matched by key only, inline or from a
responses file; a job that failed as a whole carries its message; ``find`` matches the display
name."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from mmo.core.types import Params, Request
from mmo.providers.batch_api import BatchEndpoint, BatchItem
from mmo.providers.gemini import build_body
from mmo.providers.http import make_client
from tests.support.fake_batch import FakeBatchServer, JobScript
from tests.support.fake_batch.harness import MODELS, endpoint_for, items, run_job

MODEL = MODELS["gemini"]


@pytest.fixture
def server() -> Iterator[FakeBatchServer]:
    with FakeBatchServer(api_key="AIza-fake-0123") as running:
        yield running
    assert running.handler_errors() == []


def run(server: FakeBatchServer, work):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        async with make_client() as client:
            return await work(endpoint_for("gemini", server, client, key="AIza-fake-0123"))

    return asyncio.run(go())


def test_inline_requests_are_the_live_body_keyed_by_custom_id(server: FakeBatchServer) -> None:
    request = Request.from_prompt("hello", system="be brief", params=Params(max_tokens=64))
    job = run(server, lambda e: e.submit([BatchItem("one", request)], MODEL, label="mmo-g-1"))

    (record,) = server.jobs()
    assert job.job_id == record.job_id and job.job_id.startswith("batches/") and job.total == 1
    assert record.bodies == (build_body(request),) and record.custom_ids == ("one",) and record.label == "mmo-g-1"


@pytest.mark.parametrize("prefix", ["BATCH_STATE_", "JOB_STATE_"])
def test_both_state_spellings_are_read(server: FakeBatchServer, prefix: str) -> None:
    server.script_next(JobScript(gemini_state_prefix=prefix))
    finished = run(server, lambda e: run_job(e, items(3), MODEL))
    assert [p.raw_state for p in finished.polls] == [f"{prefix}RUNNING", f"{prefix}SUCCEEDED"]
    assert [p.state for p in finished.polls] == ["pending", "completed"]


@pytest.mark.parametrize("from_file", [False, True])
def test_results_are_matched_by_key_only(server: FakeBatchServer, from_file: bool) -> None:
    server.script_next(JobScript(gemini_file=from_file, fail_ids=frozenset({"r-4"}), shuffle=True))
    batch = items(20)
    finished = run(server, lambda e: run_job(e, batch, MODEL))

    assert [r.custom_id for r in finished.results] != [i.custom_id for i in batch]  # shuffled
    for item in batch:
        result = finished.by_id()[item.custom_id]
        if item.custom_id == "r-4":
            assert result.error is not None
        else:
            assert result.completion is not None and result.completion.text == f"echo: {item.request.messages[-1].content}"
    assert ("gemini.download" in server.route_counts()) is from_file


def test_a_job_failed_as_a_whole_carries_its_message(server: FakeBatchServer) -> None:
    server.script_next(JobScript(whole_job_failure=True))
    finished = run(server, lambda e: run_job(e, items(2), MODEL))
    assert finished.job.state == "failed" and "refused" in (finished.job.message or "")
    assert finished.results == ()


def test_an_expired_job_returns_what_it_ran(server: FakeBatchServer) -> None:
    server.script_next(JobScript(expire_after=2, shuffle=False))
    finished = run(server, lambda e: run_job(e, items(5), MODEL))
    assert finished.job.state == "expired"
    assert sorted(finished.by_id()) == ["r-0", "r-1"]


def test_find_matches_the_display_name(server: FakeBatchServer) -> None:
    async def work(endpoint: BatchEndpoint):  # type: ignore[no-untyped-def]
        wanted = await endpoint.submit(items(1), MODEL, label="mmo-g-lost-1")
        for n in range(120):
            await endpoint.submit(items(1), MODEL, label=f"mmo-g-other-{n}")
        return wanted, await endpoint.find("mmo-g-lost-1")

    wanted, found = run(server, work)
    assert [job.job_id for job in found] == [wanted.job_id]
    assert server.route_counts()["gemini.list"] == 2
