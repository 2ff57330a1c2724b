"""`mmo ask` with piped text and a prompt: the piped text, a blank line, then the prompt (as llm
does), shown in `--explain`; alone, either one is the prompt; an image on standard input
(`--attach -`) is never read as text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mmo.cli.main import app
from tests.support.loopback import LoopbackServer
from tests.support.one_model import one_model_profile


@pytest.fixture
def profile(tmp_path: Path, loopback: LoopbackServer) -> Path:
    return one_model_profile(tmp_path, loopback)


def ask(profile: Path, *args: str, input: str | bytes | None = None) -> Any:
    return CliRunner().invoke(app, ["ask", "--profile", str(profile), "--no-cache", *args], input=input)


def sent(server: LoopbackServer) -> Any:
    return server.requests[-1].body["messages"][-1]["content"]


def test_piped_text_and_a_prompt_are_joined_piped_text_first(profile: Path, loopback: LoopbackServer) -> None:
    result = ask(profile, "--explain", "Summarise this", input="line one\nline two\n")
    assert result.exit_code == 0, result.stderr
    assert sent(loopback) == "line one\nline two\n\nSummarise this"
    assert "prompt: 17 characters from standard input, a blank line, then the argument" in result.stderr


def test_either_alone_is_the_prompt(profile: Path, loopback: LoopbackServer) -> None:
    assert ask(profile, "just the argument", input="").exit_code == 0
    assert sent(loopback) == "just the argument"
    assert ask(profile, input="just piped").exit_code == 0
    assert sent(loopback) == "just piped"
    assert ask(profile, "-", input="dash reads stdin").exit_code == 0
    assert sent(loopback) == "dash reads stdin"


def test_an_image_on_standard_input_is_not_joined(profile: Path, loopback: LoopbackServer) -> None:
    gif = b"GIF89a\x02\x00\x02\x00\x00\x00\x00\x2c" + b"\x00" * 9 + b"\x02\x02\x44\x01\x00\x3b"
    result = ask(profile, "--attach", "-", "What is this?", input=gif)
    assert result.exit_code == 0, result.stderr
    content = sent(loopback)
    assert content[0] == {"type": "text", "text": "What is this?"} and content[1]["type"] == "image_url"


def test_attach_dash_on_a_terminal_is_refused_instead_of_waiting(tmp_path: Path, profile: Path) -> None:
    import os
    import subprocess
    import sys

    primary, secondary = os.openpty()  # standard input is a terminal nobody types into
    try:
        done = subprocess.run([sys.executable, "-m", "mmo", "ask", "--profile", str(profile), "--attach", "-", "What is this?"],
                              stdin=secondary, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    finally:
        os.close(primary)
        os.close(secondary)
    assert done.returncode == 2
    assert "standard input, which is a terminal" in done.stderr


def test_quiet_prints_the_answer_alone(profile: Path, loopback: LoopbackServer) -> None:
    loud = ask(profile, "hello")
    quiet = ask(profile, "--quiet", "hello")
    assert loud.exit_code == quiet.exit_code == 0
    assert loud.stdout == quiet.stdout == "echo: hello\n"
    assert "p:m" in loud.stderr and quiet.stderr == ""


def _run_with_stderr(profile: Path, tmp_path: Path, *, terminal: bool, command: tuple[str, ...] = ("ask", "hello"), stdin: bytes = b"") -> str:
    """``mmo COMMAND`` with standard error on a pseudo-terminal (or a pipe); what it wrote there."""
    import os
    import select
    import subprocess
    import sys

    env = {**os.environ, "TERM": "xterm", "COLUMNS": "80"}
    argv = [sys.executable, "-m", "mmo", command[0], "--profile", str(profile), "--no-cache", *command[1:]]
    if not terminal:
        done = subprocess.run(argv, input=stdin, capture_output=True, timeout=60, cwd=tmp_path, env=env)
        return done.stderr.decode("utf-8", "replace")
    primary, secondary = os.openpty()
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=secondary, cwd=tmp_path, env=env)
    os.close(secondary)
    assert process.stdin is not None
    process.stdin.write(stdin)
    process.stdin.close()
    seen = b""
    try:
        for _ in range(600):  # bounded: at most 60 s
            ready, _, _ = select.select([primary], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(primary, 65536)
                except OSError:  # the process closed its end
                    break
                if not chunk:
                    break
                seen += chunk
            elif process.poll() is not None:
                break
        process.wait(timeout=60)
    finally:
        os.close(primary)
        if process.poll() is None:
            process.kill()
    return seen.decode("utf-8", "replace")


def test_a_spinner_names_the_step_on_a_terminal_and_never_in_a_pipe(profile: Path, loopback: LoopbackServer, tmp_path: Path) -> None:
    from tests.support.loopback import Fault

    loopback.script("m", Fault.slow(1.5), Fault.slow(1.5))
    on_terminal = _run_with_stderr(profile, tmp_path, terminal=True)
    assert "asking a" in on_terminal
    in_pipe = _run_with_stderr(profile, tmp_path, terminal=False)
    assert "asking" not in in_pipe and "p:m" in in_pipe


def test_chat_shows_the_spinner_while_a_turn_is_judged_on_a_terminal_only(profile: Path, loopback: LoopbackServer, tmp_path: Path) -> None:
    from tests.support.loopback import Fault

    loopback.script("m", Fault.slow(1.5), Fault.slow(1.5))
    turns = b"hello\n!quit\n"
    on_terminal = _run_with_stderr(profile, tmp_path, terminal=True, command=("chat",), stdin=turns)
    assert "asking a" in on_terminal and "p:m" in on_terminal
    in_pipe = _run_with_stderr(profile, tmp_path, terminal=False, command=("chat",), stdin=turns)
    assert "asking" not in in_pipe and "p:m" in in_pipe
