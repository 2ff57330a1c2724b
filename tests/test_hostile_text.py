"""What a server or a file says reaches the terminal as text, never as terminal control, and a key
a server echoes back is redacted in every field mmo shows, prints as JSON, logs or caches."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from mmo.cli.main import app
from mmo.cli.render import StreamPrinter, answer_text, trace_tree
from mmo.cli.terminal import SafeConsole
from mmo.core.shown import shown, shown_line
from mmo.core.trace import Span
from mmo.core.types import Delta
from tests.support.canned_http import CannedRequest, CannedServer, bearer, json_reply, sse_reply
from tests.support.loopback import Fault, LoopbackServer

KEY = "sk-echoed-key-0123456789abcdefXYZ"
CLEAR_SCREEN = "\x1b[2J"
SET_CLIPBOARD = "\x1b]52;c;ZXZpbA==\x07"
HOSTILE = f"bad request{CLEAR_SCREEN}{SET_CLIPBOARD}\roverwritten\x9b31m"
RAW_CONTROLS = ("\x1b", "\x07", "\r", "\x9b")


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args))


def profile_for(tmp_path: Path, base_url: str, key_env: str = "LAB_API_KEY") -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(f'providers:\n  lab: {{kind: openai, base_url: "{base_url}", key_env: {key_env}}}\nstrategy: lab:m\n', encoding="utf-8")
    return path


def stored_bytes(home: Path) -> bytes:
    """Everything mmo wrote under MMO_HOME: run log, cache, state."""
    return b"".join(path.read_bytes() for path in home.rglob("*") if path.is_file())


# --- the escaping itself ----------------------------------------------------------------------


def test_shown_escapes_every_control_but_line_breaks_and_tabs() -> None:
    assert shown(HOSTILE) == "bad request\\x1b[2J\\x1b]52;c;ZXZpbA==\\x07\\x0doverwritten\\x9b31m"
    assert shown("two\nlines\r\nand\ta tab") == "two\nlines\r\nand\ta tab"
    assert shown_line("two\nlines\tone") == "two lines one"
    assert shown("é 中文 ✓") == "é 中文 ✓"


# --- a provider's error message ---------------------------------------------------------------


def test_an_error_message_with_escape_codes_is_shown_escaped_everywhere(loopback: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                       isolated_env: Path) -> None:
    monkeypatch.setenv("LAB_API_KEY", "lab-key-1234")
    loopback.script("m", Fault.status(400, message=HOSTILE), Fault.status(400, message=HOSTILE))
    profile = profile_for(tmp_path, loopback.openai_base_url)
    result = run("ask", "--profile", str(profile), "--no-cache", "--explain", "hello")
    assert result.exit_code == 1
    assert "bad request\\x1b[2J" in result.stderr
    assert not any(control in result.stderr for control in RAW_CONTROLS), repr(result.stderr)
    as_json = run("ask", "--profile", str(profile), "--no-cache", "--json", "hello")
    assert as_json.exit_code == 1
    assert "\\x1b[2J" in json.loads(as_json.stdout)["error"]["message"]
    # The raw escape sequence, not a lone 0x1b byte: SQLite's binary integers may hold that byte.
    assert b"\x1b[2J" not in stored_bytes(isolated_env) and b"\\x1b[2J" in stored_bytes(isolated_env)


# --- a key echoed back in a 200 answer --------------------------------------------------------


def _echo_key(request: CannedRequest):  # type: ignore[no-untyped-def]
    key = bearer(request)
    body = request.body or {}
    if body.get("stream"):
        half = len(key) // 2
        pieces = ["your key: ", key[:half], key[half:], " (kept)"]
        chunks = [{"id": "x", "object": "chat.completion.chunk", "model": f"m-{key}", "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
                  for p in pieces]
        chunks.append({"id": "x", "object": "chat.completion.chunk", "model": f"m-{key}", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        return sse_reply(chunks)
    return json_reply(200, {"id": "x", "object": "chat.completion", "model": f"m-{key}{CLEAR_SCREEN}", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": f"your key: {key}"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})


def test_a_key_echoed_in_the_model_field_and_the_text_is_redacted_in_table_json_log_and_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                                               isolated_env: Path) -> None:
    monkeypatch.setenv("LAB_API_KEY", KEY)
    with CannedServer(_echo_key) as server:
        profile = profile_for(tmp_path, server.base_url)
        table = run("ask", "--profile", str(profile), "hello")
        as_json = run("ask", "--profile", str(profile), "--refresh", "--json", "hello again")
    assert bearer(server.requests[0]) == KEY  # the server did get it: that is its job
    assert table.exit_code == 0, table.stderr
    assert KEY not in table.stdout + table.stderr and "[redacted]" in table.stderr and "[redacted]" in table.stdout
    assert "\x1b" not in table.stderr
    assert as_json.exit_code == 0 and KEY not in as_json.stdout
    assert json.loads(as_json.stdout)["completion"]["reported_model"] == "m-[redacted]\\x1b[2J"
    assert KEY.encode() not in stored_bytes(isolated_env)
    logs = run("logs", "show", "--json", json.loads(as_json.stdout)["run_id"])
    assert logs.exit_code == 0 and KEY not in logs.stdout


def test_a_key_split_across_stream_events_never_reaches_the_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    monkeypatch.setenv("LAB_API_KEY", KEY)
    with CannedServer(_echo_key) as server:
        result = run("ask", "--profile", str(profile_for(tmp_path, server.base_url)), "--stream", "hello")
    assert result.exit_code == 0, result.stderr
    assert KEY not in result.stdout and KEY[: len(KEY) // 2] not in result.stdout
    assert result.stdout.startswith("your key: [redacted] (kept)")
    assert KEY.encode() not in stored_bytes(isolated_env)


# --- what the terminal shows ------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_an_answer_is_escaped_on_a_terminal_and_left_as_it_came_in_a_pipe() -> None:
    answer = f"line one\nline two{CLEAR_SCREEN}"
    assert answer_text(answer, Terminal()) == "line one\nline two\\x1b[2J"
    assert answer_text(answer, io.StringIO()) == answer  # a file or a pipe: the user's data


def test_a_streamed_answer_is_escaped_on_a_terminal_only() -> None:
    terminal, pipe = Terminal(), io.StringIO()
    for out in (terminal, pipe):
        printer = StreamPrinter(out, out)
        printer(Delta(text=f"a{CLEAR_SCREEN}"))
        printer(Delta(text="b\n"))
    assert terminal.getvalue() == "a\\x1b[2Jb\n"
    assert pipe.getvalue() == f"a{CLEAR_SCREEN}b\n"


def test_tables_and_trees_show_server_text_escaped() -> None:
    from rich.table import Table

    out = io.StringIO()
    console = SafeConsole(file=out, force_terminal=True, width=200)
    table = Table(title=f"title{CLEAR_SCREEN}")
    table.add_column("model")
    table.add_row(f"m{SET_CLIPBOARD}")
    console.print(table)
    console.print(f"[bold]{HOSTILE}[/bold]")
    span = Span("model", f"label{CLEAR_SCREEN}", "/0", "error", 0.0, 1.0, model_id="lab:m", error="BadRequest", error_message=HOSTILE)
    console.print(trace_tree(Span("run", "run", "/", "error", 0.0, 1.0, children=(span,))))
    printed = out.getvalue()
    assert "\\x1b[2J" in printed and "\\x1b]52" in printed
    assert CLEAR_SCREEN not in printed and "\x1b]52" not in printed and "\x07" not in printed and "\x9b" not in printed
    plain = io.StringIO()
    Console(file=plain, force_terminal=True, highlight=False).print(f"m{CLEAR_SCREEN}")  # what rich alone would do
    assert CLEAR_SCREEN in plain.getvalue()


def test_logs_show_escapes_what_an_older_run_log_holds_raw() -> None:
    from datetime import UTC, datetime

    from mmo.core.paths import MmoPaths
    from mmo.runtime.runlog import AttemptRecord, RunLog, RunRecord

    run_id = "e" * 32
    record = RunRecord(run_id=run_id, started_at=datetime.now(UTC).isoformat(), command="ask", profile=f"p{CLEAR_SCREEN}", strategy="lab:m",
                       prompt=f"prompt{SET_CLIPBOARD}", answer=f"answer{CLEAR_SCREEN}", model_id=f"lab:m{CLEAR_SCREEN}", status="error",
                       error_class="BadRequest", error_message=HOSTILE, input_tokens=1, output_tokens=1, cost_usd=0.0, cost_source="sum", latency_ms=1.0)
    with RunLog(MmoPaths.from_env().runlog_path) as log:
        log.record(record, [AttemptRecord(run_id, 0, "/x", f"lab:m{CLEAR_SCREEN}", "error", error_class="BadRequest")])
    for args in (("logs",), ("logs", "show", run_id[:8])):
        result = run(*args)
        assert result.exit_code == 0, result.output
        assert "\\x1b[2J" in result.stdout and not any(control in result.stdout for control in RAW_CONTROLS), repr(result.stdout)
