"""The pieces that read an answer within its limits, without a network: the bounded decoder (a
gzip bomb never inflates past the limit, in any one step or in all), the event parser (httpx-sse's
events, each bounded), the JSON depth check, and deeply nested bodies on every wire, answers and
error answers alike, ending in a classified error and never in ``RecursionError``."""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from typing import Any

import httpx
import pytest
from httpx_sse._decoders import SSEDecoder, SSELineDecoder

from mmo.core.errors import AnswerOverLimit, ServerError
from mmo.core.types import Request
from mmo.providers.bounded_body import AnswersInFlight, BoundedDecoder, LimitExceeded, UnreadableBody, read_bounded
from mmo.providers.gemini import _tool_response
from mmo.providers.sse import EventParser
from mmo.providers.wire_json import arguments_object, nested_deeper_than, parse_json
from tests.support.hostile import _gzip_bomb
from tests.support.recorded import collect, make_provider, run

MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-2.5-flash"}
DEEP = "[" * 50_000 + "]" * 50_000
ASK = Request.from_prompt("hi")


# --- the decoder -----------------------------------------------------------------------------


def test_a_gzip_bomb_is_cut_at_the_limit_and_no_step_inflates_more() -> None:
    limit = 1024 * 1024
    decoder = BoundedDecoder("gzip", limit)
    produced, fed = 0, 0
    with pytest.raises(LimitExceeded, match="1 MiB"):
        for piece in _gzip_bomb(1 << 30, b"{}"):  # 1 GiB of whitespace, a compressed MiB at a time
            for start in range(0, len(piece), 16 * 1024):
                fed += 1
                out = decoder.feed(piece[start : start + 16 * 1024])
                assert len(out) <= limit
                produced += len(out)
    assert produced <= limit
    assert fed <= 4  # it stopped at the first compressed chunks, not after the gigabyte


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),  # zlib-wrapped, as the standard says
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw, as some servers send it
        ("identity", lambda data: data),
        ("br", lambda data: data),  # not one we ask for: left as it is, as httpx does
        ("gzip, gzip", lambda data: gzip.compress(gzip.compress(data))),
    ],
)
def test_the_decoder_undoes_each_encoding_across_small_chunks(encoding: str, encode: Any) -> None:
    body = json.dumps({"text": "hello " * 5_000}).encode()
    wire = encode(body)
    decoder = BoundedDecoder(encoding, len(body))  # exactly the body's size is allowed
    out = b"".join(decoder.feed(wire[i : i + 100]) for i in range(0, len(wire), 100)) + decoder.finish()
    assert out == body


def test_a_body_one_byte_over_the_limit_is_refused_and_a_corrupt_one_is_unreadable() -> None:
    body = b"x" * 1000
    with pytest.raises(LimitExceeded):
        BoundedDecoder(None, 999).feed(body)
    with pytest.raises(LimitExceeded):
        BoundedDecoder("gzip", 999).feed(gzip.compress(body))
    with pytest.raises(UnreadableBody):
        BoundedDecoder("gzip", 10_000).feed(b"\x1f\x8b not gzip at all")


# --- the event parser ------------------------------------------------------------------------


def httpx_sse_events(body: bytes) -> list[tuple[str, str, str, int | None]]:
    lines, decoder = SSELineDecoder(), SSEDecoder()
    found = []
    for line in [*lines.decode(body.decode()), *lines.flush()]:
        event = decoder.decode(line)
        if event is not None:
            found.append((event.event, event.data, event.id, event.retry))
    return found


@pytest.mark.parametrize(
    "body",
    [
        b"data: one\n\ndata: two\r\n\r\ndata: three\r\rdata: four\n\n",
        b": comment\nevent: delta\ndata: {\"a\":\ndata:  1}\nid: 7\nretry: 1500\n\ndata: after the id\n\n",
        b"data\n\ndata:\n\nid: 3\n\n:just a comment\n\ndata: x\nignored: y\n\ndata: no end",
    ],
)
def test_events_are_those_httpx_sse_reads_whatever_the_chunking(body: bytes) -> None:
    expected = httpx_sse_events(body)
    for size in (1, 2, 3, 7, len(body)):
        parser = EventParser(1024)
        found = [e for i in range(0, len(body), size) for e in parser.feed(body[i : i + size])]
        assert [(e.event, e.data, e.id, e.retry) for e in found] == expected, size


def test_an_event_over_the_limit_is_refused_before_it_ends() -> None:
    parser = EventParser(1000)
    assert parser.feed(b"data: " + b"x" * 900 + b"\n\n")  # within the limit
    parser.feed(b"data: " + b"x" * 600 + b"\n")
    with pytest.raises(LimitExceeded, match="max_event_mib"):
        parser.feed(b"data: " + b"y" * 600)  # two lines of one event, the second not even ended


# --- JSON depth ------------------------------------------------------------------------------


def test_depth_counts_brackets_outside_strings_only() -> None:
    assert not nested_deeper_than('[[["[[[[[[", "\\"[[[[[["]]]', 3)
    assert nested_deeper_than('[[["[[[[[[", [{"a": 1}]]]]', 4)
    assert not nested_deeper_than(b"[" * 10 + b"]" * 10, 10) and nested_deeper_than(b"[" * 11 + b"]" * 11, 10)
    with pytest.raises(LimitExceeded, match="max_json_depth"):
        parse_json(DEEP.encode(), 256)
    assert parse_json(b'{"a": [[1]]}', 3) == {"a": [[1]]}


