"""OpenAI's batch endpoint against the loopback fake: the upload is the live body, line by line;
the documented pitfalls (a job that fails right after create with ``token_limit_exceeded``, a
``completed`` job with ``output_file_id: null``, ``error_file_id: ""``) are read right; ``find``
recovers a job by its label across pages."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from mmo.core.errors import RateLimited
from mmo.core.types import Params, Request
from mmo.providers.batch_api import BatchEndpoint, BatchItem
from mmo.providers.http import make_client
from mmo.providers.openai import build_body
from tests.support.fake_batch import FakeBatchServer, JobScript
from tests.support.fake_batch.harness import MODELS, endpoint_for, items, run_job

MODEL = MODELS["openai"]


@pytest.fixture
def server() -> Iterator[FakeBatchServer]:
    with FakeBatchServer() as running:
        yield running
    assert running.handler_errors() == []


def run(server: FakeBatchServer, work, **options: object):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        async with make_client() as client:
            return await work(endpoint_for("openai", server, client, **options))

    return asyncio.run(go())


def test_each_uploaded_line_carries_the_live_body(server: FakeBatchServer) -> None:
    request = Request.from_prompt("hello", system="be brief", params=Params(max_tokens=50, temperature=0.2))
    run(server, lambda e: e.submit([BatchItem("only", request)], MODEL, label="mmo-r1-1"))

    (job,) = server.jobs()
    assert job.custom_ids == ("only",) and job.label == "mmo-r1-1" and job.model == MODEL
    assert job.bodies[0] == build_body(request, MODEL, stream=False)
    assert server.route_counts() == {"openai.upload": 1, "openai.create": 1}


def test_a_job_refused_after_create_is_failed_with_the_vendors_reason(server: FakeBatchServer) -> None:
    server.script_next(JobScript(whole_job_failure=True))

    async def work(endpoint: BatchEndpoint):  # type: ignore[no-untyped-def]
        created = await endpoint.submit(items(3), MODEL, label="mmo-r2-1")
        return created, await endpoint.status(created.job_id)

    created, failed = run(server, work)
    assert created.state == "pending" and created.raw_state == "validating"
    assert failed.state == "failed" and failed.ended
    assert failed.message is not None and failed.message.startswith("token_limit_exceeded: Enqueued token limit")


def test_a_duplicate_custom_id_that_slips_through_fails_validation(server: FakeBatchServer) -> None:
    """The fake validates as the vendor does; the endpoint refuses duplicates before uploading."""
    with pytest.raises(ValueError, match="twice"):
        run(server, lambda e: e.submit([*items(2), *items(1)], MODEL, label="mmo-r3-1"))
    assert server.route_counts() == {}


def test_a_completed_job_where_every_request_failed_has_no_output_file(server: FakeBatchServer) -> None:
    server.script_next(JobScript(fail_fraction=1.0, error_kind="rate_limit"))
    finished = run(server, lambda e: run_job(e, items(4), MODEL))

    assert finished.job.state == "completed" and (finished.job.succeeded, finished.job.failed) == (0, 4)
    assert sorted(r.custom_id for r in finished.results) == [f"r-{i}" for i in range(4)]
    assert all(isinstance(r.error, RateLimited) for r in finished.results)
    assert server.route_counts()["openai.download"] == 1  # the error file only: output_file_id was null


def test_an_empty_error_file_id_is_no_file(server: FakeBatchServer) -> None:
    server.script_next(JobScript(blank_error_file_id=True))
    finished = run(server, lambda e: run_job(e, items(3), MODEL))

    assert len(finished.results) == 3 and all(r.completion is not None for r in finished.results)
    assert server.route_counts()["openai.download"] == 1  # the output file only


def test_find_recovers_a_job_by_label_across_pages(server: FakeBatchServer) -> None:
    async def work(endpoint: BatchEndpoint):  # type: ignore[no-untyped-def]
        wanted = await endpoint.submit(items(1), MODEL, label="mmo-lost-1")
        for n in range(105):  # newer jobs push it to the second page
            await endpoint.submit(items(1), MODEL, label=f"mmo-other-{n}")
        return wanted, await endpoint.find("mmo-lost-1"), await endpoint.find("mmo-never-1")

    wanted, found, none = run(server, work)
    assert [job.job_id for job in found] == [wanted.job_id]
    assert none == []
    assert server.route_counts()["openai.list"] == 4  # two pages for each search


def test_an_unknown_job_is_the_live_apis_not_found(server: FakeBatchServer) -> None:
    from mmo.core.errors import ModelNotFound

    with pytest.raises(ModelNotFound):
        run(server, lambda e: e.status("batch_nope"))
