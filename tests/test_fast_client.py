"""The batch HTTP client (httpx over httpx-aiohttp) against the loopback fake provider: answers,
streams, the connection limit, drops told apart from connect timeouts, and proxies taken from
the session's environment."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any, Mapping

import httpx
import pytest

from mmo.catalog.endpoints import ProviderSettings
from mmo.core.errors import ConnectionFailed, RateLimited, StreamCut, Timeout
from mmo.core.types import Completion, Params, Request
from mmo.providers.fast_client import batch_client_factory, environment_proxies, proxy_mounts
from mmo.providers.http_errors import CallTarget, transport_error
from mmo.providers.openai import OpenAIProvider
from tests.support.loopback import Behaviour, Fault, LoopbackServer

MODEL = "batch-model"


def ask(base_url: str, prompt: str = "hello", *, timeout_s: float = 5.0, stream: bool = False, environ: Mapping[str, str] | None = None) -> Completion:
    """One call through the OpenAI adapter over a fresh batch client."""

    async def run() -> Completion:
        client = batch_client_factory(4, environ or {})()
        provider = OpenAIProvider(ProviderSettings("loop", "openai", base_url, needs_key=False), None, client)
        request = Request.from_prompt(prompt, params=Params(timeout_s=timeout_s, max_tokens=16))
        try:
            if not stream:
                return await provider.complete(request, MODEL)
            async for delta in provider.stream(request, MODEL):
                if delta.final is not None:
                    return delta.final
            raise AssertionError("the stream ended without a final delta")
        finally:
            await client.aclose()

    return asyncio.run(run())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def blackholed_port() -> Iterator[int]:
    """A port whose connects never complete: a listener that never accepts, with its accept
    queue already full, so the kernel drops further SYNs (loopback only, nothing leaves)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield port
    finally:
        for sock in (*fillers, listener):
            sock.close()


# --- answers --------------------------------------------------------------------------------


def test_answers_and_streams_through_the_batch_client(loopback: LoopbackServer) -> None:
    answer = ask(loopback.openai_base_url, "row-1: hello")
    streamed = ask(loopback.openai_base_url, "row-2: hello", stream=True)
    assert answer.text == "echo: row-1: hello"
    assert streamed.text == "echo: row-2: hello"
    assert answer.usage.output_tokens > 0
    assert loopback.stats().answered == 2


def test_client_sends_mmo_user_agent_and_never_follows_redirects(loopback: LoopbackServer) -> None:
    async def run() -> httpx.AsyncClient:
        async with batch_client_factory(2, {})() as client:
            return client

    client = asyncio.run(run())
    assert client.headers["user-agent"].startswith("mmo/")
    assert client.follow_redirects is False
    assert client.timeout == httpx.Timeout(60.0)


def test_connections_are_limited_to_the_concurrency(loopback: LoopbackServer) -> None:
    loopback.set_default(Behaviour(latency_s=0.05))

    async def run() -> list[int]:
        async with batch_client_factory(3, {})() as client:
            url = f"{loopback.openai_base_url}/chat/completions"
            body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
            responses = await asyncio.gather(*(client.post(url, json=body) for _ in range(12)))
            return [r.status_code for r in responses]

    assert asyncio.run(run()) == [200] * 12
    assert loopback.stats().connections == 3  # 12 requests queued on 3 kept-alive connections


def test_rejects_a_concurrency_below_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        batch_client_factory(0, {})


def test_json_posts_and_other_requests_send_the_same_body_and_share_the_pool(loopback: LoopbackServer) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "héllo"}], "max_tokens": 5}

    async def run() -> list[int]:
        async with batch_client_factory(1, {})() as client:
            url = f"{loopback.openai_base_url}/chat/completions"
            direct = await client.post(url, json=body, headers={"Authorization": "Bearer k"})
            through_httpx = await client.send(client.build_request("POST", url, json=body, headers={"Authorization": "Bearer k"}))
            return [direct.status_code, through_httpx.status_code]

    assert asyncio.run(run()) == [200, 200]
    first, second = loopback.requests
    assert first.body == second.body == body
    assert loopback.stats().connections == 1  # one pool of one connection served both


def test_a_rate_limit_keeps_its_retry_after_header(loopback: LoopbackServer) -> None:
    loopback.script(MODEL, Fault.rate_limited(retry_after_s=7))
    with pytest.raises(RateLimited) as caught:
        ask(loopback.openai_base_url)
    assert caught.value.retry_after == 7


