"""Naming the replay data of a run: ``--replay-data NAME|PATH`` on ask and batch, else
``MMO_REPLAY_DATA``, else each replay provider's own ``path:``; and the full MMLU-Pro set
shipped as ``builtin:mmlu_pro``."""

from __future__ import annotations

import gzip
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mmo.app.profile_choice import resolve_profile
from mmo.app.settings import AppEnv, ProfileChoice
from mmo.cli.main import app
from mmo.core.errors import ConfigError
from mmo.core.paths import MmoPaths
from tests.support.batch_harness import read_jsonl

FLASH = "gemini-1.5-flash-002"
FULL_ONLY = "mmlu_pro-70"  # a question of the full set that the 300-question sample lacks


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args))


def packaged_ids(name: str) -> list[str]:
    with gzip.open(files("mmo").joinpath("data", name).open("rb"), "rt", encoding="utf-8") as lines:
        return [json.loads(line)["id"] for line in lines]


def full_set_task(task_id: str) -> dict[str, Any]:
    """The task as the packaged full file holds it, found without the replay provider."""
    prefix = json.dumps({"id": task_id})[:-1] + ","
    with gzip.open(files("mmo").joinpath("data", "mmlu_pro.jsonl.gz").open("rb"), "rt", encoding="utf-8") as lines:
        return next(json.loads(line) for line in lines if line.startswith(prefix))


def ask_full_only(*flags: str):  # type: ignore[no-untyped-def]
    return run("ask", "--profile", "demo", *flags, "--json", "--meta", f"id={FULL_ONLY}", "any text")


def test_the_full_set_ships_in_the_package_and_holds_the_sample() -> None:
    full, sample = packaged_ids("mmlu_pro.jsonl.gz"), packaged_ids("mmlu_pro_sample.jsonl.gz")
    assert len(full) == len(set(full)) == 11_954
    assert set(sample) <= set(full) and FULL_ONLY in set(full) - set(sample)


def test_a_builtin_offline_profile_answers_a_full_set_question_when_told_to() -> None:
    refused = ask_full_only()
    said = " ".join((refused.stdout + refused.stderr).split())
    assert refused.exit_code == 1 and f"no task with id '{FULL_ONLY}'" in said
    assert "(or answer from all 11,954 MMLU-Pro questions: --replay-data mmlu_pro)" in said
    answered = ask_full_only("--replay-data", "mmlu_pro")
    assert answered.exit_code == 0, answered.stderr
    completion = json.loads(answered.stdout)["completion"]
    recorded = full_set_task(FULL_ONLY)["models"][FLASH]
    assert completion["model_id"] == f"replay:{FLASH}" and completion["text"] == recorded["text"]
    assert completion["cost_usd"] == recorded["cost_usd"] and completion["cost_source"] == "recorded"


def test_the_environment_names_the_data_and_the_flag_wins_over_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMO_REPLAY_DATA", "builtin:mmlu_pro")
    assert ask_full_only().exit_code == 0  # the environment over the profile's path
    overruled = ask_full_only("--replay-data", "mmlu_pro_sample")  # the flag over the environment
    assert overruled.exit_code == 1 and f"no task with id '{FULL_ONLY}'" in overruled.stdout + overruled.stderr


@pytest.mark.parametrize("where", ["flag", "env"])
def test_an_unknown_name_is_a_usage_error_listing_the_builtins(where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if where == "env":
        monkeypatch.setenv("MMO_REPLAY_DATA", "mmlu_pr")
    result = ask_full_only(*(["--replay-data", "mmlu_pr"] if where == "flag" else []))
    assert result.exit_code == 2
    assert "unknown replay data 'mmlu_pr'" in result.stderr and "builtin:mmlu_pro_sample, builtin:mmlu_pro" in result.stderr
    assert ("MMO_REPLAY_DATA: " in result.stderr) == (where == "env") and "Did you mean 'mmlu_pro'?" in result.stderr


def test_a_replay_file_by_path_relative_to_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    task = {"id": "mine-1", "prompt": "Mine?", "models": {FLASH: {"text": "My own recording.", "input_tokens": 3, "output_tokens": 4}}}
    (tmp_path / "mine.jsonl").write_text(json.dumps(task) + "\n")
    monkeypatch.chdir(tmp_path)
    result = run("ask", "--profile", "demo", "--replay-data", "mine.jsonl", "--json", "Mine?")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["answer"] == "My own recording."
    env = AppEnv({}, tmp_path, MmoPaths.from_env())
    resolved = resolve_profile(ProfileChoice("cascade", replay_data="mine.jsonl"), env)
    assert {entry.path for entry in resolved.profile.providers.values()} == {str(tmp_path / "mine.jsonl")}  # made absolute


def test_a_flag_with_no_replay_provider_to_point_is_an_error_but_the_environment_is_not(tmp_path: Path) -> None:
    env = AppEnv({"MMO_REPLAY_DATA": "mmlu_pro"}, tmp_path, MmoPaths.from_env())
    assert resolve_profile(ProfileChoice(model="openai:gpt-5-mini"), env).profile.providers == {}
    with pytest.raises(ConfigError, match="--replay-data 'mmlu_pro': profile 'model openai:gpt-5-mini' has no replay provider"):
        resolve_profile(ProfileChoice(model="openai:gpt-5-mini", replay_data="mmlu_pro"), env)


def test_every_replay_provider_of_a_profile_is_pointed_and_nothing_else(tmp_path: Path) -> None:
    (tmp_path / "two.yaml").write_text(
        "providers:\n"
        "  a: {kind: replay, path: builtin:mmlu_pro_sample, sleep: true}\n"
        "  b: {kind: replay, path: elsewhere.jsonl}\n"
        "  corp: {kind: openai, base_url: 'http://127.0.0.1:9/v1', key: none}\n"
        "models: {x: 'a:gemini-1.5-flash-002', y: 'b:gemini-1.5-pro-002', z: 'corp:m'}\n"
        "strategy: {fallback: [x, y, z]}\n"
    )
    env = AppEnv({}, tmp_path, MmoPaths.from_env())
    providers = resolve_profile(ProfileChoice(str(tmp_path / "two.yaml"), replay_data="mmlu_pro"), env).profile.providers
    assert (providers["a"].path, providers["b"].path) == ("builtin:mmlu_pro", "builtin:mmlu_pro")
    assert providers["a"].sleep is True and providers["corp"].base_url == "http://127.0.0.1:9/v1"  # the rest as written


def test_batch_over_the_full_set_is_another_run_than_over_the_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rows.jsonl").write_text(json.dumps({"id": FULL_ONLY, "prompt": "q", "metadata": {"id": FULL_ONLY}}) + "\n")
    on_sample = run("batch", "rows.jsonl", "-P", "demo", "-o", "sample.jsonl")
    assert on_sample.exit_code == 1 and read_jsonl(tmp_path / "sample.jsonl")[0]["status"] == "failed"
    on_full = run("batch", "rows.jsonl", "-P", "demo", "--replay-data", "mmlu_pro", "-o", "full.jsonl")
    assert on_full.exit_code == 0, on_full.stderr
    assert "resuming" not in on_full.stderr  # the data is part of the run's identity: nothing is reused
    [row] = read_jsonl(tmp_path / "full.jsonl")
    assert row["status"] == "done" and row["answer"] == full_set_task(FULL_ONLY)["models"][FLASH]["text"]
