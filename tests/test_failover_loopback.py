"""End to end over real HTTP: `mmo ask` against the loopback fake provider fails over to a second
vendor on every kind of outage, and `--explain` says why."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmo.cli.main import app
from tests.support.loopback import Fault, LoopbackServer

FIRST_MODEL, SECOND_MODEL = "primary-model", "backup-model"


def write_profile(tmp_path: Path, server: LoopbackServer, first_kind: str, *, attempts: int = 1, timeout_s: float = 5.0) -> Path:
    base_urls = {"openai": server.openai_base_url, "anthropic": server.anthropic_base_url, "gemini": server.gemini_base_url}
    second_kind = "openai" if first_kind != "openai" else "anthropic"
    profile = tmp_path / "loop.yaml"
    profile.write_text(
        textwrap.dedent(
            f"""
            providers:
              first: {{kind: {first_kind}, base_url: "{base_urls[first_kind]}", key_env: FIRST_KEY}}
              second: {{kind: {second_kind}, base_url: "{base_urls[second_kind]}", key_env: SECOND_KEY}}
            models:
              a: {{model: "first:{FIRST_MODEL}", price: {{input: 1, output: 2}}}}
              b: {{model: "second:{SECOND_MODEL}", price: {{input: 3, output: 4}}}}
            defaults: {{timeout_s: {timeout_s}, max_tokens: 64}}
            strategy:
              fallback: [a, b]
              retry: {{attempts: {attempts}, backoff_s: 0.01, max_backoff_s: 0.02}}
            """
        )
    )
    return profile


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIRST_KEY", "sk-first-secret-123456")
    monkeypatch.setenv("SECOND_KEY", "sk-second-secret-654321")


def ask(profile: Path, *extra: str) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(app, ["ask", "--profile", str(profile), "--explain", "--no-cache", *extra, "What is 2+2?"])
    return result.exit_code, result.stdout, result.stderr


OUTAGES = [
    ("429 with Retry-After", "openai", Fault.rate_limited(retry_after_s=1), "RateLimited"),
    ("500", "gemini", Fault.server_error(500), "ServerError"),
    ("529 overloaded", "anthropic", Fault.overloaded(), "Overloaded"),
    ("timeout", "openai", Fault.hang(max_s=5), "Timeout"),
    ("dropped connection", "anthropic", Fault.drop(), "ConnectionFailed"),
]


@pytest.mark.parametrize(("name", "kind", "fault", "error_class"), OUTAGES, ids=[o[0] for o in OUTAGES])
def test_outage_fails_over_to_the_second_vendor(
    tmp_path: Path, loopback: LoopbackServer, keys: None, name: str, kind: str, fault: Fault, error_class: str
) -> None:
    loopback.script(FIRST_MODEL, fault)
    profile = write_profile(tmp_path, loopback, kind, timeout_s=0.5)
    code, out, err = ask(profile)
    assert code == 0, err
    assert "echo: What is 2+2?" in out
    assert f"second:{SECOND_MODEL}" in err
    assert error_class in err  # the attempt table and the trace name the failure
    assert "moving on from a to b" in err
    assert loopback.stats().by_model.get(FIRST_MODEL) == 1
    assert loopback.stats().by_model.get(SECOND_MODEL) == 1
    assert "sk-first-secret" not in out + err and "sk-second-secret" not in out + err


def test_stream_cut_after_200_is_marked_and_the_backup_answers_whole(tmp_path: Path, loopback: LoopbackServer, keys: None) -> None:
    loopback.script(FIRST_MODEL, Fault.cut(after_chunks=2))
    profile = write_profile(tmp_path, loopback, "openai")
    code, out, err = ask(profile, "--stream")
    assert code == 0, err
    partial, marker, rest = out.partition("[mmo] the stream from first:primary-model was cut")
    assert marker, out
    assert partial.strip(), "the cut stream had shown text before the marker"
    assert f"the answer from second:{SECOND_MODEL} follows" in rest
    assert rest.rstrip().endswith("echo: What is 2+2?")
    assert "StreamCut" in err


def test_json_output_writes_nothing_partial_when_a_stream_is_cut(tmp_path: Path, loopback: LoopbackServer, keys: None) -> None:
    loopback.script(FIRST_MODEL, Fault.cut(after_chunks=2))
    profile = write_profile(tmp_path, loopback, "openai")
    runner = CliRunner()
    result = runner.invoke(app, ["ask", "--profile", str(profile), "--json", "--no-cache", "What is 2+2?"])
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)  # the whole stdout is one JSON document
    assert payload["answer"] == "echo: What is 2+2?"
    errors = [a.get("error") for a in _attempts(payload["trace"])]
    assert errors[-1] is None and len(errors) == 2
    assert errors[0] in {"ConnectionFailed", "StreamCut", "MalformedResponse"}


def test_retry_after_is_honoured_before_retrying_the_same_vendor(tmp_path: Path, loopback: LoopbackServer, keys: None) -> None:
    loopback.script(FIRST_MODEL, Fault.rate_limited(retry_after_s=0.3), Fault.ok())
    profile = write_profile(tmp_path, loopback, "openai", attempts=2)
    code, out, err = ask(profile, "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert payload["completion"]["model_id"] == f"first:{FIRST_MODEL}"
    attempts = list(_attempts(payload["trace"]))
    assert [a.get("error") for a in attempts] == ["RateLimited", None]
    assert attempts[1]["start_ms"] - attempts[0]["start_ms"] >= 300
    assert loopback.stats().by_model.get(SECOND_MODEL) is None


def test_every_vendor_failing_exits_1_with_one_line_per_attempt(tmp_path: Path, loopback: LoopbackServer, keys: None) -> None:
    loopback.script(FIRST_MODEL, Fault.server_error(500))
    loopback.script(SECOND_MODEL, Fault.overloaded())
    profile = write_profile(tmp_path, loopback, "gemini")
    code, out, err = ask(profile)
    assert code == 1
    assert out == ""
    assert "error: all 2 alternatives of fallback failed" in err
    assert f"ServerError from first:{FIRST_MODEL} HTTP 500" in err
    assert f"Overloaded from second:{SECOND_MODEL}" in err
    assert "Traceback" not in err


def _attempts(span: dict):  # type: ignore[no-untyped-def]
    if "model_id" in span:
        yield span
    for child in span.get("children", ()):
        yield from _attempts(child)