def test_deep_tool_arguments_and_tool_results_are_kept_as_text() -> None:
    assert arguments_object(DEEP) == {"arguments": DEEP}
    assert _tool_response(DEEP) == {"result": DEEP}


# --- every wire ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(MODELS))
def test_a_deeply_nested_answer_is_over_the_limit_on_every_wire(kind: str) -> None:
    provider = make_provider(kind, lambda request: httpx.Response(200, content=DEEP.encode(), headers={"content-type": "application/json"}))
    with pytest.raises(AnswerOverLimit, match="max_json_depth"):
        run(provider.complete(ASK, MODELS[kind]))


@pytest.mark.parametrize("kind", list(MODELS))
def test_a_deeply_nested_stream_event_is_over_the_limit_on_every_wire(kind: str) -> None:
    body = f"data: {DEEP}\n\n".encode()
    provider = make_provider(kind, lambda request: httpx.Response(200, content=body, headers={"content-type": "text/event-stream"}))
    with pytest.raises(AnswerOverLimit, match="max_json_depth"):
        run(collect(provider.stream(ASK, MODELS[kind])))


@pytest.mark.parametrize("streaming", [False, True])
@pytest.mark.parametrize("kind", list(MODELS))
def test_a_deeply_nested_error_answer_is_judged_by_its_status_on_every_wire(kind: str, streaming: bool) -> None:
    provider = make_provider(kind, lambda request: httpx.Response(500, content=DEEP.encode(), headers={"content-type": "application/json"}))
    with pytest.raises(ServerError):
        run(collect(provider.stream(ASK, MODELS[kind])) if streaming else provider.complete(ASK, MODELS[kind]))


# --- many answers at once: one shared bound --------------------------------------------------------


async def _body(total: int, piece: int, hold: asyncio.Event | None = None):  # type: ignore[no-untyped-def]
    """``total`` bytes in pieces; with ``hold``, the body does not end until it is set."""
    for _ in range(total // piece):
        yield b"x" * piece
    if hold is not None:
        await hold.wait()


def test_answers_read_together_share_one_bound_past_their_free_share() -> None:
    async def scenario() -> tuple[object, object, int]:
        shared = AnswersInFlight(limit=3 * MIB_, free_per_answer=1 * MIB_)
        hold = asyncio.Event()
        first = asyncio.create_task(read_bounded(_body(3 * MIB_, MIB_ // 2, hold), {}, 32 * MIB_, shared))
        await asyncio.sleep(0.01)  # the first has read its 3 MiB and is still open
        second = await asyncio.gather(read_bounded(_body(3 * MIB_, MIB_ // 2), {}, 32 * MIB_, shared), return_exceptions=True)
        hold.set()
        return await first, second[0], shared.held

    first, second, held = asyncio.run(scenario())
    # Alone, each 3 MiB answer fits its own 32 MiB limit; together they would hold 2 x 2 MiB past
    # their free share, over the shared 3 MiB: the later one fails, the first is read whole.
    assert first == b"x" * (3 * MIB_)
    assert isinstance(second, LimitExceeded) and "answers being read at once" in str(second)
    assert held == 0  # everything given back, the failed read's share too


def test_small_answers_never_meet_the_shared_bound() -> None:
    shared = AnswersInFlight(limit=0, free_per_answer=1 * MIB_)

    async def many() -> list[bytes]:
        return await asyncio.gather(*(read_bounded(_body(MIB_, 64 * 1024), {}, 32 * MIB_, shared) for _ in range(50)))

    assert all(len(body) == MIB_ for body in asyncio.run(many()))


MIB_ = 1 << 20


async def _bomb_chunks(inflated: int) -> Any:
    """The bomb as a socket delivers it: 64 KiB of compressed bytes (about 64 MiB inflated) a read."""
    pending = b""
    for piece in _gzip_bomb(inflated, b"{}"):
        pending += piece
        if len(pending) >= 64 * 1024:
            yield pending
            pending = b""
    yield pending


@pytest.mark.parametrize("shared", [None, AnswersInFlight(limit=6 * MIB_, free_per_answer=MIB_)])
def test_a_failed_read_keeps_none_of_what_it_decoded(shared: AnswersInFlight | None) -> None:
    """Callers keep the error (a row's attempts, the trace) until the row ends; if its traceback
    held the decoded pieces, every failed read would keep up to its limit alive and a batch of
    bombs would grow past the shared bound."""
    import gc
    import tracemalloc

    tracemalloc.start()
    try:
        kept = asyncio.run(_failure(read_bounded(_bomb_chunks(1 << 30), {"content-encoding": "gzip"}, 8 * MIB_, shared)))
        gc.collect()
        held_after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(kept, LimitExceeded)
    assert held_after < MIB_, f"{held_after:,} bytes still held by the kept error"


async def _failure(read: Any) -> BaseException:
    try:
        await read
    except BaseException as error:  # the error is what the test keeps
        return error
    raise AssertionError("the read did not fail")
