"""The scripted FakeProvider that strategy tests are built on."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mmo.core.errors import ModelNotFound, RateLimited, ServerError, StreamCut
from mmo.core.protocols import Provider
from mmo.core.types import Completion, Cost, Delta, Request, ToolCall, Usage
from mmo.providers.fake import FakeCall, FakeError, FakeProvider, FakeReply

HELLO = Request.from_prompt("hello")


def complete(fake: FakeProvider, model: str, request: Request = HELLO) -> Completion:
    return asyncio.run(fake.complete(request, model))


def stream(fake: FakeProvider, model: str, request: Request = HELLO) -> list[Delta]:
    async def collect() -> list[Delta]:
        return [delta async for delta in fake.stream(request, model)]

    return asyncio.run(collect())


def test_it_is_a_provider() -> None:
    fake = FakeProvider("scripted")
    assert isinstance(fake, Provider)
    assert fake.identity() == {"kind": "fake", "name": "scripted"}


def test_replies_come_in_order_then_the_default_repeats() -> None:
    fake = FakeProvider().script("m", FakeReply("one"), FakeReply("two"), default=FakeReply("again"))
    assert [complete(fake, "m").text for _ in range(4)] == ["one", "two", "again", "again"]
    assert fake.pending("m") == 0


def test_a_reply_carries_everything_scripted() -> None:
    call = ToolCall("c1", "lookup", '{"q": 1}')
    reply = FakeReply("ok", usage=Usage(10, 3), finish_reason="length", avg_logprob=-0.2, tool_calls=(call,), cost=Cost(0.01, "test"))
    answer = complete(FakeProvider("f").script("m", reply), "m")
    assert (answer.text, answer.model_id, answer.usage, answer.finish_reason) == ("ok", "f:m", Usage(10, 3), "length")
    assert (answer.avg_logprob, answer.tool_calls, answer.cost) == (-0.2, (call,), Cost(0.01, "test"))
    assert answer.latency_simulated is False and answer.latency_ms >= 0


def test_every_call_is_recorded_including_failures() -> None:
    fake = FakeProvider().script("a", RateLimited("slow down", provider="fake", model="a"), FakeReply("fine"))
    with pytest.raises(RateLimited):
        complete(fake, "a")
    other = Request.from_prompt("second")
    complete(fake, "a", other)
    stream(fake.script("b", FakeReply("streamed")), "b")
    assert fake.calls == [FakeCall("a", HELLO, False), FakeCall("a", other, False), FakeCall("b", HELLO, True)]
    assert [c.request for c in fake.calls_to("a")] == [HELLO, other]


def test_an_unscripted_model_is_a_clear_provider_error() -> None:
    fake = FakeProvider().script("known", FakeReply("x"))
    with pytest.raises(ModelNotFound, match=r"nothing is scripted for model 'other'.*models with a script: known"):
        complete(fake, "other")
    complete(fake, "known")
    with pytest.raises(ModelNotFound, match="nothing is scripted for model 'known'"):
        complete(fake, "known")  # its queue ran out and it has no default


def test_a_default_error_is_raised_every_time() -> None:
    fake = FakeProvider().script("down", default=ServerError("boom", provider="fake", model="down", status=500))
    for _ in range(3):
        with pytest.raises(ServerError, match="boom"):
            complete(fake, "down")
    assert len(fake.calls) == 3


def test_a_delayed_error_is_raised_after_its_delay_and_can_be_cancelled() -> None:
    fake = FakeProvider().script("slow", FakeError(ServerError("late"), delay_s=0.001), FakeError(ServerError("never"), delay_s=30))
    with pytest.raises(ServerError, match="late"):
        complete(fake, "slow")

    async def give_up() -> None:
        await asyncio.wait_for(fake.complete(HELLO, "slow"), timeout=0.01)

    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(give_up())
    assert fake.cancelled == ["slow"]


def test_a_slow_reply_is_cancellable_like_a_hedge_loser() -> None:
    fake = FakeProvider().script("fast", FakeReply("quick")).script("slow", FakeReply("late", delay_s=30))

    async def race() -> str:
        tasks = [asyncio.create_task(fake.complete(HELLO, m)) for m in ("fast", "slow")]
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return done.pop().result().text

    assert asyncio.run(race()) == "quick"
    assert fake.cancelled == ["slow"]


def test_a_stream_yields_word_chunks_then_the_completion() -> None:
    deltas = stream(FakeProvider().script("m", FakeReply("The answer is (B).", usage=Usage(5, 4))), "m")
    assert [d.text for d in deltas[:-1]] == ["The ", "answer ", "is ", "(B)."]
    final = deltas[-1].final
    assert final is not None and final.text == "The answer is (B)." and final.usage == Usage(5, 4)
    assert final.ttft_ms is not None


def test_a_stream_uses_scripted_chunks() -> None:
    deltas = stream(FakeProvider().script("m", FakeReply(chunks=["Hel", "lo", "!"])), "m")
    assert [d.text for d in deltas] == ["Hel", "lo", "!", ""]
    assert deltas[-1].final is not None and deltas[-1].final.text == "Hello!"


def test_chunks_must_spell_the_text() -> None:
    with pytest.raises(ValueError, match="chunks join to 'ab', not the text 'abc'"):
        FakeReply("abc", chunks=["a", "b"])


def test_a_cut_stream_raises_with_the_partial_text() -> None:
    fake = FakeProvider("f").script("m", FakeReply(chunks=["one ", "two ", "three"], cut_after_chunks=2))
    seen: list[str] = []

    async def consume() -> None:
        async for delta in fake.stream(HELLO, "m"):
            seen.append(delta.text)

    with pytest.raises(StreamCut) as caught:
        asyncio.run(consume())
    assert seen == ["one ", "two "]
    assert caught.value.partial_text == "one two "
    assert (caught.value.provider, caught.value.model) == ("f", "m")


def test_a_stream_raises_scripted_errors_before_any_text() -> None:
    fake = FakeProvider().script("m", RateLimited("429", retry_after=1.5))
    with pytest.raises(RateLimited) as caught:
        stream(fake, "m")
    assert caught.value.retry_after == 1.5


def test_only_outcomes_can_be_scripted() -> None:
    bad: Any = "just a string"
    with pytest.raises(TypeError, match="FakeReply, a FakeError or an exception"):
        FakeProvider().script("m", bad)
