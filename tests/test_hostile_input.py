"""Input no user should have to send carefully: a line nested thousands of levels deep, lone
surrogates, bytes that are not UTF-8 on standard input or in arguments, and ``--debug``. None of
them may end in an internal error (exit 70) or change the documented exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmo.app.batch.input import MAX_NESTING, Malformed, RowParser
from mmo.cli.main import app
from tests.support.batch_harness import loop_profile, read_jsonl, run_cli, write_rows
from tests.support.loopback import LoopbackServer

DEEP = '{"prompt": "x", "metadata": {"a": ' + "[" * 2000 + "]" * 2000 + "}}"  # about 4 KB


def nested(levels: int) -> str:
    """A row whose arrays and objects nest ``levels`` deep (the row, its metadata, then arrays)."""
    return '{"prompt": "x", "metadata": {"a": ' + "[" * (levels - 2) + "]" * (levels - 2) + "}}"


def test_a_line_nested_thousands_deep_is_malformed_not_a_crash() -> None:
    parsed = RowParser({}).parse(3, DEEP.encode())
    assert isinstance(parsed, Malformed) and parsed.line == 3 and "nested more than" in parsed.reason


def test_nesting_is_bounded_at_the_documented_depth() -> None:
    parser = RowParser({})
    assert not isinstance(parser.parse(1, nested(MAX_NESTING).encode()), Malformed)
    too_deep = parser.parse(1, nested(MAX_NESTING + 1).encode())
    assert isinstance(too_deep, Malformed) and "nested more than" in too_deep.reason
    # Brackets inside a string nest nothing.
    assert not isinstance(parser.parse(1, json.dumps({"prompt": "[" * 5000}).encode()), Malformed)


def test_a_lone_surrogate_in_a_row_is_malformed() -> None:
    parser = RowParser({})
    lone = parser.parse(2, b'{"prompt": "hi \\ud800 there"}')
    assert isinstance(lone, Malformed) and "lone surrogate" in lone.reason
    paired = parser.parse(3, b'{"prompt": "hi \\ud83d\\ude00 there"}')  # an escaped pair is an emoji
    assert not isinstance(paired, Malformed) and "\U0001f600" in paired.request.prompt_text()


def test_a_deep_line_in_a_batch_is_reported_and_every_resume_runs(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = loop_profile(tmp_path, loopback)
    data = write_rows(tmp_path / "in.jsonl", 4, extra_lines={2: DEEP, 3: '{"prompt": "row-x \\udfff"}'})
    for _ in range(2):  # the first run, then a resume
        result = run_cli(str(data), "-P", str(profile), "--no-cache")
        assert result.exit_code == 1, result.stderr
        assert "2 malformed lines" in result.stderr
    report = read_jsonl(tmp_path / "in.errors.jsonl")
    assert [(r["line"], r["reason"].split(" ")[0]) for r in report] == [(3, "nested"), (5, "holds")]
    assert len(read_jsonl(tmp_path / "in.out.jsonl")) == 4
    assert loopback.stats().total == 4

    strict = run_cli(str(data), "-P", str(profile), "--strict", "--run-id", "strict")
    assert strict.exit_code == 2, strict.stderr
    assert "in.jsonl:3: nested more than" in strict.stderr


def test_invalid_utf8_on_standard_input_is_a_usage_error_naming_the_byte() -> None:
    result = CliRunner().invoke(app, ["ask", "--profile", "demo"], input=b"hello \xff\xfe world")
    assert result.exit_code == 2, result.stderr
    assert "not UTF-8 text (byte 0xff at offset 6)" in result.stderr


def test_a_lone_surrogate_in_a_parameter_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["ask", "--profile", "demo", "-p", 'stop=["\\ud800"]', "hi"])
    assert result.exit_code == 2, result.stderr
    assert "'stop' holds a lone surrogate" in result.stderr


def mmo(*args: str | bytes, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mmo", *args], cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("argument", [b"bad \xff arg", b"lone \xed\xa0\x80 surrogate"])
def test_an_argument_that_is_not_utf8_is_a_usage_error(tmp_path: Path, argument: bytes) -> None:
    result = mmo("ask", "--profile", "demo", argument, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "is not UTF-8 text" in result.stderr and "Traceback" not in result.stderr


def test_debug_shows_the_traceback_but_keeps_the_exit_code(tmp_path: Path) -> None:
    plain = mmo("ask", "--profile", "demo", "--model", "nope", "hi", cwd=tmp_path)
    debug = mmo("ask", "--profile", "demo", "--model", "nope", "hi", "--debug", cwd=tmp_path)
    assert plain.returncode == debug.returncode == 2, debug.stderr
    assert "Traceback" in debug.stderr and "Traceback" not in plain.stderr
    assert "unknown model 'nope'" in debug.stderr.splitlines()[-1]

