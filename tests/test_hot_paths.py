"""The batch's fast paths give exactly what the plain paths give: cache keys, the direct JSON
answer of the batch client, copies of frozen values, and the GC threshold put back after a run."""

from __future__ import annotations

import asyncio
import gc
from dataclasses import replace

import pytest

from mmo.app.batch.runner import young_generation_above
from mmo.catalog.endpoints import ProviderSettings
from mmo.core.types import Completion, Cost, Message, Params, Request, ToolCall, Usage, evolve
from mmo.providers.fast_client import batch_client_factory
from mmo.providers.http import make_client
from mmo.providers.openai import OpenAIProvider
from mmo.runtime.cache import CacheKeys, cache_key
from tests.support.loopback import Fault, LoopbackServer

IDENTITY = {"kind": "openai", "base_url": "http://127.0.0.1:9/v1"}
TEXTS = ["plain", "naïve café", "line\u2028separator", 'quote " and \\ backslash', "emoji 🙂", "", "\x00control"]


@pytest.mark.parametrize("text", TEXTS)
def test_remembered_key_tails_give_the_plain_key(text: str) -> None:
    keys = CacheKeys(limit=2)
    params = Params(max_tokens=16, temperature=0.2, extra={"top_k": 40})
    requests = [
        Request.from_prompt(text, system="sys " + text, params=params),
        Request((Message("user", text), Message("assistant", "", (ToolCall("1", "f", "{}"),)), Message("tool", "r", tool_call_id="1")), params),
        Request.from_prompt(text, params=Params(max_tokens=17)),
    ]
    for model in ("m1", "m2", "m3"):  # more models than the memo holds: it starts over
        for request in requests:
            assert keys(IDENTITY, model, request) == cache_key(IDENTITY, model, request)
            assert keys({**IDENTITY, "base_url": "http://other"}, model, request) == cache_key({**IDENTITY, "base_url": "http://other"}, model, request)


def test_keys_differ_when_anything_that_shapes_the_answer_differs() -> None:
    keys = CacheKeys()
    base = Request.from_prompt("q", params=Params(max_tokens=16))
    variants = [base.with_params(Params(max_tokens=17)), Request.from_prompt("q2", params=base.params), Request.from_prompt("q", system="s", params=base.params)]
    assert len({keys(IDENTITY, "m", r) for r in [base, *variants]} | {keys(IDENTITY, "other", base)}) == 5


def test_evolve_is_replace() -> None:
    completion = Completion("text", "p:m", Usage(1, 2), cost=Cost(0.5, "x"), tool_calls=(ToolCall("1", "f", "{}"),))
    assert evolve(completion, cost=Cost(1.0, "y"), cached=True) == replace(completion, cost=Cost(1.0, "y"), cached=True)
    assert evolve(Usage(1, 2), output_tokens=3) == Usage(1, 3)
    with pytest.raises(TypeError, match="no field"):
        evolve(completion, colour="red")


def _answer(client_factory, base_url: str) -> Completion:  # type: ignore[no-untyped-def]
    async def run() -> Completion:
        client = client_factory()
        provider = OpenAIProvider(ProviderSettings("loop", "openai", base_url, needs_key=False), None, client)
        try:
            return await provider.complete(Request.from_prompt("naïve 🙂 question", params=Params(max_tokens=8)), "m")
        finally:
            await client.aclose()

    return asyncio.run(run())


def test_the_batch_clients_direct_answer_parses_as_plain_httpx_does(loopback: LoopbackServer) -> None:
    direct = _answer(batch_client_factory(2, {}), loopback.openai_base_url)
    plain = _answer(make_client, loopback.openai_base_url)
    assert (direct.text, direct.usage, direct.finish_reason, direct.rate_limits) == (plain.text, plain.usage, plain.finish_reason, plain.rate_limits)
    assert direct.text == "echo: naïve 🙂 question"


def test_an_error_answer_on_the_direct_path_is_classified_as_before(loopback: LoopbackServer) -> None:
    from mmo.core.errors import RateLimited

    loopback.script("m", Fault.rate_limited(retry_after_s=2))
    with pytest.raises(RateLimited) as caught:
        _answer(batch_client_factory(2, {}), loopback.openai_base_url)
    assert caught.value.retry_after == 2


def test_the_gc_threshold_is_raised_while_rows_run_and_put_back() -> None:
    before = gc.get_threshold()
    with young_generation_above(before[0] + 1000):
        assert gc.get_threshold() == (before[0] + 1000, *before[1:])
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), young_generation_above(before[0] + 5):
        raise RuntimeError("a run that fails still puts it back")
    assert gc.get_threshold() == before
    with young_generation_above(1):  # never lowered
        assert gc.get_threshold() == before
