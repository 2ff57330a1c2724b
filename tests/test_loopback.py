"""The loopback fake provider, driven with plain httpx: vendor shapes, scripted faults, counts,
and that it stops by itself."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse, connect_sse

from tests.support.loopback import Behaviour, Fault, FaultMix, LoopbackServer

ROOT = Path(__file__).resolve().parent.parent


def openai_body(prompt: str, model: str = "gpt-x", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "system", "content": "be brief"},
                                         {"role": "user", "content": prompt}], **extra}


def anthropic_body(prompt: str, model: str = "claude-x", **extra: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 64, "system": "be brief",
            "messages": [{"role": "user", "content": [{"type": "text", "text": prompt}]}], **extra}


def gemini_body(prompt: str) -> dict[str, Any]:
    return {"systemInstruction": {"parts": [{"text": "be brief"}]},
            "contents": [{"role": "user", "parts": [{"text": prompt}]}]}


def chat(server: LoopbackServer, prompt: str, model: str = "gpt-x", **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{server.openai_base_url}/chat/completions", json=openai_body(prompt, model), **kwargs)


# --- shapes ---------------------------------------------------------------------------------


def test_openai_answer_echoes_the_last_user_message_with_usage(loopback: LoopbackServer) -> None:
    response = chat(loopback, "hello row-1")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "gpt-x"
    choice = body["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "echo: hello row-1", "refusal": None}
    assert choice["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["prompt_tokens"] == 5  # "be brief" + "hello row-1" = 19 characters
    assert usage["completion_tokens"] == 5
    assert usage["total_tokens"] == 10


def test_openai_stream_ends_with_usage_chunk_and_done(loopback: LoopbackServer) -> None:
    body = openai_body("stream me", stream=True, stream_options={"include_usage": True})
    with httpx.Client() as client, connect_sse(client, "POST", f"{loopback.openai_base_url}/chat/completions",
                                               json=body) as source:
        data = [event.data for event in source.iter_sse()]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "gpt-x" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "echo: stream me"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 4


def test_openai_stream_without_include_usage_has_no_usage(loopback: LoopbackServer) -> None:
    body = openai_body("no usage", stream=True)
    with httpx.Client() as client, connect_sse(client, "POST", f"{loopback.openai_base_url}/chat/completions",
                                               json=body) as source:
        data = [event.data for event in source.iter_sse()]
    chunks = [json.loads(d) for d in data[:-1]]
    assert all("usage" not in c and c["choices"] for c in chunks)


def test_anthropic_message_and_stream_shapes(loopback: LoopbackServer) -> None:
    url = f"{loopback.anthropic_base_url}/v1/messages"
    message = httpx.post(url, json=anthropic_body("hi there")).json()
    assert message["type"] == "message" and message["model"] == "claude-x"
    assert message["content"] == [{"type": "text", "text": "echo: hi there"}]
    assert message["stop_reason"] == "end_turn"
    assert message["usage"]["input_tokens"] == 4 and message["usage"]["output_tokens"] == 4

    with httpx.Client() as client, connect_sse(client, "POST", url, json=anthropic_body("hi there", stream=True)) as source:
        events = [(event.event, json.loads(event.data)) for event in source.iter_sse()]
    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert all(name == data["type"] for name, data in events)
    text = "".join(data["delta"]["text"] for name, data in events if name == "content_block_delta")
    assert text == "echo: hi there"
    assert events[0][1]["message"]["usage"]["input_tokens"] == 4
    assert events[-2][1]["usage"]["output_tokens"] == 4
    assert events[-2][1]["delta"]["stop_reason"] == "end_turn"


def test_gemini_takes_the_model_from_the_path_and_streams_with_crlf(loopback: LoopbackServer) -> None:
    base = f"{loopback.gemini_base_url}/v1beta/models/gemini-2.5-flash"
    whole = httpx.post(f"{base}:generateContent", json=gemini_body("bonjour")).json()
    assert whole["modelVersion"] == "gemini-2.5-flash"
    assert whole["candidates"][0]["content"]["parts"] == [{"text": "echo: bonjour"}]
    assert whole["candidates"][0]["finishReason"] == "STOP"
    assert whole["usageMetadata"]["totalTokenCount"] == 4 + 4

    raw = httpx.post(f"{base}:streamGenerateContent?alt=sse", json=gemini_body("bonjour")).content
    events = raw.split(b"\r\n\r\n")
    assert events[-1] == b""  # every event ends with CRLF CRLF, and nothing follows the last
    chunks = [json.loads(event.removeprefix(b"data: ")) for event in events[:-1]]
    assert len(chunks) == 5
    assert all("usageMetadata" in c for c in chunks)
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == "echo: bonjour"
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert chunks[-1]["usageMetadata"]["candidatesTokenCount"] == 4
    assert loopback.stats().by_model == {"gemini-2.5-flash": 2}


def test_async_clients_get_all_three_shapes(loopback: LoopbackServer) -> None:
    async def run() -> list[str]:
        texts = []
        async with httpx.AsyncClient() as client:
            async with aconnect_sse(client, "POST", f"{loopback.openai_base_url}/chat/completions",
                                    json=openai_body("a", stream=True)) as source:
                texts.append("".join([json.loads(e.data)["choices"][0]["delta"].get("content", "")
                                      async for e in source.aiter_sse() if e.data != "[DONE]"]))
            async with aconnect_sse(client, "POST", f"{loopback.url}/v1/messages",
                                    json=anthropic_body("b", stream=True)) as source:
                texts.append("".join([json.loads(e.data)["delta"]["text"] async for e in source.aiter_sse()
                                      if e.event == "content_block_delta"]))
            response = await client.post(f"{loopback.url}/v1beta/models/g:generateContent", json=gemini_body("c"))
            texts.append(response.json()["candidates"][0]["content"]["parts"][0]["text"])
        return texts

    assert asyncio.run(run()) == ["echo: a", "echo: b", "echo: c"]


def test_configured_text_and_chunk_count(loopback: LoopbackServer) -> None:
    loopback.set_default(Behaviour(text="The answer is (B).", chunks=3))
    with httpx.Client() as client, connect_sse(client, "POST", f"{loopback.url}/v1/messages",
                                               json=anthropic_body("q", stream=True)) as source:
        pieces = [json.loads(e.data)["delta"]["text"] for e in source.iter_sse() if e.event == "content_block_delta"]
    assert pieces == ["The an", "swer i", "s (B)."]


def test_streams_with_delays_between_chunks_arrive_whole_or_cut(loopback: LoopbackServer) -> None:
    loopback.set_default(Behaviour(chunks=4, chunk_delay_s=0.005))
    loopback.script("*", Fault.ok(), Fault.cut(after_chunks=3))
    url = f"{loopback.url}/v1beta/models/g:streamGenerateContent?alt=sse"
    with httpx.Client() as client:
        with connect_sse(client, "POST", url, json=gemini_body("delayed")) as source:
            texts = [json.loads(e.data)["candidates"][0]["content"]["parts"][0]["text"] for e in source.iter_sse()]
        assert texts == ["echo", ": de", "laye", "d"]
        received: list[str] = []
        with connect_sse(client, "POST", url, json=gemini_body("delayed")) as source, pytest.raises(httpx.RemoteProtocolError):
            received.extend(e.data for e in source.iter_sse())
        assert len(received) == 3
    assert loopback.calls("delayed", answered=True) == 1


# --- faults ---------------------------------------------------------------------------------


def test_scripted_faults_arrive_in_order_per_model(loopback: LoopbackServer) -> None:
    loopback.script("gpt-x", Fault.status(429), Fault.server_error(), Fault.ok(text="scripted"))
    assert chat(loopback, "p", model="other").status_code == 200  # other models are unaffected
    assert [chat(loopback, "p").status_code for _ in range(3)] == [429, 500, 200]
    assert loopback.pending() == 0
    assert chat(loopback, "p").json()["choices"][0]["message"]["content"] == "echo: p"
    assert loopback.stats().by_fault == {"ok": 3, "429": 1, "500": 1}


def test_wildcard_script_applies_to_models_without_their_own_queue(loopback: LoopbackServer) -> None:
    loopback.script("*", Fault.status(503))
    loopback.script("gpt-y", Fault.status(401))
    assert chat(loopback, "p", model="gpt-y").status_code == 401
    assert chat(loopback, "p", model="gpt-z").status_code == 503
    assert chat(loopback, "p", model="gpt-y").status_code == 200


def test_rate_limit_carries_retry_hints_where_each_vendor_puts_them(loopback: LoopbackServer) -> None:
    loopback.script("*", Fault.rate_limited(retry_after_s=1, retry_after_ms=1500))
    openai = chat(loopback, "p")
    assert openai.status_code == 429
    assert openai.headers["retry-after"] == "1" and openai.headers["retry-after-ms"] == "1500"
    assert openai.json()["error"]["code"] == "rate_limit_exceeded"

    loopback.script("*", Fault.rate_limited(retry_after_s=2))
    anthropic = httpx.post(f"{loopback.url}/v1/messages", json=anthropic_body("p"))
    assert anthropic.headers["retry-after"] == "2"
    assert anthropic.json()["error"]["type"] == "rate_limit_error"

    loopback.script("*", Fault.rate_limited(retry_after_s=37))
    gemini = httpx.post(f"{loopback.url}/v1beta/models/g:generateContent", json=gemini_body("p"))
    error = gemini.json()["error"]
    assert gemini.status_code == 429 and error["status"] == "RESOURCE_EXHAUSTED"
    assert {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"} in error["details"]


@pytest.mark.parametrize(
    ("path", "fault", "status", "pointer", "expected"),
    [
        ("anthropic", Fault.overloaded(), 529, ("error", "type"), "overloaded_error"),
        ("openai", Fault.overloaded(), 503, ("error", "code"), "server_is_overloaded"),
        ("gemini", Fault.overloaded(), 503, ("error", "status"), "UNAVAILABLE"),
        ("openai", Fault.context_too_long(), 400, ("error", "code"), "context_length_exceeded"),
        ("anthropic", Fault.context_too_long(), 400, ("error", "type"), "invalid_request_error"),
        ("openai", Fault.quota_exhausted(), 429, ("error", "code"), "insufficient_quota"),
        ("anthropic", Fault.quota_exhausted(), 402, ("error", "type"), "billing_error"),
        ("openai", Fault.auth_failed(), 401, ("error", "code"), "invalid_api_key"),
        ("anthropic", Fault.status(401), 401, ("error", "type"), "authentication_error"),
        ("gemini", Fault.auth_failed(), 400, ("error", "status"), "INVALID_ARGUMENT"),
        ("anthropic", Fault.model_not_found(), 404, ("error", "type"), "not_found_error"),
        ("gemini", Fault.status(404), 404, ("error", "status"), "NOT_FOUND"),
        ("openai", Fault.status(500), 500, ("error", "type"), "server_error"),
        ("anthropic", Fault.status(500), 500, ("error", "type"), "api_error"),
    ],
)
def test_errors_have_the_vendor_body_for_the_route(
    loopback: LoopbackServer, path: str, fault: Fault, status: int, pointer: tuple[str, str], expected: str
) -> None:
    urls = {"openai": (f"{loopback.openai_base_url}/chat/completions", openai_body("p", model="m")),
            "anthropic": (f"{loopback.url}/v1/messages", anthropic_body("p", model="m")),
            "gemini": (f"{loopback.url}/v1beta/models/m:generateContent", gemini_body("p"))}
    loopback.script("m", fault)
    url, body = urls[path]
    response = httpx.post(url, json=body)
    assert response.status_code == status
    value = response.json()
    for key in pointer:
        value = value[key]
    assert value == expected
    assert loopback.stats().by_fault == {str(status): 1}


def test_context_too_long_messages_read_like_the_vendors(loopback: LoopbackServer) -> None:
    loopback.script("*", Fault.context_too_long(), Fault.context_too_long())
    assert "maximum context length" in chat(loopback, "p").json()["error"]["message"]
    anthropic = httpx.post(f"{loopback.url}/v1/messages", json=anthropic_body("p")).json()
    assert anthropic["error"]["message"].startswith("prompt is too long:")


def test_arbitrary_headers_are_sent_with_a_status(loopback: LoopbackServer) -> None:
    loopback.script("*", Fault.status(503, headers={"x-should-retry": "false", "retry-after": "3"}),
                    Fault.rate_limited(retry_after_s=1, headers={"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}))
    response = chat(loopback, "p")
    assert response.status_code == 503
    assert response.headers["x-should-retry"] == "false" and response.headers["retry-after"] == "3"
    dated = chat(loopback, "p")
    assert dated.headers.get_list("retry-after") == ["Wed, 21 Oct 2026 07:28:00 GMT"]


def test_drop_closes_before_any_byte(loopback: LoopbackServer) -> None:
    loopback.script("*", Fault.drop(), Fault.drop(reset=True))
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        chat(loopback, "p")
    with pytest.raises(httpx.ReadError):
        chat(loopback, "p")
    assert chat(loopback, "p").status_code == 200
    assert loopback.stats().by_fault == {"drop": 1, "reset": 1, "ok": 1}


def test_cut_stream_gives_partial_events_then_a_protocol_error(loopback: LoopbackServer) -> None:
    loopback.script("*", Fault.cut(after_chunks=2))
    received: list[str] = []
    with httpx.Client() as client, connect_sse(client, "POST", f"{loopback.url}/v1/messages",
                                               json=anthropic_body("cut me", stream=True)) as source:
        assert source.response.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            for event in source.iter_sse():
                received.append(event.event)
    assert received == ["message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta"]
    assert loopback.calls("cut me") == 1 and loopback.calls("cut me", answered=True) == 0


def test_cut_whole_body_is_a_protocol_error(loopback: LoopbackServer) -> None:
    loopback.script("*", Fault.cut())
    with pytest.raises(httpx.RemoteProtocolError, match="incomplete|complete message body"):
        chat(loopback, "p")


def test_stream_error_arrives_inside_a_200_stream(loopback: LoopbackServer) -> None:
    loopback.script("*", Fault.stream_error("overloaded", after_chunks=1), Fault.stream_error("server", after_chunks=0))
    with httpx.Client() as client:
        with connect_sse(client, "POST", f"{loopback.url}/v1/messages",
                         json=anthropic_body("p", stream=True)) as source:
            events = [(e.event, e.data) for e in source.iter_sse()]
        assert source.response.status_code == 200
        assert [name for name, _ in events][-2:] == ["content_block_delta", "error"]
        assert json.loads(events[-1][1]) == {"type": "error",
                                             "error": {"type": "overloaded_error", "message": "Overloaded"}}

        with connect_sse(client, "POST", f"{loopback.openai_base_url}/chat/completions",
                         json=openai_body("p", stream=True)) as source:
            data = [json.loads(e.data) for e in source.iter_sse()]
        assert "error" in data[-1] and data[-1]["error"]["type"] == "server_error"
        assert all("error" not in d for d in data[:-1])


def test_stream_error_on_a_whole_body_is_an_error_object_in_a_200(loopback: LoopbackServer) -> None:
    loopback.script("*", Fault.stream_error())
    response = chat(loopback, "p")
    assert response.status_code == 200
    assert response.json()["error"]["code"] == "server_is_overloaded"


def test_hang_holds_until_the_client_times_out(loopback: LoopbackServer) -> None:
    loopback.script("*", Fault.hang())
    with pytest.raises(httpx.ReadTimeout):
        chat(loopback, "p", timeout=0.3)
    assert chat(loopback, "p").status_code == 200
    assert loopback.stats().by_fault == {"hang": 1, "ok": 1}


def test_a_hanging_connection_does_not_keep_the_server_from_stopping() -> None:
    server = LoopbackServer(lifetime_s=60).start()
    server.script("*", Fault.hang())

    async def hang_then_stop() -> type[BaseException]:
        async with httpx.AsyncClient(timeout=30) as client:
            request = asyncio.create_task(client.post(f"{server.openai_base_url}/chat/completions",
                                                      json=openai_body("p")))
            while server.stats().total == 0:
                await asyncio.sleep(0.01)
            await asyncio.to_thread(server.stop)
            with pytest.raises(httpx.TransportError) as raised:
                await request
            return raised.type

    assert issubclass(asyncio.run(hang_then_stop()), httpx.RemoteProtocolError)
    assert not server.running and server.stop_reason == "stopped"


def test_slow_is_an_answer_counted_as_slow(loopback: LoopbackServer) -> None:
    loopback.script("*", Fault.slow(0.01))
    assert chat(loopback, "p").status_code == 200
    assert loopback.stats().by_fault == {"slow": 1}


def test_fault_mix_is_seeded_and_counted() -> None:
    def statuses(seed: int) -> list[int]:
        mix = FaultMix(rate=0.5, kinds=("429", "500"), seed=seed)
        with LoopbackServer(faults=mix) as server, httpx.Client() as client:
            url = f"{server.openai_base_url}/chat/completions"
            codes = [client.post(url, json=openai_body(f"row-{i}")).status_code for i in range(40)]
            stats = server.stats()
        assert sum(stats.by_fault.values()) == 40
        assert stats.by_fault.get("429", 0) == codes.count(429)
        assert stats.answered == codes.count(200)
        return codes

    first = statuses(seed=3)
    assert first == statuses(seed=3)
    assert {429, 500, 200} <= set(first)


def test_scripts_come_before_the_fault_mix() -> None:
    with LoopbackServer(faults=FaultMix(rate=1.0, kinds=("503",))) as server:
        server.script("gpt-x", Fault.ok())
        assert chat(server, "p").status_code == 200
        assert chat(server, "p").status_code == 503


def test_unknown_fault_names_are_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        FaultMix(kinds=("429", "explode"))


# --- counts ---------------------------------------------------------------------------------


def test_stats_records_and_per_prompt_counts(loopback: LoopbackServer) -> None:
    loopback.script("gpt-x", Fault.status(500))
    for prompt in ("row-1: a", "row-2: b", "row-2: b", "row-3: c"):
        chat(loopback, prompt)
    httpx.post(f"{loopback.url}/v1/messages", json=anthropic_body("row-4: d"))

    stats = loopback.stats()
    assert (stats.total, stats.answered, stats.handler_errors) == (5, 4, 0)
    assert stats.by_model == {"gpt-x": 4, "claude-x": 1}
    assert stats.by_path == {"/v1/chat/completions": 4, "/v1/messages": 1}
    assert stats.by_fault == {"500": 1, "ok": 4}
    assert stats.by_status == {"500": 1, "200": 4}

    assert loopback.calls("row-2") == 2 and loopback.calls("row-2: b", exact=True) == 2
    assert loopback.calls("row-2", exact=True) == 0
    assert loopback.calls_by(r"row-(\d+)") == {"1": 1, "2": 2, "3": 1, "4": 1}
    assert loopback.calls_by(r"row-(\d+)", answered=True) == {"2": 2, "3": 1, "4": 1}

    records = loopback.requests
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert (records[0].method, records[0].path, records[0].model, records[0].fault) == (
        "POST", "/v1/chat/completions", "gpt-x", "500")
    assert records[0].body == openai_body("row-1: a")
    assert records[-1].prompt == "row-4: d"


def test_request_records_are_bounded() -> None:
    with LoopbackServer(record_limit=3) as server:
        for i in range(5):
            chat(server, f"row-{i}")
        assert [r.prompt for r in server.requests] == ["row-2", "row-3", "row-4"]
        assert server.stats().total == 5
        assert server.calls_by(r"row-(\d)") == {str(i): 1 for i in range(5)}


def test_unknown_paths_and_bad_bodies_get_errors_and_are_counted(loopback: LoopbackServer) -> None:
    assert httpx.post(f"{loopback.url}/v2/nothing", json={}).status_code == 404
    bad = httpx.post(f"{loopback.url}/v1/messages", json={"model": "claude-x", "messages": "nope"})
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"
    no_model = httpx.post(f"{loopback.openai_base_url}/chat/completions", content=b"not json")
    assert no_model.status_code == 400 and no_model.json()["error"]["type"] == "invalid_request_error"
    assert loopback.stats().by_fault == {"unknown_route": 1, "bad_body": 2}


def test_chunked_request_bodies_and_keep_alive(loopback: LoopbackServer) -> None:
    payload = json.dumps(openai_body("chunked row")).encode()

    def pieces() -> Any:
        yield from (payload[i : i + 7] for i in range(0, len(payload), 7))

    with httpx.Client() as client:
        first = client.post(f"{loopback.openai_base_url}/chat/completions", content=pieces())
        second = client.post(f"{loopback.openai_base_url}/chat/completions", json=openai_body("again"))
    assert first.json()["choices"][0]["message"]["content"] == "echo: chunked row"
    assert second.status_code == 200
    assert loopback.stats().connections == 1


def test_control_endpoints_report_counts(loopback: LoopbackServer) -> None:
    chat(loopback, "row-7")
    stats = httpx.get(f"{loopback.url}/_loopback/stats").json()
    assert stats["total"] == 1 and stats["by_model"] == {"gpt-x": 1}
    calls = httpx.get(f"{loopback.url}/_loopback/calls", params={"pattern": r"row-(\d+)", "answered": "1"})
    assert calls.json() == {"7": 1}
    assert loopback.stats().total == 1  # reading the counters is not a request


# --- bounded and self-stopping --------------------------------------------------------------


def test_stops_by_itself_after_max_requests() -> None:
    server = LoopbackServer(max_requests=3).start()
    try:
        with httpx.Client() as client:
            url = f"{server.openai_base_url}/chat/completions"
            assert [client.post(url, json=openai_body("p")).status_code for _ in range(3)] == [200] * 3
        assert server.wait_stopped(5)
        assert server.stop_reason == "max_requests"
        with pytest.raises(httpx.ConnectError):
            chat(server, "p")
    finally:
        server.stop()


def test_stops_by_itself_after_its_lifetime() -> None:
    server = LoopbackServer(lifetime_s=0.2).start()
    try:
        assert chat(server, "p").status_code == 200
        assert server.wait_stopped(5)
        assert server.stop_reason == "lifetime"
        with pytest.raises(httpx.ConnectError):
            chat(server, "p")
    finally:
        server.stop()


def test_only_binds_loopback_and_refuses_unbounded_settings(loopback: LoopbackServer) -> None:
    assert loopback.url.startswith("http://127.0.0.1:")
    with pytest.raises(ValueError):
        LoopbackServer(max_requests=0)
    with pytest.raises(ValueError):
        LoopbackServer(lifetime_s=0)


def test_command_line_serves_until_interrupted() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.loopback", "--port", "0", "--latency-ms", "1", "--lifetime-s", "30",
         "--text", "from the cli"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.removeprefix("listening on ")
        response = httpx.post(f"{url}/v1/chat/completions", json=openai_body("p"))
        assert response.json()["choices"][0]["message"]["content"] == "from the cli"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=10)
        assert process.returncode == 0
        assert "1 requests, 1 answered" in err
    finally:
        process.kill()
        process.wait()
