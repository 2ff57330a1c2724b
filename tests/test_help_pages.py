"""Help pages read as conventional CLIs' do: no `<bool>` after a flag or `<list[str]>` /
`<int range>` types, a metavar that says what goes there, and examples on every command."""

from __future__ import annotations

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
