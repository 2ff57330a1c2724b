"""Profiles are code someone else may have written (a cloned repository's ./profiles): a project
profile hiding a built-in is announced, a built-in provider's key goes only to its own host unless
the profile names the key, key_env names only key-like variables, a file cannot make mmo parse
billions of nodes, and `mmo profiles validate` builds the strategy tree as a run would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmo.app.ask import AskInput, ask
from mmo.app.portfolio import provider_settings
from mmo.app.profile_choice import resolve_profile
from mmo.app.profiles import validate
from mmo.app.settings import AppEnv, ProfileChoice, RunSettings
from mmo.cli.main import app
from mmo.config.loader import load_profile
from mmo.config.schema import Profile
from mmo.config.search import MAX_PROFILE_BYTES
from mmo.config.yaml_lines import MAX_NODES
from mmo.core.errors import ConfigError
from mmo.core.paths import MmoPaths
from tests.conftest import MemoryKeyring
from tests.support.canned_http import CannedRequest, CannedServer, bearer, json_reply

PLANTED = "sk-planted-user-key-0123456789abcdef"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    return root


def env_at(cwd: Path, notices: list[str] | None = None, environ: dict[str, str] | None = None) -> AppEnv:
    return AppEnv(environ or {}, cwd, MmoPaths.from_env(), notice=(notices.append if notices is not None else lambda _: None))


# --- a project profile hiding a built-in ------------------------------------------------------


def test_a_project_profile_hiding_a_builtin_is_announced_naming_both_files(project: Path) -> None:
    mine = write(project / "profiles" / "fast.yaml", "strategy: openai:gpt-5-mini\n")
    notices: list[str] = []
    resolved = resolve_profile(ProfileChoice("fast"), env_at(project, notices))
    assert resolved.source == str(mine)
    assert len(notices) == 1
    assert str(mine) in notices[0] and "mmo/profiles/fast.yaml" in notices[0]


def test_a_project_profile_hiding_the_users_profile_is_announced_too(project: Path) -> None:
    users = write(MmoPaths.from_env().profiles_dir / "work.yaml", "strategy: openai:gpt-5-mini\n")
    write(project / "profiles" / "work.yaml", "strategy: openai:gpt-5-mini\n")
    notices: list[str] = []
    resolve_profile(ProfileChoice("work"), env_at(project, notices))
    assert len(notices) == 1 and str(users) in notices[0]


def test_a_project_profile_of_its_own_name_is_not_announced(project: Path) -> None:
    write(project / "profiles" / "mine.yaml", "strategy: openai:gpt-5-mini\n")
    notices: list[str] = []
    resolve_profile(ProfileChoice("mine"), env_at(project, notices))
    assert notices == []


def test_ask_says_on_stderr_once_which_file_hides_the_builtin(project: Path) -> None:
    demo = (Path(__file__).parent.parent / "mmo" / "profiles" / "demo.yaml").read_text(encoding="utf-8")
    write(project / "profiles" / "demo.yaml", demo)
    from mmo.app.demo import demo_task

    result = run("ask", "--profile", "demo", "--json", demo_task(None).prompt)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.count("hides the built-in profile mmo/profiles/demo.yaml") == 1
    assert str(project / "profiles" / "demo.yaml") in result.stderr


def test_validate_warns_about_the_hidden_builtin(project: Path) -> None:
    write(project / "profiles" / "fast.yaml", "models: {m: {model: 'ollama:llama3', local: true}}\nstrategy: m\n")
    result = run("profiles", "validate", "fast")
    assert result.exit_code == 0, result.stdout
    assert "hides the built-in profile mmo/profiles/fast.yaml" in result.stderr


# --- a built-in provider's key stays with its own host ----------------------------------------


def test_a_builtin_provider_pointed_at_another_host_is_refused_with_file_line_and_fix(project: Path) -> None:
    path = write(project / "p.yaml", 'models: {a: openai:gpt-5-mini}\nproviders:\n  openai: {base_url: "https://llm.example.com/v1"}\nstrategy: a\n')
    with pytest.raises(ConfigError) as caught:
        load_profile(str(path), cwd=project, paths=MmoPaths.from_env())
    message = caught.value.message
    assert f"{path}:3" in message and "providers.openai.base_url" in message
    assert "llm.example.com" in message and "api.openai.com" in message
    assert "key_env" in message and "key: none" in message


def test_a_plain_http_url_on_the_vendors_host_is_another_host(project: Path) -> None:
    path = write(project / "p.yaml", 'providers:\n  openai: {base_url: "http://api.openai.com/v1"}\nstrategy: openai:gpt-5-mini\n')
    result = validate(str(path), cwd=project)
    assert not result.ok and result.problems[0].line == 2


@pytest.mark.parametrize("entry", ['{base_url: "https://llm.example.com/v1", key_env: CORP_API_KEY}', '{base_url: "https://llm.example.com/v1", key: none}',
                                   '{base_url: "https://api.openai.com/v1/"}', '{key_env: MY_OPENAI_KEY}'])
def test_naming_the_key_or_needing_none_or_the_own_host_is_accepted(project: Path, entry: str) -> None:
    path = write(project / "p.yaml", f"providers:\n  openai: {entry}\nstrategy: openai:gpt-5-mini\n")
    assert validate(str(path), cwd=project).ok


def test_the_settings_refuse_a_foreign_host_even_when_the_loader_is_bypassed() -> None:
    profile = Profile.model_validate({"name": "p", "providers": {"groq": {"base_url": "https://elsewhere.example/v1"}}, "strategy": "groq:m"})
    with pytest.raises(ConfigError, match="key_env"):
        provider_settings(profile)


def _ok_answer(request: CannedRequest):  # type: ignore[no-untyped-def]
    return json_reply(200, {"id": "x", "object": "chat.completion", "model": "m", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "fine"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})


def _ask(profile: Path, project: Path, environ: dict[str, str]):  # type: ignore[no-untyped-def]
    import asyncio

    item = AskInput("hello", RunSettings(choice=ProfileChoice(str(profile)), write_cache=False, read_cache=False))
    return asyncio.run(ask(item, env_at(project, environ=environ)))


def test_a_loopback_server_given_a_builtin_name_gets_no_key_from_env_or_keyring(project: Path, memory_keyring: MemoryKeyring) -> None:
    memory_keyring.set_password("mmo", "openai", PLANTED)
    with CannedServer(_ok_answer) as server:
        path = write(project / "p.yaml", f'providers:\n  openai: {{base_url: "{server.base_url}"}}\nstrategy: openai:gpt-5-mini\n')
        outcome = _ask(path, project, {"OPENAI_API_KEY": PLANTED})
    assert outcome.completion is not None, outcome.error
    assert [bearer(r) for r in server.requests] == [""]
    assert all(PLANTED not in value for value in server.requests[0].headers.values())


def test_a_named_key_is_sent_to_the_other_host_but_the_keyring_key_never_is(project: Path, memory_keyring: MemoryKeyring) -> None:
    memory_keyring.set_password("mmo", "openai", PLANTED)
    with CannedServer(_ok_answer) as server:
        path = write(project / "p.yaml", f'providers:\n  openai: {{base_url: "{server.base_url}", key_env: LAB_API_KEY}}\nstrategy: openai:gpt-5-mini\n')
        named = _ask(path, project, {"LAB_API_KEY": "lab-key-1234"})
        unset = _ask(path, project, {})
    assert named.completion is not None and bearer(server.requests[0]) == "lab-key-1234"
    assert len(server.requests) == 1  # without LAB_API_KEY nothing was sent
    assert unset.error is not None and "LAB_API_KEY" in str(unset.error) and "keys set" not in str(unset.error)


def test_the_own_host_still_takes_the_keyring_key(project: Path, memory_keyring: MemoryKeyring) -> None:
    memory_keyring.set_password("mmo", "corp", PLANTED)
    with CannedServer(_ok_answer) as server:  # a provider the profile declares owns its base_url
        path = write(project / "p.yaml", f'providers:\n  corp: {{base_url: "{server.base_url}"}}\nstrategy: corp:m\n')
        outcome = _ask(path, project, {})
    assert outcome.completion is not None and bearer(server.requests[0]) == PLANTED


# --- key_env names a key ----------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["HOME", "PATH", "DATABASE_URL", "OPENAI_API_KEY_FILE", "MY KEY"])
def test_key_env_must_name_a_key_like_variable(project: Path, variable: str) -> None:
    path = write(project / "p.yaml", f'providers:\n  lab:\n    base_url: "http://127.0.0.1:9/v1"\n    key_env: "{variable}"\nstrategy: lab:m\n')
    result = validate(str(path), cwd=project)
    assert not result.ok
    problem = result.problems[0]
    assert (problem.line, problem.key_path) == (4, "providers.lab.key_env")
    assert "_API_KEY, _KEY or _TOKEN" in problem.message or "not an environment variable name" in problem.message


@pytest.mark.parametrize("variable", ["LAB_API_KEY", "LAB_KEY", "HF_TOKEN"])
def test_key_like_variables_are_accepted(project: Path, variable: str) -> None:
    path = write(project / "p.yaml", f'providers:\n  lab: {{base_url: "http://127.0.0.1:9/v1", key_env: {variable}}}\nstrategy: lab:m\n')
    assert validate(str(path), cwd=project).ok


# --- bounded parsing --------------------------------------------------------------------------


def billion_laughs(levels: int = 9, width: int = 9) -> str:
    """A real alias bomb: each level is a list of ``width`` aliases of the level before, so the
    last one stands for width**levels strings (9**9: 387 million) in a few hundred bytes."""
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    lines.append(f"strategy: *a{levels - 1}")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_with_file_and_line(project: Path) -> None:
    text = billion_laughs()
    assert len(text) < 600
    path = write(project / "bomb.yaml", text)
    result = validate(str(path), cwd=project)
    assert not result.ok and len(result.problems) == 1
    problem = result.problems[0]
    assert f"more than {MAX_NODES:,} nodes" in problem.message and "aliases" in problem.message
    assert problem.line is not None and problem.key_path.startswith("a")
    with pytest.raises(ConfigError, match=f"{path}:{problem.line}"):
        load_profile(str(path), cwd=project, paths=MmoPaths.from_env())


def test_an_alias_inside_the_node_it_names_is_refused_as_a_cycle(project: Path) -> None:
    path = write(project / "p.yaml", "description: x\nstrategy: &s {fallback: [*s]}\n")
    result = validate(str(path), cwd=project)
    assert not result.ok and "(a cycle)" in result.problems[0].message
    assert (result.problems[0].line, result.problems[0].key_path) == (2, "strategy")


def test_aliases_that_stay_small_still_work(project: Path) -> None:
    text = "x-params: &p {temperature: 0.1}\nmodels:\n  a: {model: openai:gpt-5-mini, params: *p}\n  b: {model: openai:gpt-4o-mini, params: *p}\nstrategy: {fallback: [a, b]}\n"
    assert validate(str(write(project / "p.yaml", text)), cwd=project).problems[0].key_path == "x-params"  # unknown key, not a bomb


def test_a_file_over_the_size_limit_is_refused_without_reading_it_all(project: Path) -> None:
    path = project / "huge.yaml"
    path.write_text("strategy: openai:gpt-5-mini\n" + "# filler\n" * (MAX_PROFILE_BYTES // 9 + 10), encoding="utf-8")
    result = validate(str(path), cwd=project)
    assert not result.ok and "larger than 1024 KiB" in result.problems[0].message
    assert result.problems[0].file == str(path)


def test_deep_nesting_is_refused_not_a_crash(project: Path) -> None:
    path = write(project / "deep.yaml", "strategy: " + "[" * 100 + "]" * 100 + "\n")
    result = run("profiles", "validate", str(path))
    assert result.exit_code == 2 and "nests deeper than" in result.stdout


# --- validate builds the tree as a run does ---------------------------------------------------

MODELS = "models: {a: openai:gpt-5-mini, b: anthropic:claude-haiku-4-5}\n"
UNBUILDABLE = {
    "aggregate with min_votes": (MODELS + "strategy:\n  ensemble: [a, b]\n  combine: aggregate\n  judge: a\n  min_votes: 2\n", 2, "min_votes"),
    "judge without a judge": (MODELS + "strategy:\n  fallback:\n    - a\n    - {ensemble: [a, b], combine: judge}\n", 5, "needs a judge"),
    "placeholder naming a later step": (
        MODELS + "strategy:\n  pipeline:\n    - {name: one, run: a, prompt: 'use {two}'}\n    - {name: two, run: b}\n", 2, "unknown placeholder {two}"),
    "placeholder with an attribute": (MODELS + "strategy:\n  pipeline:\n    - {name: one, run: a, prompt: 'use {input.upper}'}\n", 2, "is not allowed"),
}


@pytest.mark.parametrize("case", list(UNBUILDABLE))
def test_validate_refuses_what_every_run_refuses_with_file_and_line(project: Path, case: str) -> None:
    text, line, words = UNBUILDABLE[case]
    path = write(project / "p.yaml", text)
    result = run("profiles", "validate", str(path))
    assert result.exit_code == 2, result.stdout
    assert f"{path}:{line}: strategy" in result.stdout and words in result.stdout
    run_result = run("ask", "--profile", str(path), "hello")  # and a run says the same, located
    assert run_result.exit_code == 2 and f"{path}:{line}" in run_result.stderr and words in run_result.stderr


def test_validate_warns_about_missing_keys_and_unpriced_models_with_lines(project: Path) -> None:
    text = "models:\n  a: openai:gpt-5-mini\n  b: openai:my-fine-tune-xyz\n  c: {model: 'ollama:llama3', local: true}\nstrategy: {fallback: [a, b, c]}\n"
    path = write(project / "p.yaml", text)
    result = validate(str(path), cwd=project, environ={})
    assert result.ok
    messages = {(w.key_path, w.message.split(" (")[0].split(":")[0]) for w in result.warnings}
    assert ("strategy.fallback[0]", "no API key for provider 'openai' here") in messages
    assert any(w.key_path == "strategy.fallback[1]" and "no price known for openai:my-fine-tune-xyz" in w.message for w in result.warnings)
    assert not any("ollama" in w.message for w in result.warnings)  # local: free, and needs no key
    assert all(w.line == 5 for w in result.warnings)
    with_key = validate(str(path), cwd=project, environ={"OPENAI_API_KEY": "k"})
    assert not any("API key" in w.message for w in with_key.warnings)
    cli = run("profiles", "validate", "--json", str(path))
    assert cli.exit_code == 0 and json.loads(cli.stdout)["warnings"]
