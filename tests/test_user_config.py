"""``mmo config show|set|unset`` and the precedence of defaults: a flag, then the environment
variable, then the user's config file; a bad file is an error naming file:line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from mmo.app.profile_choice import resolve_profile
from mmo.app.settings import AppEnv, ProfileChoice
from mmo.app.user_config import default_concurrency
from mmo.cli.main import app
from mmo.core.paths import MmoPaths


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args))


def env_with(home: Path, **environ: str) -> AppEnv:
    return AppEnv({"MMO_HOME": str(home), **environ}, home, MmoPaths.from_env({"MMO_HOME": str(home)}))


def test_set_show_unset_round_trip(isolated_env: Path) -> None:
    assert run("config", "set", "profile", "demo").exit_code == 0
    assert run("config", "set", "concurrency", "4").exit_code == 0
    config = isolated_env / "config" / "config.toml"
    assert 'profile = "demo"' in config.read_text() and "concurrency = 4" in config.read_text()
    assert [p.name for p in config.parent.iterdir()] == ["config.toml"]  # no temporary file left
    shown = json.loads(run("config", "show", "--json").stdout)
    assert shown["file"] == str(config)
    assert shown["settings"]["profile"] == {"value": "demo", "source": "config", "env_var": "MMO_PROFILE"}
    assert shown["settings"]["concurrency"]["value"] == 4
    assert shown["settings"]["model"]["source"] == "default"
    assert run("config", "unset", "profile").stdout.strip() == "removed profile"
    assert "profile" not in config.read_text()
    assert run("config", "unset", "profile").stdout.strip() == "profile was not set"


def test_bad_values_and_keys_are_refused() -> None:
    result = run("config", "set", "concurency", "3")
    assert result.exit_code == 2 and "did you mean 'concurrency'" in result.stderr
    result = run("config", "set", "concurrency", "0")
    assert result.exit_code == 2 and "at least 1" in result.stderr
    assert run("config", "set", "concurrency", "many").exit_code == 2


def test_a_bad_file_names_its_line(isolated_env: Path) -> None:
    config = isolated_env / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('profile = "demo"\nmodel = \n')
    result = run("config", "show")
    assert result.exit_code == 2
    assert f"{config}:2: not valid TOML" in result.stderr
    config.write_text('profile = "demo"\n\nconcurrencyy = 2\n')
    result = run("ask", "hello")
    assert result.exit_code == 2
    assert f"{config}:3: unknown setting 'concurrencyy'" in result.stderr and "mmo config unset concurrencyy" in result.stderr
    assert run("config", "unset", "concurrencyy").exit_code == 0
    assert run("config", "show").exit_code == 0
    config.write_text("concurrency = true\n")
    assert f"{config}:1: concurrency must be a whole number" in run("config", "show").stderr


def test_profile_precedence_flag_then_environment_then_config(isolated_env: Path) -> None:
    assert run("config", "set", "profile", "vote").exit_code == 0
    assert resolve_profile(ProfileChoice(), env_with(isolated_env)).name == "vote"
    assert resolve_profile(ProfileChoice(), env_with(isolated_env, MMO_PROFILE="hedge")).name == "hedge"
    assert resolve_profile(ProfileChoice("router"), env_with(isolated_env, MMO_PROFILE="hedge")).name == "router"


def test_default_model_runs_when_no_profile_is_chosen(isolated_env: Path) -> None:
    assert run("config", "set", "model", "openai:gpt-5-mini").exit_code == 0
    chosen = resolve_profile(ProfileChoice(), env_with(isolated_env))
    assert chosen.profile.strategy == "openai:gpt-5-mini"
    from_env = resolve_profile(ProfileChoice(), env_with(isolated_env, MMO_MODEL="anthropic:claude-sonnet-4-5"))
    assert from_env.profile.strategy == "anthropic:claude-sonnet-4-5"
    assert resolve_profile(ProfileChoice("demo"), env_with(isolated_env)).name == "demo"  # a chosen profile wins
    assert run("config", "set", "profile", "demo").exit_code == 0
    assert resolve_profile(ProfileChoice(), env_with(isolated_env)).name == "demo"


def test_concurrency_precedence(isolated_env: Path) -> None:
    assert default_concurrency(env_with(isolated_env), None) == 16
    assert run("config", "set", "concurrency", "4").exit_code == 0
    assert default_concurrency(env_with(isolated_env), None) == 4
    assert default_concurrency(env_with(isolated_env, MMO_CONCURRENCY="3"), None) == 3
    assert default_concurrency(env_with(isolated_env, MMO_CONCURRENCY="3"), 2) == 2


def test_ask_uses_the_configured_profile(isolated_env: Path) -> None:
    assert run("ask", "What is 2+2?").exit_code == 2  # no profile chosen, none named default
    assert run("config", "set", "profile", "demo").exit_code == 0
    result = run("ask", "question", "--meta", "id=mmlu_pro-135")  # the demo profile answers recorded tasks
    assert result.exit_code == 0, result.stderr


def test_paths_shows_the_config_file_and_the_keys_backend(isolated_env: Path) -> None:
    found = json.loads(run("paths", "--json").stdout)
    assert found["config_file"] == str(isolated_env / "config" / "config.toml")
    assert found["keys_backend"] == "tests.conftest.MemoryKeyring"


def test_output_style_precedence_flag_then_environment_then_config(isolated_env: Path) -> None:
    assert run("config", "set", "profile", "demo").exit_code == 0
    question = ("ask", "question", "--meta", "id=mmlu_pro-135")
    table = run(*question)
    assert not table.stdout.lstrip().startswith("{") and "model " in table.stderr  # the default: answer, then the table
    assert run("config", "set", "output", "json").exit_code == 0
    as_json = json.loads(run(*question).stdout)
    assert as_json["answer"].strip() == table.stdout.strip()
    quiet = run(*question, "--quiet")  # a flag wins over the config
    assert quiet.stdout == table.stdout and quiet.stderr == ""
    environment = CliRunner().invoke(app, list(question), env={"MMO_OUTPUT": "quiet"})  # the environment wins too
    assert environment.stdout == table.stdout and environment.stderr == ""


def test_an_unknown_output_style_is_refused_with_a_suggestion(isolated_env: Path) -> None:
    result = run("config", "set", "output", "quite")
    assert result.exit_code == 2
    assert "output must be one of table, quiet, json, explain, got 'quite' (did you mean 'quiet'?)" in result.stderr
