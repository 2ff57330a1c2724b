"""The capability table and the parameter rules, checked on the body each adapter actually sends;
and how each adapter encodes a tool-calling conversation (the recordings cover OpenAI and Anthropic
turns; Gemini's are checked here)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from mmo.catalog.rules import ParameterRules, apply_parameter_rules, parameter_rules_for
from mmo.catalog.windows import context_window
from mmo.core.types import Message, Params, Request, ToolCall
from tests.support.recorded import make_provider, run

_OPENAI_OK = {"model": "m", "choices": [{"index": 0, "finish_reason": "stop", "message": {"content": "ok"}}]}
_ANTHROPIC_OK = {"model": "m", "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn", "usage": {}}
_GEMINI_OK = {"candidates": [{"content": {"parts": [{"text": "ok"}]}, "finishReason": "STOP"}]}
_OK = {"openai": _OPENAI_OK, "anthropic": _ANTHROPIC_OK, "gemini": _GEMINI_OK}


def sent_body(kind: str, model: str, request: Request) -> tuple[dict[str, Any], list[str]]:
    """The JSON body the adapter sends for ``request``, and the warnings it reported."""
    bodies: list[dict[str, Any]] = []

    def handler(http_request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(http_request.content))
        return httpx.Response(200, json=_OK[kind])

    warnings: list[str] = []
    assert run(make_provider(kind, handler, warnings=warnings).complete(request, model)).text == "ok"
    return bodies[0], warnings


def ask(params: Params, *, system: str | None = None) -> Request:
    return Request.from_prompt("Hi", system=system, params=params)


def test_gpt5_mini_body_lacks_sampling_params() -> None:
    body, warnings = sent_body("openai", "gpt-5-mini", ask(Params(temperature=0.2, top_p=0.9, max_tokens=100)))
    assert "temperature" not in body and "top_p" not in body
    assert body["max_completion_tokens"] == 100 and "max_tokens" not in body
    assert warnings == [
        "temperature dropped: gpt-5-mini accepts only the default",
        "top_p dropped: gpt-5-mini accepts only the default",
    ]  # max_tokens in the field the model reads changes nothing asked for: no warning


def test_o3_mini_uses_max_completion_tokens_and_drops_logprobs() -> None:
    body, warnings = sent_body("openai", "o3-mini", ask(Params(max_tokens=50, logprobs=True, top_logprobs=3)))
    assert body["max_completion_tokens"] == 50 and "max_tokens" not in body
    assert "logprobs" not in body and "top_logprobs" not in body
    assert warnings == ["logprobs dropped: o3-mini does not return logprobs"]


def test_o1_mini_gets_no_system_role() -> None:
    body, warnings = sent_body("openai", "o1-mini", ask(Params(), system="Be terse."))
    assert body["messages"] == [{"role": "user", "content": "Be terse.\n\nHi"}]
    assert warnings == ["system role merged into the first user message for o1-mini"]


def test_gpt4o_keeps_everything() -> None:
    params = Params(temperature=0.2, top_p=0.9, max_tokens=10, seed=7, logprobs=True, top_logprobs=2, stop=("\n",))
    body, warnings = sent_body("openai", "gpt-4o", ask(params, system="S"))
    assert warnings == []
    assert {k: body[k] for k in ("temperature", "top_p", "max_tokens", "seed", "logprobs", "top_logprobs", "stop")} == {
        "temperature": 0.2, "top_p": 0.9, "max_tokens": 10, "seed": 7, "logprobs": True, "top_logprobs": 2, "stop": ["\n"]
    }
    assert body["messages"][0] == {"role": "system", "content": "S"}


def test_gpt4o_rejects_reasoning_effort() -> None:
    body, warnings = sent_body("openai", "gpt-4o", ask(Params(reasoning_effort="low")))
    assert "reasoning_effort" not in body
    assert warnings == ["reasoning_effort dropped: gpt-4o does not accept it"]


def test_openrouter_style_names_match_their_family() -> None:
    body, _ = sent_body("openai", "openai/o3-mini", ask(Params(temperature=0.5)))
    assert "temperature" not in body


def test_unknown_openai_compatible_model_is_sent_as_asked() -> None:
    params = Params(temperature=0.3, max_tokens=20, logprobs=True)
    body, warnings = sent_body("openai", "llama3.1:8b", ask(params))
    assert (body["temperature"], body["max_tokens"], body["logprobs"], warnings) == (0.3, 20, True, [])


def test_claude_opus_4_7_rejects_sampling_params() -> None:
    body, warnings = sent_body("anthropic", "claude-opus-4-7", ask(Params(temperature=0.1, top_p=0.5)))
    assert "temperature" not in body and "top_p" not in body
    assert warnings == ["temperature dropped: claude-opus-4-7 accepts only the default", "top_p dropped: claude-opus-4-7 accepts only the default"]


def test_anthropic_has_no_seed_nor_logprobs_and_a_default_max_tokens() -> None:
    body, warnings = sent_body("anthropic", "claude-sonnet-4-5", ask(Params(seed=3, logprobs=True, temperature=0.4, stop=("END",)), system="S"))
    assert "seed" not in body and "logprobs" not in body
    assert (body["max_tokens"], body["temperature"], body["stop_sequences"], body["system"]) == (4096, 0.4, ["END"], "S")
    assert warnings == ["logprobs dropped: claude-sonnet-4-5 does not return logprobs", "seed dropped: claude-sonnet-4-5 has no seed parameter"]


def test_opus_4_6_drops_an_assistant_prefill() -> None:
    request = Request((Message("user", "Write code"), Message("assistant", "```python")))
    body, warnings = sent_body("anthropic", "claude-opus-4-6", request)
    assert body["messages"] == [{"role": "user", "content": "Write code"}]
    assert warnings == ["assistant prefill dropped: claude-opus-4-6 does not accept a final assistant message"]
    kept, _ = sent_body("anthropic", "claude-sonnet-4-5", request)
    assert kept["messages"][-1] == {"role": "assistant", "content": "```python"}


def test_anthropic_structured_output_and_effort() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    params = Params(response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": schema}}, reasoning_effort="low")
    body, _ = sent_body("anthropic", "claude-opus-4-6", ask(params))
    assert body["output_config"] == {"effort": "low", "format": {"type": "json_schema", "schema": schema}}


def test_gemini_generation_config() -> None:
    schema = {"type": "object"}
    params = Params(
        max_tokens=64, temperature=0.0, top_p=0.9, stop=("X",), seed=5, logprobs=True, top_logprobs=3,
        response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": schema}},
        extra={"generationConfig": {"topK": 40}, "safetySettings": []},
    )
    body, warnings = sent_body("gemini", "gemini-2.5-flash", ask(params, system="S"))
    assert body["generationConfig"] == {
        "maxOutputTokens": 64, "temperature": 0.0, "topP": 0.9, "stopSequences": ["X"], "seed": 5,
        "responseMimeType": "application/json", "responseJsonSchema": schema, "responseLogprobs": True, "logprobs": 3,
        "topK": 40,
    }
    assert body["systemInstruction"] == {"parts": [{"text": "S"}]} and body["safetySettings"] == [] and warnings == []


def test_gemini_reasoning_effort_only_for_gemini_3() -> None:
    body, warnings = sent_body("gemini", "gemini-3.6-flash", ask(Params(reasoning_effort="high")))
    assert body["generationConfig"]["thinkingConfig"] == {"thinkingLevel": "high"} and warnings == []
    body, warnings = sent_body("gemini", "gemini-2.5-pro", ask(Params(reasoning_effort="high")))
    assert "generationConfig" not in body
    assert warnings == ["reasoning_effort dropped: gemini-2.5-pro does not accept it"]


def test_extra_reaches_the_body_verbatim() -> None:
    body, _ = sent_body("openai", "gpt-4o", ask(Params(extra={"top_k": 40, "provider": {"order": ["groq"]}, "n": 1})))
    assert (body["top_k"], body["provider"], body["n"]) == (40, {"order": ["groq"]}, 1)


# ---------------------------------------------------------------------------------------------
# The table itself


@pytest.mark.parametrize(
    "kind, model, window",
    [
        ("openai", "gpt-4o", 128_000),
        ("openai", "gpt-4o-2024-08-06", 128_000),
        ("openai", "gpt-5-mini", 400_000),
        ("openai", "gpt-5", 400_000),
        ("openai", "openai/gpt-oss-120b", 131_072),
        ("anthropic", "claude-sonnet-4-5-20250929", 1_000_000),
        ("anthropic", "claude-haiku-4-5", 200_000),
        ("gemini", "gemini-2.0-flash-001", 1_000_000),
        ("gemini", "models/gemini-3.6-flash", 1_000_000),
        ("gemini", "gemini-2.5-flash", None),  # listed without a window
        ("gemini", "gemini-2.0-flash-exp", None),  # not a snapshot of gemini-2.0-flash
        ("openai", "gpt-4o-mini-search", None),
    ],
)
def test_context_windows(kind: str, model: str, window: int | None) -> None:
    assert context_window(kind, model) == window


def test_unknown_models_are_permissive() -> None:
    assert parameter_rules_for("openai", "some-new-model") == ParameterRules()
    assert parameter_rules_for("nonsense-kind", "gpt-5") == ParameterRules()


def test_reasoning_families() -> None:
    for model in ("o1", "o1-mini", "o3", "o3-mini", "o4-mini", "gpt-5", "gpt-5.4-nano"):
        caps = parameter_rules_for("openai", model)
        assert (caps.reasoning, caps.sampling_params, caps.logprobs, caps.max_tokens_field) == (True, False, False, "max_completion_tokens"), model
    assert parameter_rules_for("openai", "o1-mini").system_role is False
    assert parameter_rules_for("openai", "o3").system_role is True
    assert parameter_rules_for("openai", "gpt-4.1").reasoning is False


def test_rules_leave_an_acceptable_request_untouched() -> None:
    request = ask(Params(temperature=0.5))
    assert apply_parameter_rules("openai", "gpt-4o", request) == (request, [])
    assert apply_parameter_rules("openai", "gpt-4o", request)[0] is request


def test_system_merged_into_a_new_user_turn_when_there_is_none() -> None:
    request = Request((Message("system", "S"), Message("assistant", "A")))
    adjusted, _ = apply_parameter_rules("openai", "o1-mini", request)
    assert [(m.role, m.content) for m in adjusted.messages] == [("user", "S"), ("assistant", "A")]


# ---------------------------------------------------------------------------------------------
# A tool-calling conversation in each wire format

_TOOL_TURNS = Request(
    (
        Message("system", "S"),
        Message("user", "Weather in Paris and Rome?"),
        Message("assistant", "", (ToolCall("c1", "weather", '{"city": "Paris"}'), ToolCall("c2", "weather", '{"city": "Rome"}'))),
        Message("tool", '{"temp": 21}', tool_call_id="c1"),
        Message("tool", "sunny", tool_call_id="c2"),
        Message("user", "Thanks. Which is warmer?"),
    )
)


def test_gemini_encodes_tool_turns_as_function_parts_in_merged_turns() -> None:
    body, _ = sent_body("gemini", "gemini-2.5-flash", _TOOL_TURNS)
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]},
        # The first call of a turn carries a thought signature (Gemini 3 refuses a turn without one).
        {"role": "model", "parts": [{"functionCall": {"name": "weather", "args": {"city": "Paris"}}, "thoughtSignature": "skip_thought_signature_validator"},
                                    {"functionCall": {"name": "weather", "args": {"city": "Rome"}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "weather", "response": {"temp": 21}}},
                                   {"functionResponse": {"name": "weather", "response": {"result": "sunny"}}},
                                   {"text": "Thanks. Which is warmer?"}]},
    ]


def test_anthropic_encodes_tool_results_in_one_user_turn() -> None:
    body, _ = sent_body("anthropic", "claude-haiku-4-5", _TOOL_TURNS)
    assert body["system"] == "S"
    assert body["messages"] == [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "c1", "name": "weather", "input": {"city": "Paris"}},
                                          {"type": "tool_use", "id": "c2", "name": "weather", "input": {"city": "Rome"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c1", "content": '{"temp": 21}'},
                                     {"type": "tool_result", "tool_use_id": "c2", "content": "sunny"},
                                     {"type": "text", "text": "Thanks. Which is warmer?"}]},
    ]


def test_openai_encodes_tool_turns() -> None:
    body, _ = sent_body("openai", "gpt-4o", _TOOL_TURNS)
    assert body["messages"][2:5] == [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Paris"}'}},
            {"id": "c2", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Rome"}'}}]},
        {"role": "tool", "content": '{"temp": 21}', "tool_call_id": "c1"},
        {"role": "tool", "content": "sunny", "tool_call_id": "c2"},
    ]
