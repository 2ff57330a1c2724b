"""Error answers the recordings lack (wire-formats §0.3, §0.4), written by hand from the vendors'
documented shapes; streams that break; transport failures; the retry hints; and the edge cases of
successful answers (refusals, logprobs, blocks, unknown finish reasons) no recording shows."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from mmo.core.errors import (
    AuthFailed,
    BadRequest,
    ConfigError,
    ConnectionFailed,
    ContentFiltered,
    ContextTooLong,
    MalformedResponse,
    ModelNotFound,
    Overloaded,
    ProviderError,
    QuotaExhausted,
    RateLimited,
    ServerError,
    StreamCut,
    Timeout,
)
from mmo.core.types import Params, Request
from mmo.providers.http import make_client
from mmo.providers.rate_limits import parse_go_duration, parse_rate_limits, parse_retry_after
from tests.support.recorded import (
    TEST_KEY,
    ChunkedStream,
    collect,
    json_answer,
    make_provider,
    run,
    sse,
    stream_answer,
)

ASK = Request.from_prompt("Hello")
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-2.5-flash"}


def complete(kind: str, handler: Any, request: Request = ASK) -> Any:
    return run(make_provider(kind, handler).complete(request, MODELS[kind]))


def stream(kind: str, handler: Any, request: Request = ASK) -> tuple[list[str], Any]:
    return run(collect(make_provider(kind, handler).stream(request, MODELS[kind])))


def failure(kind: str, handler: Any, *, streaming: bool = False) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        stream(kind, handler) if streaming else complete(kind, handler)
    return caught.value


def _openai_error(message: str, code: Any = None, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _anthropic_error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_011C"}


def _gemini_error(code: int, status: str, message: str, *details: dict[str, Any]) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status, "details": list(details)}}


_RETRY_INFO = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}
_PER_DAY = {
    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
    "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                    "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier", "quotaValue": "250"}],
}
_PER_MINUTE = {
    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
    "violations": [{"quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier", "quotaValue": "10"}],
}
_KEY_INVALID = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}

# (wire kind, status, body, headers) -> (class, retry_after, code)
STATUS_CASES: list[tuple[str, int, Any, dict[str, str], type[ProviderError], float | None, str | None]] = [
    ("openai", 429, _openai_error("Rate limit reached for requests", "rate_limit_exceeded", "requests"), {"retry-after": "7"}, RateLimited, 7.0, "rate_limit_exceeded"),
    ("openai", 429, _openai_error("slow down", "rate_limit_exceeded"), {"retry-after-ms": "1500", "retry-after": "3"}, RateLimited, 1.5, "rate_limit_exceeded"),
    ("openai", 429, _openai_error("You exceeded your current quota", "insufficient_quota", "insufficient_quota"), {}, QuotaExhausted, None, "insufficient_quota"),
    ("openai", 503, _openai_error("The server is overloaded", "server_is_overloaded", "server_error"), {}, Overloaded, None, "server_is_overloaded"),
    ("openai", 500, _openai_error("The server had an error", None, "server_error"), {}, ServerError, None, "server_error"),
    ("openai", 408, _openai_error("Request timed out"), {}, ServerError, None, "invalid_request_error"),
    ("openai", 409, _openai_error("Conflict"), {}, ServerError, None, "invalid_request_error"),
    ("openai", 401, _openai_error("Incorrect API key provided", "invalid_api_key"), {}, AuthFailed, None, "invalid_api_key"),
    ("openai", 403, _openai_error("You are not allowed to request logprobs from this model"), {}, AuthFailed, None, "invalid_request_error"),
    ("openai", 404, _openai_error("The model `gpt-9` does not exist", "model_not_found"), {}, ModelNotFound, None, "model_not_found"),
    ("openai", 400, _openai_error("This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.", "context_length_exceeded"), {}, ContextTooLong, None, "context_length_exceeded"),
    ("openai", 422, {"object": "error", "message": "Validation error", "type": "invalid_request_error"}, {}, BadRequest, None, "invalid_request_error"),
    ("openai", 402, _openai_error("Insufficient credits", 402), {}, QuotaExhausted, None, "402"),
    # Ollama, string and object shapes
    ("openai", 404, {"error": "model 'llama9' not found, try pulling it first"}, {}, ModelNotFound, None, None),
    ("openai", 500, {"error": {"message": 'model "llama9" not found, try pulling it first', "type": "api_error", "param": None, "code": None}}, {}, ModelNotFound, None, "api_error"),
    # vLLM's flat shape, old and new context-length forms
    ("openai", 400, {"object": "error", "message": "This model's maximum context length is 4096 tokens.", "type": "BadRequestError", "param": None, "code": 400}, {}, ContextTooLong, None, "400"),
    ("openai", 400, {"object": "error", "message": "bad tool choice", "type": "BadRequestError", "param": None, "code": 400}, {}, BadRequest, None, "400"),
    ("anthropic", 529, _anthropic_error("overloaded_error", "Overloaded"), {}, Overloaded, None, "overloaded_error"),
    ("anthropic", 429, _anthropic_error("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"), {"retry-after": "12"}, RateLimited, 12.0, "rate_limit_error"),
    ("anthropic", 402, _anthropic_error("billing_error", "Your credit balance is too low"), {}, QuotaExhausted, None, "billing_error"),
    ("anthropic", 401, _anthropic_error("authentication_error", "invalid x-api-key"), {}, AuthFailed, None, "authentication_error"),
    ("anthropic", 403, _anthropic_error("permission_error", "not allowed"), {}, AuthFailed, None, "permission_error"),
    ("anthropic", 404, _anthropic_error("not_found_error", "model: claude-nope"), {}, ModelNotFound, None, "not_found_error"),
    ("anthropic", 400, _anthropic_error("invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"), {}, ContextTooLong, None, "invalid_request_error"),
    ("anthropic", 500, _anthropic_error("api_error", "Internal server error"), {}, ServerError, None, "api_error"),
    ("anthropic", 504, _anthropic_error("timeout_error", "Request timeout"), {}, ServerError, None, "timeout_error"),
    ("anthropic", 409, _anthropic_error("conflict_error", "Conflict"), {}, ServerError, None, "conflict_error"),
    ("gemini", 400, _gemini_error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", _KEY_INVALID), {}, AuthFailed, None, "API_KEY_INVALID"),
    ("gemini", 429, _gemini_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded. Please retry in 37.2s.", _PER_MINUTE, _RETRY_INFO), {}, RateLimited, 37.0, "RESOURCE_EXHAUSTED"),
    ("gemini", 429, _gemini_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for the day.", _PER_DAY, _RETRY_INFO), {}, QuotaExhausted, 37.0, "RESOURCE_EXHAUSTED"),
    ("gemini", 503, _gemini_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later."), {}, Overloaded, None, "UNAVAILABLE"),
    ("gemini", 500, _gemini_error(500, "INTERNAL", "An internal error has occurred."), {}, ServerError, None, "INTERNAL"),
    ("gemini", 504, _gemini_error(504, "DEADLINE_EXCEEDED", "Deadline exceeded"), {}, ServerError, None, "DEADLINE_EXCEEDED"),
    ("gemini", 404, _gemini_error(404, "NOT_FOUND", "models/gemini-9 is not found for API version v1beta"), {}, ModelNotFound, None, "NOT_FOUND"),
    ("gemini", 403, _gemini_error(403, "PERMISSION_DENIED", "Permission denied"), {}, AuthFailed, None, "PERMISSION_DENIED"),
    ("gemini", 400, _gemini_error(400, "INVALID_ARGUMENT", "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."), {}, ContextTooLong, None, "INVALID_ARGUMENT"),
    ("gemini", 400, _gemini_error(400, "FAILED_PRECONDITION", "Gemini API free tier is not available in your country. Please enable billing."), {}, QuotaExhausted, None, "FAILED_PRECONDITION"),
    ("gemini", 400, _gemini_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received."), {}, BadRequest, None, "INVALID_ARGUMENT"),
]


@pytest.mark.parametrize(
    "kind, status, body, headers, cls, retry_after, code",
    STATUS_CASES,
    ids=[f"{c[0]}-{c[1]}-{c[4].__name__}-{i}" for i, c in enumerate(STATUS_CASES)],
)
@pytest.mark.parametrize("streaming", [False, True], ids=["complete", "stream"])
def test_error_answers_map_to_the_tree(kind, status, body, headers, cls, retry_after, code, streaming) -> None:
    error = failure(kind, json_answer(status, body, headers), streaming=streaming)
    assert type(error) is cls
    assert (error.status, error.retry_after, error.code) == (status, retry_after, code)
    assert (error.provider, error.model) == (kind, MODELS[kind])
    assert error.provider_message and error.provider_message in error.one_line()


def test_retryable_and_failover_flags_follow_the_class() -> None:
    quota = failure("openai", json_answer(429, _openai_error("quota", "insufficient_quota", "insufficient_quota")))
    limited = failure("openai", json_answer(429, _openai_error("slow down", "rate_limit_exceeded")))
    bad = failure("openai", json_answer(400, _openai_error("bad")))
    assert (quota.retryable, quota.failover) == (False, True)
    assert (limited.retryable, limited.failover) == (True, True)
    assert (bad.retryable, bad.failover) == (False, False)


@pytest.mark.parametrize(
    "status, body, cls",
    [
        (400, b"", BadRequest),
        (413, b"<html><body><h1>413 Request Entity Too Large</h1></body></html>", BadRequest),
        (502, b"<html>Bad Gateway</html>", ServerError),
        (302, b"", MalformedResponse),
    ],
)
@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini"])
def test_non_json_error_bodies(kind: str, status: int, body: bytes, cls: type[ProviderError]) -> None:
    error = failure(kind, lambda request: httpx.Response(status, content=body, headers={"content-type": "text/html"}))
    assert type(error) is cls and error.status == status
    assert (f"HTTP {status}" in error.provider_message) if not body else ("413" in error.provider_message or "Bad Gateway" in error.provider_message)


def test_openrouter_error_inside_a_200_answer() -> None:
    body = {"error": {"code": 502, "message": "Provider returned error", "metadata": {"raw": "upstream exploded"}}}
    error = failure("openai", json_answer(200, body))
    assert type(error) is ServerError and error.status == 502
    assert error.provider_message == "Provider returned error: upstream exploded"


def test_a_non_json_success_is_malformed() -> None:
    error = failure("openai", lambda request: httpx.Response(200, content=b"<html>login</html>"))
    assert type(error) is MalformedResponse


# ---------------------------------------------------------------------------------------------
# Streams


def _openai_chunk(delta: dict[str, Any], finish: str | None = None) -> str:
    return json.dumps({"model": "gpt-4o-mini-2024-07-18", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


_OPENAI_USAGE = json.dumps({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": 4}}})


def test_openai_stream_with_usage_only_chunk_and_keepalive_comments() -> None:
    body = sse(
        ": OPENROUTER PROCESSING",
        _openai_chunk({"role": "assistant", "content": ""}),
        _openai_chunk({"content": "Hel"}),
        json.dumps({"model": "x", "usage": None}),  # servers that omit "choices" entirely
        _openai_chunk({"content": "lo"}),
        _openai_chunk({}, "stop"),
        _OPENAI_USAGE,
        "[DONE]",
    )
    texts, final = stream("openai", stream_answer(body))
    assert texts == ["Hel", "lo"] and final.text == "Hello"
    assert final.usage.to_dict() == {"input_tokens": 9, "output_tokens": 3, "cached_tokens": 4, "reasoning_tokens": 0}
    assert final.finish_reason == "stop" and final.ttft_ms is not None


def test_openai_stream_accumulates_several_tool_calls_by_index() -> None:
    def fragment(index: int, **function: str) -> str:
        call: dict[str, Any] = {"index": index, "function": function}
        if "name" in function:
            call.update(id=f"call_{index}x", type="function")
        return _openai_chunk({"tool_calls": [call]})

    body = sse(
        fragment(0, name="a", arguments=""), fragment(1, name="b", arguments='{"y"'),
        fragment(0, arguments='{"x": 1}'), fragment(1, arguments=": 2}"),
        _openai_chunk({}, "tool_calls"), "[DONE]",
    )
    _, final = stream("openai", stream_answer(body))
    assert [(t.id, t.name, t.parsed_arguments()) for t in final.tool_calls] == [("call_0x", "a", {"x": 1}), ("call_1x", "b", {"y": 2})]
    assert final.finish_reason == "tool_calls"


def test_openai_refusal_becomes_text_with_content_filter() -> None:
    body = {"model": "gpt-4o", "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": None, "refusal": "I can't help with that."}}]}
    completion = complete("openai", json_answer(200, body))
    assert (completion.text, completion.finish_reason, completion.raw_finish_reason) == ("I can't help with that.", "content_filter", "stop")


def test_openai_content_filter_is_a_finish_reason_not_an_error() -> None:
    body = {"model": "gpt-4o", "choices": [{"index": 0, "finish_reason": "content_filter", "message": {"content": "Part"}}]}
    completion = complete("openai", json_answer(200, body))
    assert (completion.text, completion.finish_reason) == ("Part", "content_filter")


def test_openai_logprobs_average_over_the_answer_tokens() -> None:
    logprobs = {"content": [{"token": "Yes", "logprob": -0.25, "top_logprobs": []}, {"token": ".", "logprob": -0.75}]}
    body = {"model": "gpt-4o", "choices": [{"index": 0, "finish_reason": "stop", "logprobs": logprobs, "message": {"content": "Yes."}}]}
    assert complete("openai", json_answer(200, body)).avg_logprob == -0.5
    chunks = sse(
        json.dumps({"choices": [{"index": 0, "delta": {"content": "Yes"}, "logprobs": {"content": [logprobs["content"][0]]}}]}),
        json.dumps({"choices": [{"index": 0, "delta": {"content": "."}, "logprobs": {"content": [logprobs["content"][1]]}, "finish_reason": "stop"}]}),
        "[DONE]",
    )
    assert stream("openai", stream_answer(chunks))[1].avg_logprob == -0.5


def test_groq_usage_nested_under_x_groq() -> None:
    body = sse(_openai_chunk({"content": "Hi"}, "stop"), json.dumps({"choices": [], "x_groq": {"usage": {"prompt_tokens": 4, "completion_tokens": 1}}}), "[DONE]")
    assert stream("openai", stream_answer(body))[1].usage.to_dict()["input_tokens"] == 4


def test_unknown_finish_reasons_become_other() -> None:
    body = {"model": "m", "choices": [{"index": 0, "finish_reason": "brand_new_reason", "message": {"content": "x"}}]}
    completion = complete("openai", json_answer(200, body))
    assert (completion.finish_reason, completion.raw_finish_reason) == ("other", "brand_new_reason")


_ANTHROPIC_START = 'event: message_start\ndata: {"type":"message_start","message":{"model":"claude-haiku-4-5","usage":{"input_tokens":5,"cache_read_input_tokens":100,"cache_creation_input_tokens":7,"output_tokens":1}}}   '


def _anthropic_text(text: str) -> str:
    return "event: content_block_delta\ndata: " + json.dumps({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}})


_ANTHROPIC_OVERLOADED = 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'


def test_anthropic_stream_usage_counts_cache_reads_and_writes_as_input() -> None:
    body = sse(
        _ANTHROPIC_START,
        'event: ping\ndata: {"type": "ping"}',
        'event: brand_new_event\ndata: {"type": "brand_new_event"}',
        _anthropic_text("Hi"),
        'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"refusal"},"usage":{"output_tokens":4}}',
        'event: message_delta\ndata: {"type":"message_delta","delta":{},"usage":{"output_tokens":6}}',
        'event: message_stop\ndata: {"type":"message_stop"}',
        separator="\r\n\r\n",
    )
    _, final = stream("anthropic", stream_answer(body))
    assert final.usage.to_dict() == {"input_tokens": 112, "output_tokens": 6, "cached_tokens": 100, "reasoning_tokens": 0}
    assert (final.finish_reason, final.raw_finish_reason) == ("content_filter", "refusal")


def test_anthropic_stream_tool_use_input_fragments() -> None:
    body = sse(
        _ANTHROPIC_START,
        'event: content_block_start\ndata: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{}}}',
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"a\\": "}}',
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"1}"}}',
        'event: content_block_start\ndata: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_2","name":"g","input":{}}}',
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}',
        'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":9}}',
        'event: message_stop\ndata: {"type":"message_stop"}',
    )
    _, final = stream("anthropic", stream_answer(body))
    assert [(t.id, t.name, t.parsed_arguments()) for t in final.tool_calls] == [("toolu_1", "f", {"a": 1}), ("toolu_2", "g", {})]
    assert final.finish_reason == "tool_calls"


def _gemini_chunk(text: str, finish: str | None = None) -> str:
    candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}}
    if finish:
        candidate["finishReason"] = finish
    return json.dumps({"candidates": [candidate], "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2}, "modelVersion": "gemini-2.5-flash"})


_GEMINI_ERROR_EVENT = json.dumps(_gemini_error(503, "UNAVAILABLE", "The model is overloaded."))

# Per vendor: a stream that shows text and then reports an overload after the 200.
MID_STREAM_ERRORS = {
    "openai": (sse(_openai_chunk({"content": "Par"}), json.dumps({"error": {"message": "overloaded", "type": "server_error", "code": 503}})), Overloaded),
    "anthropic": (sse(_ANTHROPIC_START, _anthropic_text("Par"), _ANTHROPIC_OVERLOADED), Overloaded),
    "gemini": (sse(_gemini_chunk("Par"), _GEMINI_ERROR_EVENT, separator="\r\n\r\n"), Overloaded),
}


@pytest.mark.parametrize("kind", sorted(MID_STREAM_ERRORS))
def test_error_event_after_text_is_a_stream_cut_keeping_the_text(kind: str) -> None:
    body, cause = MID_STREAM_ERRORS[kind]
    error = failure(kind, stream_answer(body), streaming=True)
    assert type(error) is StreamCut and error.partial_text == "Par"
    assert type(error.__cause__) is cause and error.retryable
    assert "overloaded" in error.provider_message.lower()


MID_STREAM_ERRORS_BEFORE_TEXT = {
    "openai": sse(json.dumps({"error": {"message": "overloaded", "type": "server_error", "code": 503}})),
    "anthropic": sse(_ANTHROPIC_START, _ANTHROPIC_OVERLOADED),
    "gemini": sse(_GEMINI_ERROR_EVENT, separator="\r\n\r\n"),
}


@pytest.mark.parametrize("kind", sorted(MID_STREAM_ERRORS_BEFORE_TEXT))
def test_error_event_before_any_text_is_the_mapped_error(kind: str) -> None:
    error = failure(kind, stream_answer(MID_STREAM_ERRORS_BEFORE_TEXT[kind]), streaming=True)
    assert type(error) is Overloaded


def test_a_permanent_error_event_after_text_is_not_turned_into_a_retryable_cut() -> None:
    body = sse(_ANTHROPIC_START, _anthropic_text("Par"), 'event: error\ndata: {"type":"error","error":{"type":"invalid_request_error","message":"bad"}}')
    assert type(failure("anthropic", stream_answer(body), streaming=True)) is BadRequest


TRUNCATED_STREAMS = {
    "openai": sse(_openai_chunk({"content": "Hello wor"})),
    "anthropic": sse(_ANTHROPIC_START, _anthropic_text("Hello wor")),
    "gemini": sse(_gemini_chunk("Hello wor"), separator="\r\n\r\n"),
}


@pytest.mark.parametrize("kind", sorted(TRUNCATED_STREAMS))
def test_stream_dropped_mid_way_is_a_cut_with_the_partial_text(kind: str) -> None:
    drop = httpx.RemoteProtocolError("peer closed connection without sending complete message body")
    error = failure(kind, stream_answer(TRUNCATED_STREAMS[kind], fail_with=drop), streaming=True)
    assert type(error) is StreamCut and error.partial_text == "Hello wor"
    assert isinstance(error.__cause__, httpx.RemoteProtocolError)


@pytest.mark.parametrize("kind", sorted(TRUNCATED_STREAMS))
def test_stream_closed_cleanly_before_its_end_is_a_cut(kind: str) -> None:
    error = failure(kind, stream_answer(TRUNCATED_STREAMS[kind]), streaming=True)
    assert type(error) is StreamCut and error.partial_text == "Hello wor"


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini"])
def test_connection_dropped_before_any_byte_is_connection_failed(kind: str) -> None:
    drop = httpx.ReadError("connection reset by peer")
    error = failure(kind, stream_answer(b"", fail_with=drop), streaming=True)
    assert type(error) is ConnectionFailed


@pytest.mark.parametrize("streaming", [False, True])
@pytest.mark.parametrize(
    "exc, cls",
    [
        (httpx.ConnectError("connection refused"), ConnectionFailed),
        (httpx.ConnectTimeout("timed out"), Timeout),
        (httpx.ReadTimeout("timed out"), Timeout),
        (httpx.RemoteProtocolError("server disconnected"), ConnectionFailed),
        (httpx.ProxyError("proxy said no"), ConnectionFailed),
    ],
)
def test_transport_failures(exc: Exception, cls: type[ProviderError], streaming: bool) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    error = failure("openai", handler, streaming=streaming)
    assert type(error) is cls and error.__cause__ is exc


@pytest.mark.parametrize("base_url", ["localhost:11434/v1", "http://", "ftp://example.com", "https://[::1"])
def test_an_unusable_base_url_is_a_config_error(base_url: str) -> None:
    with pytest.raises(ConfigError, match="must be an http"):
        make_provider("openai", json_answer(200, {}), base_url=base_url)


def test_openai_overload_code_inside_a_200_answer() -> None:
    body = _openai_error("The model is overloaded.", "server_is_overloaded", "server_error")
    assert type(failure("openai", json_answer(200, body))) is Overloaded


def test_timeout_s_bounds_the_attempt() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json={})

    request = ASK.with_params(Params(timeout_s=0.05))
    with pytest.raises(Timeout):
        run(make_provider("anthropic", slow).complete(request, "claude-haiku-4-5"))


@pytest.mark.parametrize(
    "content_type, body, cls",
    [
        ("application/json", json.dumps(_openai_error("quota", "insufficient_quota", "insufficient_quota")).encode(), QuotaExhausted),
        ("text/html", b"<html>captive portal</html>", MalformedResponse),
    ],
)
def test_a_stream_answer_that_is_not_an_event_stream(content_type: str, body: bytes, cls: type[ProviderError]) -> None:
    error = failure("openai", lambda request: httpx.Response(200, content=body, headers={"content-type": content_type}), streaming=True)
    assert type(error) is cls


def test_a_consumer_that_stops_early_closes_the_response() -> None:
    body = ChunkedStream(sse(_openai_chunk({"content": "one"}), _openai_chunk({"content": "two"}), "[DONE]"))
    provider = make_provider("openai", lambda request: httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=body))

    async def first_delta() -> str:
        deltas = provider.stream(ASK, "gpt-4o-mini")
        first = await anext(deltas)
        await deltas.aclose()
        return first.text

    assert run(first_delta()) == "one" and body.closed


def test_a_malformed_event_is_a_malformed_response() -> None:
    assert type(failure("openai", stream_answer(sse("{not json")), streaming=True)) is MalformedResponse


# ---------------------------------------------------------------------------------------------
# Gemini blocks


_BLOCKED_PROMPT = {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": {"promptTokenCount": 8}}


def test_gemini_blocked_prompt_raises_content_filtered() -> None:
    error = failure("gemini", json_answer(200, _BLOCKED_PROMPT))
    assert type(error) is ContentFiltered and error.code == "PROHIBITED_CONTENT" and not error.retryable
    streamed = failure("gemini", stream_answer(sse(json.dumps(_BLOCKED_PROMPT), separator="\r\n\r\n")), streaming=True)
    assert type(streamed) is ContentFiltered


def test_gemini_function_call_finishes_with_tool_calls() -> None:
    body = {"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {"q": "x"}}, "thoughtSignature": "abc"}]}, "finishReason": "STOP"}]}
    completion = complete("gemini", json_answer(200, body))
    assert completion.finish_reason == "tool_calls" and completion.raw_finish_reason == "STOP"
    assert [(t.name, t.parsed_arguments()) for t in completion.tool_calls] == [("f", {"q": "x"})]


def test_gemini_thought_parts_are_not_answer_text() -> None:
    body = {"candidates": [{"content": {"parts": [{"text": "thinking...", "thought": True}, {"text": "Answer"}]}, "finishReason": "STOP"}]}
    assert complete("gemini", json_answer(200, body)).text == "Answer"


# ---------------------------------------------------------------------------------------------
# The key never leaks


def _echo_headers(status: int, kind: str) -> Any:
    """A server that echoes every request header (and the URL) back in its error message."""

    def handler(request: httpx.Request) -> httpx.Response:
        echoed = f"bad request from {request.url} with headers {dict(request.headers)}"
        body = {
            "openai": _openai_error(echoed, echoed),
            "anthropic": _anthropic_error("authentication_error", echoed),
            "gemini": _gemini_error(400, "INVALID_ARGUMENT", echoed, {"reason": echoed}),
        }[kind]
        return httpx.Response(status, json=body)

    return handler


@pytest.mark.parametrize("streaming", [False, True])
@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini"])
def test_the_api_key_never_appears_in_an_error(kind: str, streaming: bool) -> None:
    error = failure(kind, _echo_headers(401, kind), streaming=streaming)
    assert "[redacted]" in error.provider_message  # the echo did happen
    for shown in (str(error), repr(error), error.one_line(), error.provider_message, json.dumps(error.to_dict())):
        assert TEST_KEY not in shown


def test_the_api_key_never_appears_in_a_transport_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"could not connect; headers were {dict(request.headers)}")

    error = failure("openai", handler)
    assert TEST_KEY not in str(error) and TEST_KEY not in json.dumps(error.to_dict())


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini"])
def test_identity_and_repr_hold_no_key(kind: str) -> None:
    provider = make_provider(kind, json_answer(200, {}))
    assert TEST_KEY not in repr(provider) and TEST_KEY not in json.dumps(dict(provider.identity()))
    assert dict(provider.identity()) == {"kind": kind, "base_url": provider.base_url}


def test_no_auth_header_without_a_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"model": "m", "choices": [{"index": 0, "finish_reason": "stop", "message": {"content": "ok"}}]})

    provider = make_provider("openai", handler, key=None, base_url="http://localhost:11434/v1")
    assert run(provider.complete(ASK, "llama3.1:8b")).text == "ok"
    assert "authorization" not in seen[0].headers


# ---------------------------------------------------------------------------------------------
# Retry hints and rate-limit headers


_NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "headers, seconds",
    [
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "9"}, 9.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after": "Mon, 23 Nov 2026 12:00:30 GMT"}, 30.0),
        ({"retry-after": "Mon, 23 Nov 2026 11:59:00 GMT"}, 0.0),
        ({"retry-after": "-4"}, 0.0),
        ({"retry-after-ms": "-10"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after-ms": "nan", "retry-after": "2"}, 2.0),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], seconds: float | None) -> None:
    assert parse_retry_after(httpx.Headers(headers), now=_NOW) == seconds


@pytest.mark.parametrize(
    "text, seconds",
    [("6m0s", 360.0), ("1h2m3.5s", 3723.5), ("2ms", 0.002), ("0s", 0.0), ("0", 0.0), ("37s", 37.0),
     ("1.5h", 5400.0), ("250us", 0.00025), ("", None), ("12", None), ("-1s", None), ("5 minutes", None), (None, None)],
)
def test_parse_go_duration(text: str | None, seconds: float | None) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds) if seconds is not None else parse_go_duration(text) is None


def test_openai_rate_limit_headers() -> None:
    headers = httpx.Headers({
        "x-ratelimit-limit-requests": "30000", "x-ratelimit-limit-tokens": "150000000",
        "x-ratelimit-remaining-requests": "29999", "x-ratelimit-remaining-tokens": "149999993",
        "x-ratelimit-reset-requests": "2ms", "x-ratelimit-reset-tokens": "6m0s",
    })
    info = parse_rate_limits(headers)
    assert info is not None
    assert (info.limit_requests, info.remaining_requests, info.reset_requests_s) == (30000, 29999, 0.002)
    assert (info.limit_tokens, info.remaining_tokens, info.reset_tokens_s) == (150000000, 149999993, 360.0)


def test_rate_limit_placeholders_and_absence() -> None:
    info = parse_rate_limits(httpx.Headers({"x-ratelimit-limit-requests": "-1", "x-ratelimit-remaining-requests": "0"}))
    assert info is not None and info.limit_requests is None and info.remaining_requests == 0
    assert parse_rate_limits(httpx.Headers({"content-type": "application/json"})) is None


# ---------------------------------------------------------------------------------------------
# The shared client


def test_make_client_honours_http_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """A loopback "proxy" sees the absolute-form request line, which only a proxied client sends."""

    async def scenario() -> str:
        seen: list[str] = []

        async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append((await reader.readline()).decode())
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(proxy, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        async with server, make_client(timeout_s=5) as client:
            response = await client.get("http://api.example.invalid/v1/models")
        assert response.text == "ok"
        return seen[0]

    assert run(scenario()).startswith("GET http://api.example.invalid/v1/models HTTP/1.1")