def test_a_body_cut_short_is_a_connection_failure(loopback: LoopbackServer) -> None:
    loopback.script(MODEL, Fault.cut())
    with pytest.raises(ConnectionFailed):
        ask(loopback.openai_base_url)


# --- drops and timeouts ---------------------------------------------------------------------


@pytest.mark.parametrize("fault", [Fault.drop(), Fault.drop(reset=True)], ids=["close", "reset"])
def test_a_dropped_connection_is_a_connection_failure_that_says_so(loopback: LoopbackServer, fault: Fault) -> None:
    loopback.script(MODEL, fault)
    with pytest.raises(ConnectionFailed) as caught:
        ask(loopback.openai_base_url)
    assert not isinstance(caught.value, Timeout)
    assert "connection dropped" in caught.value.one_line()
    assert caught.value.retryable


def test_a_drop_mid_stream_is_a_cut_stream_with_its_text(loopback: LoopbackServer) -> None:
    loopback.script(MODEL, Fault.cut(after_chunks=2))
    with pytest.raises(StreamCut) as caught:
        ask(loopback.openai_base_url, "one two three four five six", stream=True)
    assert caught.value.partial_text


def test_nothing_listening_is_a_connection_failure_not_a_timeout() -> None:
    with pytest.raises(ConnectionFailed) as caught:
        ask(f"http://127.0.0.1:{free_port()}/v1")
    assert "could not connect" in caught.value.one_line()


def test_a_connect_that_never_completes_is_a_timeout(blackholed_port: int) -> None:
    async def run() -> None:
        async with batch_client_factory(2, {})() as client:
            await client.post(f"http://127.0.0.1:{blackholed_port}/v1/chat/completions", json={}, timeout=httpx.Timeout(0.3))

    with pytest.raises(httpx.ConnectTimeout) as caught:
        asyncio.run(run())
    assert isinstance(transport_error(caught.value, CallTarget("loop", MODEL)), Timeout)
    with pytest.raises(Timeout):  # and through an adapter, whichever bound fires first
        ask(f"http://127.0.0.1:{blackholed_port}/v1", timeout_s=0.3)


def test_a_server_that_never_answers_is_a_timeout(loopback: LoopbackServer) -> None:
    loopback.script(MODEL, Fault.hang(max_s=5))
    with pytest.raises(Timeout):
        ask(loopback.openai_base_url, timeout_s=0.3)


# --- proxies --------------------------------------------------------------------------------


def test_proxy_variables_are_read_from_the_given_environment_lower_case_first() -> None:
    environ = {"HTTP_PROXY": "http://upper:1", "http_proxy": "http://lower:2", "HTTPS_PROXY": "proxy.local:3128", "NO_PROXY": "localhost, .corp.example,10.0.0.1,::1"}
    assert environment_proxies(environ)["http"] == "http://lower:2"
    assert proxy_mounts(environ) == {
        "http://": "http://lower:2",
        "https://": "http://proxy.local:3128",
        "all://localhost": None,
        "all://*.corp.example": None,
        "all://10.0.0.1": None,
        "all://[::1]": None,
    }


def test_no_proxy_star_and_cgi_requests_turn_proxies_off() -> None:
    assert proxy_mounts({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}) == {}
    assert proxy_mounts({"HTTP_PROXY": "http://p:1", "REQUEST_METHOD": "GET"}) == {}
    assert proxy_mounts({"PATH": "/usr/bin"}) == {}


def test_requests_go_through_the_http_proxy_of_the_environment(loopback: LoopbackServer) -> None:
    # The loopback server plays the proxy: it sees the absolute URL of a host that is not
    # listening, which only a proxied request can reach it with.
    target = f"http://127.0.0.1:{free_port()}/v1/chat/completions"

    async def run() -> int:
        client = batch_client_factory(2, {"HTTP_PROXY": loopback.url})()
        async with client:
            return (await client.post(target, json={"model": MODEL, "messages": []})).status_code

    assert asyncio.run(run()) == 404  # the fake answers an unknown route: but it was asked
    assert loopback.stats().by_path == {target: 1}


def test_no_proxy_hosts_are_reached_directly(loopback: LoopbackServer) -> None:
    environ: dict[str, Any] = {"HTTP_PROXY": f"http://127.0.0.1:{free_port()}", "NO_PROXY": "127.0.0.1"}
    assert ask(loopback.openai_base_url, "direct", environ=environ).text == "echo: direct"
    with pytest.raises(ConnectionFailed):  # without the exemption, the dead proxy is used
        ask(loopback.openai_base_url, "direct", environ={"HTTP_PROXY": environ["HTTP_PROXY"]})
