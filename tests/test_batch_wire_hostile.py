"""A hostile results download costs a bounded amount: an endless line ends in ``AnswerOverLimit``
once the line passes ``max_response_bytes``, endless valid lines end once there are more lines
than the job has requests, a gzip bomb is inflated a step at a time. Against the loopback fake,
which would send 256 MiB if the client kept reading; and a 10,000-request job goes through whole."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Iterator

import pytest

from mmo.core.errors import AnswerOverLimit
from mmo.core.transport_limits import MIB, TransportLimits
from mmo.providers.batch_api import BatchEndpoint
from mmo.providers.bounded_body import LimitExceeded
from mmo.providers.http import make_client
from mmo.providers.jsonl_lines import LineSplitter, StreamInflater
from tests.support.fake_batch import FakeBatchServer, JobScript
from tests.support.fake_batch.harness import KINDS, MODELS, endpoint_for, finish, items, run_job

SMALL = TransportLimits(max_response_bytes=256 * 1024)


@pytest.fixture
def server() -> Iterator[FakeBatchServer]:
    with FakeBatchServer() as running:
        yield running
    assert running.handler_errors() == []


def run(kind: str, server: FakeBatchServer, work, limits: TransportLimits = SMALL):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        async with make_client() as client:
            return await work(endpoint_for(kind, server, client, limits=limits))

    return asyncio.run(go())


def hostile_job(kind: str, server: FakeBatchServer, hostility: str) -> tuple[str, int]:
    """Run a job whose results download is hostile; the error's message and the bytes the fake sent."""
    server.script_next(JobScript(hostile=hostility, gemini_file=True))  # type: ignore[arg-type]

    async def work(endpoint: BatchEndpoint) -> str:
        job = await endpoint.submit(items(3), MODELS[kind], label="mmo-h-1")
        with pytest.raises(AnswerOverLimit) as raised:
            await finish(endpoint, job, MODELS[kind])
        return str(raised.value)

    message = run(kind, server, work)
    (record,) = server.jobs()
    job = server.job(record.job_id)
    assert job is not None
    return message, job.hostile_bytes_sent


@pytest.mark.parametrize("kind", KINDS)
def test_an_endless_results_line_ends_at_the_line_bound(kind: str, server: FakeBatchServer) -> None:
    message, sent = hostile_job(kind, server, "endless_line")
    assert "results line longer than 256 KiB" in message
    assert sent < 32 * MIB  # the fake would send 256 MiB to a reader without the bound


@pytest.mark.parametrize("kind", KINDS)
def test_endless_result_lines_end_at_the_jobs_size(kind: str, server: FakeBatchServer) -> None:
    message, sent = hostile_job(kind, server, "endless_lines")
    assert "more than 3 results lines" in message
    assert sent < 32 * MIB


def test_a_gzip_bomb_inflates_a_step_at_a_time() -> None:
    bomb = gzip.compress(b"x" * (64 * MIB))  # about 64 KiB on the wire
    inflater, splitter = StreamInflater("gzip"), LineSplitter(max_line_bytes=1 * MIB, max_lines=10)
    largest = 0
    with pytest.raises(LimitExceeded, match="longer than 1 MiB"):
        for piece in inflater.feed(bomb):
            largest = max(largest, len(piece))
            list(splitter.feed(piece))
    assert largest <= 1 * MIB


def test_lines_are_split_on_newlines_with_carriage_returns_dropped() -> None:
    splitter = LineSplitter(max_line_bytes=100, max_lines=10)
    lines = [*splitter.feed(b'{"a":1}\r\n\r\n{"b"'), *splitter.feed(b":2}\n{\"c\":3}"), *splitter.finish()]
    assert lines == [b'{"a":1}', b'{"b":2}', b'{"c":3}']


@pytest.mark.parametrize("kind", KINDS)
def test_a_ten_thousand_request_job_goes_through_whole(kind: str, server: FakeBatchServer) -> None:
    server.script_next(JobScript(fail_fraction=0.01))
    finished = run(kind, server, lambda e: run_job(e, items(10_000), MODELS[kind]), limits=TransportLimits())
    assert len(finished.by_id()) == 10_000
    assert sum(r.error is not None for r in finished.results) == 100
    assert finished.job.succeeded == 9_900
