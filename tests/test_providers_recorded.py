"""Every recorded exchange in tests/data/recorded-http goes through the real adapter code.

For each interaction the recorded request body is decoded into our core ``Request`` (messages,
params, and the vendor fields we do not model as ``Params.extra``), sent through the adapter to an
``httpx.MockTransport`` that checks what the adapter sent against what the real SDK sent, and
answered with the recorded response. Success: the recorded text, tool calls, usage and finish
reason. Error: the right error class, status and code.

``EXPECTED`` must name every interaction in the folder (a new cassette without expectations fails
``test_every_recorded_interaction_has_an_expectation``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Callable
from urllib.parse import urlsplit

import httpx
import pytest

from mmo.core.errors import BadRequest, ModelNotFound, ProviderError, RateLimited
from mmo.core.types import Message, Params, Request, ToolCall, Usage, frozen_mapping
from mmo.providers.rate_limits import parse_rate_limits
from mmo.spec.tools import parse_tools, vendor_tool_choice
from tests.support.recorded import RECORDED, TEST_KEY, Interaction, all_interactions, collect, load_cassette, make_provider, run

INTERACTIONS = all_interactions()


@dataclass(frozen=True)
class Answer:
    text: str
    finish: str
    raw_finish: str
    usage: Usage
    reported_model: str
    tool_calls: tuple[tuple[str, str, Any], ...] = ()  # (id, name, parsed arguments)
    avg_logprob: float | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Fails:
    cls: type[ProviderError]
    status: int
    code: str | None
    says: str  # part of the provider's own message
    retry_after: float | None = None


_CAPITAL_UK = "The capital of the UK is London."
_GROQ_ANSWER = (
    "The first call failed due to missing and extra parameters, as expected. The second call succeeded and "
    'returned: "Something with name: test".'
)
_O3_ANSWER = (
    "The capital of Mexico is Mexico City. It is not only the seat of the federal government but also a major "
    "cultural, political, and economic center in the country."
)
_OPENROUTER_429 = Fails(RateLimited, 429, "429", "temporarily rate-limited upstream", retry_after=None)

EXPECTED: dict[str, Answer | Fails] = {
    # OpenAI
    "openai/pydantic-ai__test_openai_instructions.yaml#0": Answer(
        "The capital of France is Paris.", "stop", "stop", Usage(24, 8, 0, 0), "gpt-4o-2024-08-06"
    ),
    "openai/pydantic-ai__test_reasoning_model_o3_mini.yaml#0": Answer(
        _O3_ANSWER, "stop", "stop", Usage(13, 238, 0, 192), "o3-mini-2025-01-31"
    ),
    "openai/pydantic-ai__test_openai_native_output.yaml#0": Answer(
        "", "tool_calls", "tool_calls", Usage(71, 12, 0, 0), "gpt-4o-2024-08-06",
        tool_calls=(("call_PkRGedQNRFUzJp2R7dO7avWR", "get_user_country", {}),),
    ),
    "openai/pydantic-ai__test_openai_native_output.yaml#1": Answer(
        '{"city":"Mexico City","country":"Mexico"}', "stop", "stop", Usage(92, 15, 0, 0), "gpt-4o-2024-08-06"
    ),
    "openai/pydantic-ai__test_run_stream_sync_streams_real_model.yaml#0": Answer(
        "", "tool_calls", "tool_calls", Usage(53, 15, 0, 0), "gpt-4o-mini-2024-07-18",
        tool_calls=(("call_ZR5UUuTt3pf61kjwAJIYdVMj", "get_capital", {"country": "UK"}),),
    ),
    "openai/pydantic-ai__test_run_stream_sync_streams_real_model.yaml#1": Answer(
        _CAPITAL_UK, "stop", "stop", Usage(78, 9, 0, 0), "gpt-4o-mini-2024-07-18"
    ),
    "openai/pydantic-ai__test_openai_web_search_tool_model_not_supported.yaml#0": Fails(
        BadRequest, 400, "invalid_request_error", "Web search options not supported with this model."
    ),
    "openai/pydantic-ai__test_openai_o1_mini_system_role-system.yaml#0": Fails(
        BadRequest, 400, "unsupported_value", "does not support 'system' with this model"
    ),
    # OpenAI-compatible servers
    "openai-compatible/pydantic-ai__test_groq_tool_use_failed_error.yaml#0": Fails(
        BadRequest, 400, "tool_use_failed", "Tool call validation failed"
    ),
    "openai-compatible/pydantic-ai__test_groq_tool_use_failed_error.yaml#1": Answer(
        "", "tool_calls", "tool_calls", Usage(301, 52, 0, 22), "openai/gpt-oss-120b",
        tool_calls=(("fc_311ba17b-89f9-48d3-8fd9-7e74a1264855", "get_something_by_name", {"name": "test"}),),
    ),
    "openai-compatible/pydantic-ai__test_groq_tool_use_failed_error.yaml#2": Answer(
        _GROQ_ANSWER, "stop", "stop", Usage(336, 96, 256, 59), "openai/gpt-oss-120b"
    ),
    "openai-compatible/pydantic-ai__test_ollama_local_native_output_uses_json_schema.yaml#0": Answer(
        '{ "city": "Paris", "country": "France" }', "stop", "stop", Usage(136, 15, 0, 0), "qwen3:0.6b"
    ),
    "openai-compatible/pydantic-ai__test_openrouter_errors_raised.yaml#0": _OPENROUTER_429,
    "openai-compatible/pydantic-ai__test_openrouter_errors_raised.yaml#1": _OPENROUTER_429,
    "openai-compatible/pydantic-ai__test_openrouter_errors_raised.yaml#2": _OPENROUTER_429,
    # Anthropic
    "anthropic/llm-anthropic__test_prompt.yaml#0": Answer(
        "- Captain\n- Scoop", "stop", "end_turn", Usage(17, 10, 0, 0), "claude-sonnet-4-5-20250929"
    ),
    "anthropic/llm-anthropic__test_schema_prompt.yaml#0": Answer(
        '{"name": "Biscuit", "age": 4, "bio": "Biscuit is a golden retriever with a gentle soul and boundless '
        "enthusiasm. He greets every person with a wagging tail and has an uncanny ability to sense when someone "
        "needs comfort. His favorite activities include playing fetch at the beach, napping in sunny spots, and "
        'stealing socks to add to his secret collection under the bed."}',
        "stop", "end_turn", Usage(230, 94, 0, 0), "claude-sonnet-4-5-20250929",
    ),
    "anthropic/pydantic-ai__test_anthropic_count_tokens_error_404.yaml#0": Fails(
        ModelNotFound, 404, "not_found_error", "model: claude-does-not-exist"
    ),
    "anthropic/pydantic-ai__test_anthropic_effort_unsupported_400.yaml#0": Fails(
        BadRequest, 400, "invalid_request_error", "does not support effort level 'xhigh'"
    ),
    "anthropic/pydantic-ai__test_anthropic_model_instructions.yaml#0": Answer(
        "The capital of France is Paris.", "stop", "end_turn", Usage(20, 10, 0, 0), "claude-3-opus-20240229"
    ),
    "anthropic/pydantic-ai__test_anthropic_tool_output.yaml#0": Answer(
        "", "tool_calls", "tool_use", Usage(445, 23, 0, 0), "claude-sonnet-4-5-20250929",
        tool_calls=(("toolu_01X9wcHKKAZD9tBC711xipPa", "get_user_country", {}),),
    ),
    "anthropic/pydantic-ai__test_anthropic_tool_output.yaml#1": Answer(
        "", "tool_calls", "tool_use", Usage(497, 56, 0, 0), "claude-sonnet-4-5-20250929",
        tool_calls=(("toolu_01LZABsgreMefH2Go8D5PQbW", "final_result", {"city": "Mexico City", "country": "Mexico"}),),
    ),
    "anthropic/pydantic-ai__test_request_stream_fallback_for_high_max_tokens.yaml#0": Answer(
        "2", "stop", "end_turn", Usage(20, 5, 0, 0), "claude-sonnet-4-5-20250929"
    ),
    # Gemini (thoughts are output: 9 + 34; 7 + 73)
    "gemini/pydantic-ai__test_google_model.yaml#0": Answer(
        "Hello! How can I help you today?", "stop", "STOP", Usage(9, 43, 0, 34), "gemini-2.5-flash"
    ),
    "gemini/pydantic-ai__test_google_model_max_tokens.yaml#0": Answer(
        "The capital of France is", "length", "MAX_TOKENS", Usage(15, 5, 0, 0), "gemini-2.5-flash"
    ),
    "gemini/pydantic-ai__test_google_model_safety_settings.yaml#0": Answer(
        "", "content_filter", "SAFETY", Usage(14, 0, 0, 0), "gemini-1.5-flash"
    ),
    "gemini/pydantic-ai__test_google_model_stream_sse.yaml#0": Answer(
        "The capital of France is Paris.\n", "stop", "STOP", Usage(13, 8, 0, 0), "gemini-2.0-flash-exp"
    ),
    "gemini/pydantic-ai__test_google_native_output.yaml#0": Answer(
        '{\n  "city": "Mexico City",\n  "country": "Mexico"\n}', "stop", "STOP", Usage(8, 20, 0, 0), "gemini-2.0-flash",
        avg_logprob=-4.7391682164743544e-05,
    ),
    "gemini/pydantic-ai__test_google_vertex_logprobs.yaml#0": Answer(
        "2 + 2 = 4", "stop", "STOP", Usage(7, 80, 0, 73), "gemini-2.5-flash", avg_logprob=-1.0858495576041085
    ),
}

_O1_MINI = "openai/pydantic-ai__test_openai_o1_mini_system_role-system.yaml#0"
_COUNT_TOKENS = "anthropic/pydantic-ai__test_anthropic_count_tokens_error_404.yaml#0"
_VERTEX = "gemini/pydantic-ai__test_google_vertex_logprobs.yaml#0"
_STRICT_TOOLS = "openai/pydantic-ai__test_run_stream_sync_streams_real_model.yaml"

# Where what our adapter sends differs, on purpose, from what the recording's client sent.
BODY_CHANGES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    # o1-mini rejects the system role (the recorded 400): our rules merge it into the user turn.
    _O1_MINI: lambda b: {**b, "messages": [{"role": "user", "content": "You are a helpful assistant.\n\nHello"}]},
    # Recorded against count_tokens; replayed against a messages call, which needs max_tokens.
    _COUNT_TOKENS: lambda b: {**b, "max_tokens": 4096, "stream": False},
    # OpenAI's "strict" flag is read from a tools file but not sent (no other vendor has one).
    **{_STRICT_TOOLS + f"#{n}": lambda b: {**b, "tools": [{**t, "function": {k: v for k, v in t["function"].items() if k != "strict"}} for t in b["tools"]]}
       for n in (0, 1)},
}
EXPECTED_WARNINGS = {_O1_MINI: ("system role merged into the first user message for o1-mini",)}


def test_every_recorded_interaction_has_an_expectation() -> None:
    found = {i.id for i in INTERACTIONS}
    assert found == set(EXPECTED), f"missing: {sorted(found - set(EXPECTED))}; stale: {sorted(set(EXPECTED) - found)}"
    # Counted without the loader, so a cassette it misreads cannot shrink the set unnoticed.
    files = sorted(RECORDED.rglob("*.yaml"))
    raw_count = sum(p.read_text(encoding="utf-8").count("\n- request:") for p in files)
    assert len(INTERACTIONS) == len(found) == raw_count
    stated = re.search(r"\*\*(\d+) interactions in (\d+) cassette files\*\*", (RECORDED / "README.md").read_text(encoding="utf-8"))
    assert stated is not None and (int(stated[1]), int(stated[2])) == (raw_count, len(files))


@pytest.mark.parametrize("interaction", INTERACTIONS, ids=lambda i: i.id)
def test_recorded_interaction_through_the_adapter(interaction: Interaction) -> None:
    call = _call_for(interaction)
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return interaction.response()

    warnings: list[str] = []
    provider = make_provider(call.kind, handler, name=call.provider, base_url=call.base_url, warnings=warnings)
    expected = EXPECTED[interaction.id]
    if isinstance(expected, Fails):
        with pytest.raises(expected.cls) as caught:
            run(_answer(provider, call))
        _check_error(caught.value, expected, call)
    else:
        _check_answer(run(_answer(provider, call)), expected, call)
    assert len(sent) == 1
    _check_request(sent[0], interaction, call)
    assert tuple(warnings) == EXPECTED_WARNINGS.get(interaction.id, ())


def test_vertex_body_parses_like_gemini() -> None:
    vertex = next(i for i in INTERACTIONS if i.id == _VERTEX)
    assert "aiplatform.googleapis.com" in vertex.uri and "/v1beta1/projects/" in vertex.uri
    assert _call_for(vertex).kind == "gemini"  # replayed through GeminiProvider above


def test_anthropic_rate_limit_headers_from_a_recording() -> None:
    (prompt,) = load_cassette(RECORDED / "anthropic" / "llm-anthropic__test_prompt.yaml")
    info = parse_rate_limits(dict(prompt.headers), now=datetime(2026, 2, 17, 23, 44, 1, tzinfo=UTC))
    assert info is not None
    assert (info.limit_requests, info.remaining_requests, info.reset_requests_s) == (20000, 19999, 10.0)
    assert (info.limit_tokens, info.remaining_tokens, info.reset_tokens_s) == (2400000, 2400000, 10.0)


def test_a_streamed_answer_carries_its_rate_limit_headers() -> None:
    """The limits guard pauses a model whose answer says nothing is left: the adapter must hand
    the parsed headers on with the completion."""
    (prompt,) = load_cassette(RECORDED / "anthropic" / "llm-anthropic__test_prompt.yaml")
    call = _call_for(prompt)
    provider = make_provider(call.kind, lambda request: prompt.response(), name=call.provider, base_url=call.base_url)
    completion = run(_answer(provider, call))
    assert completion.rate_limits is not None
    assert (completion.rate_limits.limit_requests, completion.rate_limits.remaining_requests) == (20000, 19999)
    assert completion.rate_limits.limit_tokens == 2400000


# ---------------------------------------------------------------------------------------------
# One call per interaction


@dataclass(frozen=True)
class Call:
    kind: str
    provider: str
    base_url: str
    model: str
    stream: bool
    request: Request
    path: str
    query: dict[str, str] = field(default_factory=dict)


async def _answer(provider: Any, call: Call) -> Any:
    if not call.stream:
        return await provider.complete(call.request, call.model)
    texts, final = await collect(provider.stream(call.request, call.model))
    assert "".join(texts) == final.text
    return final


def _call_for(interaction: Interaction) -> Call:
    url, body = urlsplit(interaction.uri), interaction.request_body
    host = f"{url.scheme}://{url.netloc}"
    if interaction.vendor in ("openai", "openai-compatible"):
        base = interaction.uri.split("?")[0].removesuffix("/chat/completions")
        name = {"api.groq.com": "groq", "openrouter.ai": "openrouter", "localhost:11434": "ollama"}.get(url.netloc, "openai")
        return Call("openai", name, base, body["model"], bool(body.get("stream")), _openai_request(body), urlsplit(base).path + "/chat/completions")
    if interaction.vendor == "anthropic":
        return Call("anthropic", "anthropic", host, body["model"], bool(body.get("stream")), _anthropic_request(body), "/v1/messages")
    model, _, action = url.path.rsplit("/models/", 1)[1].partition(":")
    stream = action == "streamGenerateContent"
    path = f"/v1beta/models/{model}:{action}"  # Vertex recordings are replayed on the Gemini API path
    return Call("gemini", "gemini", host, model, stream, _gemini_request(body), path, {"alt": "sse"} if stream else {})


def _check_answer(completion: Any, expected: Answer, call: Call) -> None:
    assert completion.text == expected.text
    assert completion.finish_reason == expected.finish
    assert completion.raw_finish_reason == expected.raw_finish
    assert completion.usage == expected.usage
    assert completion.reported_model == expected.reported_model
    assert completion.model_id == f"{call.provider}:{call.model}"
    assert [(t.id, t.name, t.parsed_arguments()) for t in completion.tool_calls] == list(expected.tool_calls)
    assert all(isinstance(t, ToolCall) and isinstance(t.arguments, str) for t in completion.tool_calls)
    assert completion.avg_logprob == expected.avg_logprob
    assert completion.latency_ms > 0 and completion.cost.usd is None
    assert (completion.ttft_ms is not None) == (call.stream and bool(expected.text))


def _check_error(error: ProviderError, expected: Fails, call: Call) -> None:
    assert type(error) is expected.cls
    assert (error.status, error.code, error.retry_after) == (expected.status, expected.code, expected.retry_after)
    assert expected.says in error.provider_message
    assert (error.provider, error.model) == (call.provider, call.model)


# ---------------------------------------------------------------------------------------------
# What the adapter sent, against what the recording's client sent


def _check_request(request: httpx.Request, interaction: Interaction, call: Call) -> None:
    assert request.method == interaction.method == "POST"
    assert request.url.path == call.path
    assert dict(request.url.params) == call.query
    assert "key" not in request.url.params  # never the ?key= form: URLs get logged
    auth = {"openai": "authorization", "anthropic": "x-api-key", "gemini": "x-goog-api-key"}[call.kind]
    assert TEST_KEY in request.headers[auth]
    if call.kind == "anthropic":
        assert request.headers["anthropic-version"] == "2023-06-01"
    recorded = BODY_CHANGES.get(interaction.id, lambda b: b)(dict(interaction.request_body))
    normalise = {"openai": _openai_canonical, "anthropic": _anthropic_canonical, "gemini": _gemini_canonical}[call.kind]
    assert normalise(json.loads(request.content)) == normalise(recorded)


def _openai_canonical(body: dict[str, Any]) -> dict[str, Any]:
    """An absent content and ``content: null`` mean the same on an assistant tool-call turn."""
    messages = [{k: v for k, v in m.items() if v is not None} for m in body["messages"]]
    return {**body, "messages": messages}


def _anthropic_canonical(body: dict[str, Any]) -> dict[str, Any]:
    """A string content is one text block; ``is_error: false`` is the default."""

    def block(b: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in b.items() if not (k == "is_error" and v is False)}

    messages = [
        {**m, "content": [{"type": "text", "text": m["content"]}] if isinstance(m["content"], str) else [block(b) for b in m["content"]]}
        for m in body["messages"]
    ]
    return {**body, "messages": messages}


def _gemini_canonical(body: dict[str, Any]) -> dict[str, Any]:
    """The system instruction's role is ignored by the API; an empty config is no config."""
    out = dict(body)
    if "systemInstruction" in out:
        out["systemInstruction"] = {"parts": out["systemInstruction"]["parts"]}
    if not out.get("generationConfig"):
        out.pop("generationConfig", None)
    return out


