"""Conversations: `mmo ask --continue` goes on with the newest conversation, `--cid` with any,
replaying the earlier turns from the run log; router rules read the latest message unless told to
read the whole conversation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mmo.cli.main import app
from mmo.core.types import Message, Request
from mmo.providers.fake import FakeProvider, FakeReply
from tests.support.loopback import LoopbackServer
from tests.support.one_model import one_model_profile
from tests.support.strategy_harness import run_profile


@pytest.fixture
def profile(tmp_path: Path, loopback: LoopbackServer) -> Path:
    return one_model_profile(tmp_path, loopback)


def ask(profile: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["ask", "--profile", str(profile), "--no-cache", *args], input="")


def sent_messages(server: LoopbackServer) -> list[dict[str, Any]]:
    return list(server.requests[-1].body["messages"])


def test_continue_replays_the_newest_conversation(profile: Path, loopback: LoopbackServer) -> None:
    first = ask(profile, "--system", "Be brief.", "--json", "My name is Ada.")
    assert first.exit_code == 0, first.stderr
    cid = json.loads(first.stdout)["conversation_id"]
    second = ask(profile, "-c", "--json", "What is my name?")
    assert second.exit_code == 0, second.stderr
    assert json.loads(second.stdout)["conversation_id"] == cid
    assert sent_messages(loopback) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "echo: My name is Ada."},
        {"role": "user", "content": "What is my name?"},
    ]


def test_cid_goes_on_with_an_earlier_conversation_by_prefix(profile: Path, loopback: LoopbackServer) -> None:
    cid = json.loads(ask(profile, "--json", "first topic").stdout)["conversation_id"]
    ask(profile, "second topic")
    result = ask(profile, "--cid", cid[:8], "more on it")
    assert result.exit_code == 0, result.stderr
    assert [m["content"] for m in sent_messages(loopback)] == ["first topic", "echo: first topic", "more on it"]


def test_nothing_to_continue_and_unknown_ids_are_usage_errors(profile: Path, loopback: LoopbackServer) -> None:
    nothing = ask(profile, "-c", "hello?")
    assert nothing.exit_code == 2 and "no conversation to continue yet" in nothing.stderr
    ask(profile, "hello")
    unknown = ask(profile, "--cid", "ffffffffff", "hello?")
    assert unknown.exit_code == 2 and "no conversation matches 'ffffffffff'" in unknown.stderr
    both = ask(profile, "-c", "--cid", "abc", "hello?")
    assert both.exit_code == 2
    assert len(loopback.requests) == 1


def test_a_turn_logged_without_text_cannot_be_replayed(profile: Path, loopback: LoopbackServer) -> None:
    assert ask(profile, "--no-log", "secret stuff").exit_code == 0
    result = ask(profile, "-c", "go on")
    assert result.exit_code == 2 and "--no-log" in result.stderr
    assert len(loopback.requests) == 1


def test_a_router_rule_can_read_the_whole_conversation() -> None:
    fake = FakeProvider("fake")
    for model in ("legal", "chat"):
        fake.script(model, default=FakeReply(f"answer from {model}"))
    conversation = Request((Message("user", "I was sued by my landlord."), Message("assistant", "I see."), Message("user", "What now?")))
    rules = lambda look_at: {"rules": [{"when": {"keywords": ["sued"], "look_at": look_at}, "use": "legal"}], "default": "chat"}  # noqa: E731
    models = {"legal": "fake:legal", "chat": "fake:chat"}
    latest = run_profile({"models": models, "strategy": rules("last_message")}, {"fake": fake}, request=conversation)
    whole = run_profile({"models": models, "strategy": rules("conversation")}, {"fake": fake}, request=conversation)
    assert (latest.model_id, whole.model_id) == ("fake:chat", "fake:legal")


# ---- mmo chat ----------------------------------------------------------------------------------


def chat(profile: Path, lines: str, *args: str) -> Any:
    return CliRunner().invoke(app, ["chat", "--profile", str(profile), "--no-cache", *args], input=lines)


def test_chat_routes_each_turn_with_the_earlier_ones_and_shows_model_and_cost(profile: Path, loopback: LoopbackServer) -> None:
    result = chat(profile, "My name is Ada.\n!multi\nWhat is\nmy name?\n!end\n!quit\nnever sent\n")
    assert result.exit_code == 0, result.stderr
    assert len(loopback.requests) == 2
    assert [m["content"] for m in sent_messages(loopback)] == ["My name is Ada.", "echo: My name is Ada.", "What is\nmy name?"]
    assert result.stdout.splitlines() == ["echo: My name is Ada.", "echo: What is", "my name?"]
    assert result.stderr.count("p:m · ") == 2 and "tokens" in result.stderr


def test_a_chat_is_a_conversation_ask_can_continue(profile: Path, loopback: LoopbackServer) -> None:
    assert chat(profile, "remember 42\n").exit_code == 0
    result = ask(profile, "-c", "what number?")
    assert result.exit_code == 0, result.stderr
    assert [m["content"] for m in sent_messages(loopback)] == ["remember 42", "echo: remember 42", "what number?"]
    again = chat(profile, "and again?\n", "--continue")
    assert again.exit_code == 0 and "going on with conversation" in again.stderr
    assert len(sent_messages(loopback)) == 5


def test_a_failed_turn_is_shown_and_the_conversation_goes_on(profile: Path, loopback: LoopbackServer) -> None:
    from tests.support.loopback import Fault

    loopback.script("m", Fault.status(400, error="bad_request"), Fault.ok())
    result = chat(profile, "first\nsecond\n")
    assert result.exit_code == 0, result.stderr
    assert "BadRequest" in result.stderr
    assert [m["content"] for m in sent_messages(loopback)] == ["second"]  # the failed turn is not replayed


def test_ctrl_c_cancels_the_turn_in_flight_not_the_conversation(profile: Path, loopback: LoopbackServer, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.support.loopback import Fault

    loopback.script("m", Fault.slow(30.0), Fault.ok())
    process = subprocess.Popen([sys.executable, "-m", "mmo", "chat", "--profile", str(profile), "--no-cache"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=os.environ.copy())
    try:
        assert process.stdin is not None
        process.stdin.write("a slow question\n")
        process.stdin.flush()
        for _ in range(600):  # bounded: up to 60 s for the request to reach the server
            if loopback.requests:
                break
            time.sleep(0.1)
        assert loopback.requests, "the first turn never reached the server"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate("a quick one\n", timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "turn cancelled" in err
    assert len(loopback.requests) == 2 and out.strip().endswith("echo: a quick one")
