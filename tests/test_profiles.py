from __future__ import annotations

import gzip
import json
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
import yaml

from mmo.config.loader import check_source, find_profile, list_profiles, load_profile, profile_json_schema
from mmo.config.references import check_references, strategy_references
from mmo.config.schema import Profile
from mmo.core.errors import ConfigError, UnknownName
from mmo.core.paths import MmoPaths

BUILTINS = (
    "cascade",
    "cascade-agree",
    "cascade-json",
    "demo",
    "fast",
    "hedge",
    "local",
    "multi-vendor",
    "multimodal",
    "private",
    "refine",
    "router",
    "three-tier",
    "tuned",
    "vote",
)

MINIMAL = """\
description: {description}
models:
  fast: openai:gpt-5-mini
strategy: fast
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """A project directory as cwd and the user's paths under the test's MMO_HOME."""
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    return {"cwd": project, "paths": MmoPaths.from_env()}


def load_text(tmp_path: Path, text: str, name: str = "p.yaml") -> Profile:
    path = write(tmp_path / name, text)
    return load_profile(str(path), cwd=tmp_path, paths=MmoPaths.from_env()).profile


def error_of(tmp_path: Path, text: str, name: str = "p.yaml") -> str:
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, text, name)
    return str(caught.value)


# ---- search order and shadowing --------------------------------------------------------------


def test_builtin_found_when_nothing_shadows_it(where: dict) -> None:
    source = find_profile("demo", **where)
    assert source.origin == "builtin"
    assert source.path is None and source.location == "mmo/profiles/demo.yaml"


def test_user_dir_comes_from_mmo_home_and_shadows_builtin(where: dict, isolated_env: Path) -> None:
    write(isolated_env / "config" / "profiles" / "demo.yaml", MINIMAL.format(description="mine"))
    source = find_profile("demo", **where)
    assert source.origin == "user"
    assert source.path == isolated_env / "config" / "profiles" / "demo.yaml"
    assert load_profile("demo", **where).profile.description == "mine"


def test_project_dir_shadows_user_dir_and_builtin(where: dict, isolated_env: Path) -> None:
    write(isolated_env / "config" / "profiles" / "demo.yaml", MINIMAL.format(description="user"))
    write(where["cwd"] / "profiles" / "demo.yaml", MINIMAL.format(description="project"))
    loaded = load_profile("demo", **where)
    assert loaded.source.origin == "project"
    assert loaded.profile.description == "project"


def test_explicit_path_wins_and_may_be_relative(where: dict) -> None:
    write(where["cwd"] / "profiles" / "demo.yaml", MINIMAL.format(description="project"))
    write(where["cwd"] / "elsewhere" / "demo.yaml", MINIMAL.format(description="explicit"))
    loaded = load_profile("elsewhere/demo.yaml", **where)
    assert loaded.source.origin == "path"
    assert loaded.profile.description == "explicit"
    absolute = load_profile(str(where["cwd"] / "elsewhere" / "demo.yaml"), **where)
    assert absolute.source.path == where["cwd"] / "elsewhere" / "demo.yaml"


def test_missing_explicit_path_is_a_config_error_naming_it(where: dict) -> None:
    with pytest.raises(ConfigError, match="no such profile file: .*nothere.yaml"):
        find_profile("nothere.yaml", **where)


def test_list_marks_shadowed_profiles(where: dict, isolated_env: Path) -> None:
    write(isolated_env / "config" / "profiles" / "demo.yaml", MINIMAL.format(description="user"))
    write(isolated_env / "config" / "profiles" / "mine.yaml", MINIMAL.format(description="user"))
    write(where["cwd"] / "profiles" / "demo.yaml", MINIMAL.format(description="project"))
    listed = [(s.name, s.origin, s.shadowed_by) for s in list_profiles(**where)]
    assert [row for row in listed if row[0] == "demo"] == [
        ("demo", "project", None),
        ("demo", "user", "project"),
        ("demo", "builtin", "project"),
    ]
    assert ("mine", "user", None) in listed
    assert {name for name, origin, _ in listed if origin == "builtin"} == set(BUILTINS)


def test_unknown_profile_suggests_close_name(where: dict) -> None:
    with pytest.raises(UnknownName) as caught:
        load_profile("thre-tier", **where)
    assert caught.value.suggestions[0] == "three-tier"
    assert "did you mean 'three-tier'" in str(caught.value)


# ---- the built-ins -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", BUILTINS)
def test_every_builtin_loads_and_its_references_resolve(name: str, where: dict) -> None:
    loaded = load_profile(name, **where)
    assert loaded.profile.name == name  # defaulted from the file name
    assert loaded.profile.description
    assert check_references(loaded.profile) == []
    assert strategy_references(loaded.profile)


def test_demo_models_are_in_the_bundled_replay_sample(where: dict) -> None:
    profile = load_profile("demo", **where).profile
    assert profile.providers["replay"].kind == "replay"
    with gzip.open(files("mmo").joinpath("data", "mmlu_pro_sample.jsonl.gz").open("rb"), "rt", encoding="utf-8") as lines:
        recorded = set(json.loads(lines.readline())["models"])
    models = {profile.model_entry(alias).model.removeprefix("replay:") for alias in profile.models}
    assert models <= recorded


def test_local_profile_has_only_local_ollama_models(where: dict) -> None:
    profile = load_profile("local", **where).profile
    entries = [profile.model_entry(alias) for alias in profile.models]
    assert entries and all(e.model.startswith("ollama:") and e.local for e in entries)


# ---- YAML and schema errors ----------------------------------------------------------------------


def test_yaml_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    message = error_of(tmp_path, "models:\n  a: [1, 2\nstrategy: a\n", "broken.yaml")
    assert f"{tmp_path / 'broken.yaml'}:3:9: invalid YAML" in message


def test_schema_error_names_key_path_line_and_expectation(tmp_path: Path) -> None:
    text = """\