# ---------------------------------------------------------------------------------------------
# Recorded request bodies decoded into our Request (fields we do not model go to Params.extra)

_OPENAI_OWN = {"model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens", "temperature",
               "top_p", "stop", "seed", "response_format", "reasoning_effort", "logprobs", "top_logprobs", "tools", "tool_choice"}


def _tools(body: dict[str, Any]) -> dict[str, Any]:
    """The recorded tools and tool choice, read as a user's tools file is (any vendor's form)."""
    tools = parse_tools(body.get("tools", []))
    return {"tools": tools, "tool_choice": vendor_tool_choice(body.get("tool_choice"), tools)}


def _openai_request(body: dict[str, Any]) -> Request:
    messages = tuple(
        Message(
            m["role"],
            m.get("content") or "",
            tuple(ToolCall(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in m.get("tool_calls", ())),
            m.get("tool_call_id"),
            m.get("name"),
        )
        for m in body["messages"]
    )
    stop = body.get("stop") or ()
    params = Params(
        max_tokens=body.get("max_completion_tokens", body.get("max_tokens")),
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        stop=(stop,) if isinstance(stop, str) else tuple(stop),
        seed=body.get("seed"),
        response_format=body.get("response_format"),
        reasoning_effort=body.get("reasoning_effort"),
        logprobs=bool(body.get("logprobs")),
        top_logprobs=body.get("top_logprobs"),
        extra=frozen_mapping({k: v for k, v in body.items() if k not in _OPENAI_OWN}),
        **_tools(body),
    )
    return Request(messages, params)


_ANTHROPIC_OWN = {"model", "messages", "system", "max_tokens", "temperature", "top_p", "stop_sequences", "stream", "tools", "tool_choice"}


def _anthropic_request(body: dict[str, Any]) -> Request:
    messages: list[Message] = [Message("system", body["system"])] if body.get("system") else []
    for m in body["messages"]:
        blocks = [{"type": "text", "text": m["content"]}] if isinstance(m["content"], str) else m["content"]
        text = "".join(b["text"] for b in blocks if b["type"] == "text")
        if m["role"] == "assistant":
            calls = tuple(ToolCall(b["id"], b["name"], json.dumps(b["input"])) for b in blocks if b["type"] == "tool_use")
            messages.append(Message("assistant", text, calls))
            continue
        messages += [Message("tool", b["content"], tool_call_id=b["tool_use_id"]) for b in blocks if b["type"] == "tool_result"]
        if text:
            messages.append(Message("user", text))
    params = Params(
        max_tokens=body.get("max_tokens"),
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        stop=tuple(body.get("stop_sequences", ())),
        extra=frozen_mapping({k: v for k, v in body.items() if k not in _ANTHROPIC_OWN}),
        **_tools(body),
    )
    return Request(tuple(messages), params)


def _gemini_request(body: dict[str, Any]) -> Request:
    messages: list[Message] = []
    if "systemInstruction" in body:
        messages.append(Message("system", "".join(p["text"] for p in body["systemInstruction"]["parts"])))
    for content in body["contents"]:
        text = "".join(p.get("text", "") for p in content["parts"])
        messages.append(Message("assistant" if content["role"] == "model" else "user", text))
    config = dict(body.get("generationConfig") or {})
    response_format = None
    if config.pop("responseMimeType", None) == "application/json":
        schema = config.pop("responseJsonSchema", None)
        response_format = {"type": "json_schema", "json_schema": {"name": "response", "schema": schema}}
    extra = {k: v for k, v in body.items() if k not in ("contents", "systemInstruction", "generationConfig")}
    params = Params(
        max_tokens=config.pop("maxOutputTokens", None),
        temperature=config.pop("temperature", None),
        top_p=config.pop("topP", None),
        stop=tuple(config.pop("stopSequences", ())),
        seed=config.pop("seed", None),
        response_format=response_format,
        logprobs=bool(config.pop("responseLogprobs", False)),
        top_logprobs=config.pop("logprobs", None),
        extra=frozen_mapping({**extra, **({"generationConfig": config} if config else {})}),
    )
    return Request(tuple(messages), params)
