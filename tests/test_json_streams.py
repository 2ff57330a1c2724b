"""A stream request answered with JSON instead of an event stream (a gateway that drops Gemini's
`alt=sse`, a server that ignores `stream`) is read by its content type, for every vendor, within
the same transport limits; an error object inside Gemini's JSON array is still an error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mmo.cli.main import app
from tests.support.loopback import Fault, LoopbackServer

KINDS = ("openai", "anthropic", "gemini")
ANSWER = "The tower is in Paris, France, on the Champ de Mars."


def profile(tmp_path: Path, server: LoopbackServer, kind: str, transport: str = "", strategy: str = "a") -> Path:
    base = {"openai": server.openai_base_url, "anthropic": server.anthropic_base_url, "gemini": server.gemini_base_url}[kind]
    path = tmp_path / f"{kind}.yaml"
    path.write_text(
        f'providers:\n  p: {{kind: {kind}, base_url: "{base}", key: none{transport}}}\n'
        'models:\n  a: {model: "p:first", price: {input: 1, output: 2}}\n  b: {model: "p:second", price: {input: 1, output: 2}}\n'
        f"defaults: {{max_tokens: 64, timeout_s: 5}}\nretry: {{attempts: 1}}\nstrategy: {strategy}\n"
    )
    return path


def ask(path: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["ask", "--profile", str(path), "--no-cache", "--stream", *args, "Where is the tower?"])


@pytest.mark.parametrize("kind", KINDS)
def test_the_answer_is_shown_as_it_would_have_been_streamed(tmp_path: Path, loopback: LoopbackServer, kind: str) -> None:
    loopback.script("first", Fault("json_stream", text=ANSWER))
    result = ask(profile(tmp_path, loopback, kind))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == ANSWER
    sent = loopback.requests[0]
    assert "streamGenerateContent" in sent.path if kind == "gemini" else sent.body["stream"] is True  # a stream was asked for


def test_an_error_object_inside_geminis_json_array_is_an_error_and_a_fallback_moves_on(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.script("first", Fault.json_stream(error="overloaded"))
    loopback.script("second", Fault.ok(ANSWER))
    result = ask(profile(tmp_path, loopback, "gemini", strategy="{fallback: [a, b]}"), "--explain")
    assert result.exit_code == 0, result.stderr
    assert ANSWER in result.stdout
    assert "StreamCut from p:first" in result.stderr and "MalformedResponse" not in result.stderr  # as an error event in an SSE stream
    assert "the stream from p:first was cut" in result.stdout


@pytest.mark.parametrize("kind", KINDS)
def test_a_json_answer_larger_than_the_transport_limit_is_refused(tmp_path: Path, loopback: LoopbackServer, kind: str) -> None:
    loopback.script("first", Fault("json_stream", text="x" * 20_000))
    result = ask(profile(tmp_path, loopback, kind, transport=", transport: {max_response_mib: 0.005}"))
    assert result.exit_code == 1
    assert "AnswerOverLimit" in result.stderr
