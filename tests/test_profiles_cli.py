from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import typer
import yaml
from typer.testing import CliRunner

from mmo.cli import profiles_cmd

GOOD = """\
description: a project profile
models:
  fast: openai:gpt-5-mini
strategy: fast
"""

BAD = """\
models:
  fast: openai:gpt-5-mini
strategy:
  fallback: [fsat]
  retry: {attempts: 0}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    return root


def invoke(*args: str) -> object:
    root = typer.Typer()
    root.add_typer(profiles_cmd.app, name="profiles")

    @root.callback()
    def _main() -> None:
        """A throwaway root, as mmo.cli.main mounts the sub-app."""

    return CliRunner().invoke(root, ["profiles", *args])


def test_list_shows_builtins_and_marks_shadowed(project: Path) -> None:
    (project / "profiles").mkdir()
    (project / "profiles" / "demo.yaml").write_text(GOOD, encoding="utf-8")
    result = invoke("list")
    assert result.exit_code == 0, result.output
    for name in ("demo", "fast", "local", "three-tier"):
        assert name in result.stdout
    assert "builtin (shadowed by project)" in result.stdout
    assert "a project profile" in result.stdout


def test_list_json_is_machine_readable(project: Path) -> None:
    result = invoke("list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    demo = next(row for row in rows if row["name"] == "demo")
    assert demo["origin"] == "builtin" and demo["valid"] and demo["shadowed_by"] is None
    assert demo["path"] == "mmo/profiles/demo.yaml"


def test_list_flags_an_invalid_profile_with_its_problem(project: Path) -> None:
    (project / "profiles").mkdir()
    (project / "profiles" / "broken.yaml").write_text(BAD, encoding="utf-8")
    rows = json.loads(invoke("list", "--json").stdout)
    broken = next(row for row in rows if row["name"] == "broken")
    assert not broken["valid"]
    assert "broken.yaml:5: strategy.retry.attempts" in broken["problem"]


def test_show_prints_the_yaml_as_a_valid_file(project: Path) -> None:
    result = invoke("show", "demo")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# profile 'demo' (builtin): mmo/profiles/demo.yaml\n")
    document = yaml.safe_load(result.stdout)
    assert document["models"]["flash"] == "replay:gemini-1.5-flash-002"


def test_show_resolved_fills_in_defaults(project: Path) -> None:
    result = invoke("show", "--resolved", "demo")
    assert result.exit_code == 0, result.output
    document = yaml.safe_load(result.stdout)
    assert document["name"] == "demo"
    assert document["retry"]["attempts"] == 2  # a default the file does not spell out


def test_show_json_has_source_profile_and_text(project: Path) -> None:
    result = invoke("show", "three-tier", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["origin"] == "builtin"
    assert shown["profile"]["models"]["reasoning"] == "anthropic:claude-sonnet-4-5"
    assert shown["profile"]["strategy"]["fallback"][0] == "fast"
    assert "fallback:" in shown["yaml"]


def test_show_unknown_profile_exits_2_with_a_suggestion(project: Path) -> None:
    result = invoke("show", "dmeo")
    assert result.exit_code == 2
    assert "did you mean 'demo'?" in result.output


def test_validate_good_file_exits_0(project: Path) -> None:
    (project / "good.yaml").write_text(GOOD, encoding="utf-8")
    result = invoke("validate", "good.yaml")
    assert result.exit_code == 0, result.output
    assert "ok: profile 'good'" in result.stdout


def test_validate_bad_file_exits_2_with_one_line_per_problem(project: Path) -> None:
    path = project / "bad.yaml"
    path.write_text(BAD, encoding="utf-8")
    result = invoke("validate", "bad.yaml")
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert lines == [f"{path}:5: strategy.retry.attempts: expected greater than or equal to 1, got 0"]


def test_validate_reports_reference_problems_with_lines(project: Path) -> None:
    path = project / "refs.yaml"
    path.write_text(BAD.replace("{attempts: 0}", "{attempts: 1}"), encoding="utf-8")
    result = invoke("validate", "refs.yaml", "--json")
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert [(p["line"], p["key_path"]) for p in report["problems"]] == [(4, "strategy.fallback[0]")]
    assert "did you mean 'fast'?" in report["problems"][0]["message"]


def test_validate_missing_file_exits_2(project: Path) -> None:
    result = invoke("validate", "nowhere.yaml")
    assert result.exit_code == 2
    assert "no such profile file" in result.stdout


def test_schema_prints_valid_json_schema(project: Path) -> None:
    result = invoke("schema")
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["title"] == "mmo profile"


def test_schema_writes_a_file(project: Path) -> None:
    result = invoke("schema", "-o", "schema.json")
    assert result.exit_code == 0, result.output
    schema = json.loads((project / "schema.json").read_text(encoding="utf-8"))
    assert jsonschema.Draft202012Validator(schema).is_valid(yaml.safe_load(GOOD))
