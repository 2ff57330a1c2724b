"""Help pages read as conventional CLIs' do: no `<bool>` after a flag or `<list[str]>` /
`<int range>` types, a metavar that says what goes there, and examples on every command."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from mmo.cli.main import COMMANDS, app

GROUPS = {"profiles": ("list", "show", "validate", "schema"), "keys": ("set", "list", "rm"), "cache": ("stats", "clear"), "logs": ("show",)}


def help_of(*command: str) -> str:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("command", [(c,) for c in COMMANDS] + [(g, s) for g, subs in GROUPS.items() for s in subs], ids=" ".join)
def test_no_typer_type_placeholders(command: tuple[str, ...]) -> None:
    page = help_of(*command)
    for placeholder in ("<bool>", "<list[", "<int", "<float", "<path>", "<str> "):
        assert placeholder not in page.split("Arguments:")[-1].split("Options:")[-1], (placeholder, page)


@pytest.mark.parametrize("command", [c for c in COMMANDS if c != "paths"] + ["paths"])
def test_every_command_has_examples(command: str) -> None:
    assert "Examples:" in help_of(command)
    assert f"mmo {command}" in help_of(command).split("Examples:")[1]


def test_metavars_say_what_goes_there() -> None:
    page = " ".join(help_of("ask").split())
    for shown in ("-P, --profile NAME", "-p, --param KEY=VALUE", "--schema FILE", "-a, --attach FILE", "--cid ID", "-c, --continue Go on"):
        assert shown in page
    assert "-c, --concurrency N" in " ".join(help_of("batch").split())
    assert "-n, --limit N" in " ".join(help_of("logs").split())


# ---- say each thing once, in the order it happened ---------------------------------------------


def test_a_failure_across_models_says_each_thing_once() -> None:
    from mmo.cli.errors import message
    from mmo.core.errors import AllAttemptsFailed, ConnectionFailed, MissingKey

    shared = " (no OS keyring is available on this machine (NoKeyringError): use the environment variable)"
    failure = AllAttemptsFailed("all 4 alternatives of fallback failed", [
        MissingKey("openai", "OPENAI_API_KEY", shared), MissingKey("gemini", "GEMINI_API_KEY", shared),
        ConnectionFailed("ConnectError: refused (trying http://localhost:11434/v1/chat/completions)", provider="ollama", model="m"),
        ConnectionFailed("ConnectError: refused (trying http://localhost:11434/v1/chat/completions)", provider="ollama", model="m"),
    ])
    shown = message(failure)
    assert shown.count("no OS keyring") == 1 and shown.count("ConnectionFailed") == 1 and "(x2)" in shown
    assert shown.index("openai") < shown.index("gemini") < shown.index("ConnectionFailed")


def test_a_connection_failure_names_the_url_tried_without_its_query() -> None:
    import httpx

    from mmo.providers.http_errors import CallTarget, transport_error

    request = httpx.Request("POST", "http://127.0.0.1:9/v1beta/models/m:generateContent?key=SECRET-KEY")
    error = transport_error(httpx.ConnectError("All connection attempts failed", request=request), CallTarget("gemini", "m", None))
    assert "trying http://127.0.0.1:9/v1beta/models/m:generateContent)" in str(error)
    assert "SECRET-KEY" not in str(error)


def test_with_one_model_the_title_names_it_once(tmp_path: Any) -> None:
    result = CliRunner().invoke(app, ["ask", "-P", "demo", "-m", "flash", "--meta", "id=mmlu_pro-153", "q"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    title = result.stderr.splitlines()[0]
    assert title.strip() == "replay:gemini-1.5-flash-002 (flash) ✓"


def test_explain_shows_a_gates_verdict_after_the_call_it_judged() -> None:
    result = CliRunner().invoke(app, ["demo", "-P", "cascade-agree", "--id", "mmlu_pro-135", "--explain"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.stderr
    text = result.stderr
    assert text.index("model flash") < text.index("flash: gate extract passed") < text.index("model pro")