models:
  fast: openai:gpt-5-mini
strategy:
  fallback:
    - fast
    - fallback: [openai:gpt-5]
      retry:
        attempts: 50
"""
    message = error_of(tmp_path, text)
    assert f"{tmp_path / 'p.yaml'}:8: strategy.fallback[1].retry.attempts: expected less than or equal to 10, got 50" in message


def test_every_schema_problem_is_reported_at_once_in_file_order(tmp_path: Path) -> None:
    text = """\
models:
  fast: {modle: openai:gpt-5-mini}
  slow: 12
strategy: {fallbak: [fast]}
"""
    path = write(tmp_path / "p.yaml", text)
    check = check_source(find_profile(str(path), cwd=tmp_path, paths=MmoPaths.from_env()))
    assert not check.ok
    described = [(p.line, p.key_path, p.message) for p in check.problems]
    assert (2, "models.fast.modle", "unknown key 'modle' (did you mean 'model'?); expected one of: model, local, price, context_window, max_output, capabilities, params") in described
    assert (2, "models.fast.model", "required key is missing") in described
    assert (3, "models.slow", "expected a string or a mapping (ModelEntry), got 12") in described
    strategy = [m for line, key, m in described if key == "strategy"]
    assert len(strategy) == 1 and "did you mean 'fallback'?" in strategy[0] and "model, fallback" in strategy[0]
    assert [line for line, _, _ in described] == sorted(line for line, _, _ in described)


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    assert "p.yaml:1: expected a mapping of profile keys" in error_of(tmp_path, "- a\n- b\n")
    assert "got an empty file" in error_of(tmp_path, "")


def test_duplicate_keys_are_errors_not_silently_last_wins(tmp_path: Path) -> None:
    text = "models:\n  fast: openai:gpt-5-mini\n  fast: openai:gpt-5\nstrategy: fast\n"
    assert "p.yaml:3: models.fast: duplicate key 'fast' (first at line 2)" in error_of(tmp_path, text)


def test_name_defaults_to_file_stem_but_an_explicit_name_wins(tmp_path: Path) -> None:
    assert load_text(tmp_path, MINIMAL.format(description="x"), "my-profile.yaml").name == "my-profile"
    assert load_text(tmp_path, "name: other\n" + MINIMAL.format(description="x"), "file.yaml").name == "other"


def test_authorization_header_is_refused_without_echoing_the_key(tmp_path: Path) -> None:
    text = """\
providers:
  proxy: {base_url: "http://localhost:9/v1", headers: {Authorization: "Bearer sk-secret-123"}}
models:
  fast: proxy:some-model
strategy: fast
"""
    message = error_of(tmp_path, text)
    assert "p.yaml:2: providers.proxy.headers: header 'Authorization' would put a key in a plain file" in message
    assert "sk-secret-123" not in message


def test_a_key_pasted_into_the_profile_is_never_echoed(tmp_path: Path) -> None:
    text = 'providers:\n  proxy: {base_url: "http://localhost:9/v1", key: "sk-secret-456"}\nstrategy: proxy:m\n'
    message = error_of(tmp_path, text)
    assert "providers.proxy.key: expected 'required' or 'none', got a string" in message
    assert "mmo keys set proxy" in message
    assert "sk-secret-456" not in message


# ---- references ------------------------------------------------------------------------------------


def test_unknown_alias_suggests_close_aliases(tmp_path: Path) -> None:
    text = """\
models:
  fast: openai:gpt-5-mini
  smart: anthropic:claude-sonnet-4-5
strategy:
  fallback: [fsat, {model: smrt}]
"""
    lines = error_of(tmp_path, text).splitlines()
    fsat = next(line for line in lines if "'fsat'" in line)
    smrt = next(line for line in lines if "'smrt'" in line)
    assert "p.yaml:5: strategy.fallback[0]: unknown model 'fsat'" in fsat
    assert "did you mean 'fast'" in fsat
    assert "p.yaml:5: strategy.fallback[1].model: unknown model 'smrt'" in smrt
    assert "did you mean 'smart'" in smrt


def test_provider_must_be_builtin_or_declared() -> None:
    profile = Profile(
        name="p",
        models={"a": "opnai:gpt-5", "b": "mine:model-x", "c": "nocolon"},
        providers={"mine": {"base_url": "http://localhost:9/v1"}},
        strategy={"fallback": ["a", "b", "mine:other", "ollama:llama3.1:8b", "grq:llama"]},
    )
    problems = check_references(profile)
    assert problems[0].startswith("models.a: unknown provider 'opnai' in 'opnai:gpt-5'; did you mean 'openai'?")
    assert problems[1].startswith("models.c: expected provider:model")
    assert problems[2].startswith("strategy.fallback[4]: unknown provider 'grq'")
    assert len(problems) == 3


def test_strategy_references_are_found_at_any_depth() -> None:
    profile = Profile(
        name="p",
        models={"a": "openai:gpt-5-mini"},
        strategy={"fallback": ["a", {"fallback": [{"model": "missing"}, "b"]}]},
    )
    assert strategy_references(profile) == [
        (("strategy", "fallback", 0), "a"),
        (("strategy", "fallback", 1, "fallback", 0, "model"), "missing"),
        (("strategy", "fallback", 1, "fallback", 1), "b"),
    ]
    assert [p.split(":")[0] for p in check_references(profile)] == ["strategy.fallback[1].fallback[0].model", "strategy.fallback[1].fallback[1]"]


def test_limit_keys_must_name_an_alias_or_provider_model() -> None:
    profile = Profile(
        name="p",
        models={"fast": "openai:gpt-5-mini"},
        limits={"fast": {"rpm": 1}, "openai:gpt-5": {"rpm": 1}, "fsat": {"rpm": 1}},
        strategy="fast",
    )
    assert len(check_references(profile)) == 1
    assert check_references(profile)[0].startswith("limits.fsat: unknown model 'fsat'")


# ---- JSON Schema -------------------------------------------------------------------------------------


def test_json_schema_is_valid_and_accepts_every_builtin() -> None:
    schema = profile_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for name in BUILTINS:
        document = yaml.safe_load(files("mmo").joinpath("profiles", f"{name}.yaml").read_text(encoding="utf-8"))
        assert list(validator.iter_errors(document)) == [], name


def test_json_schema_rejects_what_the_loader_rejects() -> None:
    validator = jsonschema.Draft202012Validator(profile_json_schema())
    assert not validator.is_valid({"strategy": {"fallbak": ["a"]}})
    assert not validator.is_valid({"strategy": "a", "retry": {"attempts": 50}})
    assert not validator.is_valid({"models": {"a": "openai:x"}})  # no strategy
