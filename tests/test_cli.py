"""The CLI as a user meets it: the offline demo, ask, keys, cache, models, and exit codes."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmo.app.demo import demo_task
from mmo.cli.main import app
from tests.support.loopback import LoopbackServer

SECRET = "sk-test-THIS-MUST-NEVER-LEAK-0123456789"


def run(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args), input=input)


def test_demo_shows_the_models_the_profiles_the_frontier_and_one_routed_question() -> None:
    result = run("demo")
    assert result.exit_code == 0, result.stderr
    shown = result.stdout
    for target in ("mistral7b", "llama8b", "mixtral", "llama70b", "flash", "jamba", "pro", "gpt4o", "profile:cascade-agree"):
        assert target in shown
    assert "◆ frontier" in shown and "accuracy against cost per task" in shown
    assert "flash alone answered" in shown and "✗" in shown and "✓ right" in shown
    assert "Next:" in shown and "mmo bench" in shown and "mmo tune" in shown


def test_demo_with_an_id_answers_one_question_with_a_table() -> None:
    result = run("demo", "--id", "mmlu_pro-153")
    assert result.exit_code == 0, result.stderr
    assert "answer is" in result.stdout.lower()
    assert "replay:gemini-1.5-flash-002" in result.stderr
    assert "prices: recorded" in result.stderr
    assert "total" in result.stderr


def test_ask_with_the_demo_profile_and_an_exact_prompt_matches_the_recording() -> None:
    task = demo_task(None)
    result = run("ask", "--profile", "demo", "--json", task.prompt)
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["ok"] and payload["completion"]["model_id"] == "replay:gemini-1.5-flash-002"
    assert payload["completion"]["cost_source"] == "recorded"
    assert payload["cost_usd"] == payload["completion"]["cost_usd"] > 0


def test_prompt_from_stdin() -> None:
    task = demo_task(None)
    result = run("ask", "--profile", "demo", "--json", input=task.prompt)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["ok"]


def test_explain_shows_the_tree() -> None:
    result = run("demo", "--explain")
    assert result.exit_code == 0
    assert "fallback" in result.stderr and "model flash" in result.stderr


def test_unknown_profile_suggests_a_close_name_and_exits_2() -> None:
    result = run("ask", "--profile", "dmeo", "hello")
    assert result.exit_code == 2
    assert "demo" in result.stderr and "Traceback" not in result.stderr


def test_unknown_provider_is_refused_before_any_call() -> None:
    result = run("ask", "--model", "opnai:gpt-5-mini", "hello")
    assert result.exit_code == 2
    assert "unknown provider 'opnai'" in result.stderr and "openai" in result.stderr


def test_unknown_alias_in_a_profile_suggests_aliases() -> None:
    result = run("ask", "--profile", "demo", "--model", "flsh", "hello")
    assert result.exit_code == 2
    assert "flash" in result.stderr


def test_missing_key_names_the_command_and_variable_and_exits_3() -> None:
    result = run("ask", "--model", "openai:gpt-5-mini", "hello")
    assert result.exit_code == 3
    assert "mmo keys set openai" in result.stderr and "OPENAI_API_KEY" in result.stderr


def test_bad_parameter_is_a_usage_error() -> None:
    result = run("ask", "--profile", "demo", "-p", "temperature", "hello")
    assert result.exit_code == 2
    assert "key=value" in result.stderr


def test_no_prompt_is_a_usage_error() -> None:
    result = run("ask", "--profile", "demo", input="")
    assert result.exit_code == 2


def test_keys_set_list_rm_never_show_the_value(memory_keyring) -> None:  # type: ignore[no-untyped-def]
    assert run("keys", "set", "groq", input=SECRET + "\n").exit_code == 0
    assert memory_keyring.store[("mmo", "groq")] == SECRET
    listing = run("keys", "list")
    assert listing.exit_code == 0
    assert "groq" in listing.stdout and "keyring" in listing.stdout
    assert SECRET not in listing.stdout + listing.stderr
    assert run("keys", "rm", "groq").exit_code == 0
    assert ("mmo", "groq") not in memory_keyring.store


def test_keys_list_shows_environment_variables_as_the_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    listing = run("keys", "list")
    assert "env OPENAI_API_KEY" in listing.stdout
    assert SECRET not in listing.stdout


def test_models_lists_prices_and_filters_by_provider() -> None:
    result = run("models", "--provider", "anthropic", "--json")
    assert result.exit_code == 0
    models = json.loads(result.stdout)
    assert models and all(m["provider"] == "anthropic" for m in models)
    sonnet = next(m for m in models if m["model"] == "claude-sonnet-4-5")
    assert sonnet["input_per_mtok"] == 3 and sonnet["output_per_mtok"] == 15
    assert run("models", "--provider", "antropic").exit_code == 2
    assert sonnet["context_window"] == 1_000_000 and sonnet["context_window_source"] == "mmo table"
    assert sonnet["max_output"] == 64_000 and sonnet["price_source"].startswith("genai-prices")


def test_models_with_a_profile_shows_its_own_models_and_overrides(tmp_path: Path) -> None:
    profile = tmp_path / "mine.yaml"
    profile.write_text(
        "providers:\n  lab: {base_url: \"http://127.0.0.1:9/v1\", key: none}\n"
        "models:\n"
        "  mini: {model: \"openai:gpt-4o-mini\", context_window: 32000, max_output: 1000}\n"
        "  ours: {model: \"lab:our-model\", price: {input: 1, output: 2}, context_window: 8192}\n"
        "strategy: mini\n"
    )
    listed = {m["id"]: m for m in json.loads(run("models", "--profile", str(profile), "--json").stdout)}
    mini = listed["openai:gpt-4o-mini"]
    assert (mini["context_window"], mini["context_window_source"], mini["max_output"]) == (32000, "profile", 1000)
    ours = listed["lab:our-model"]
    assert (ours["input_per_mtok"], ours["output_per_mtok"], ours["price_source"], ours["context_window"]) == (1, 2, "profile", 8192)
    assert [m["id"] for m in json.loads(run("models", "--profile", str(profile), "--provider", "lab", "--json").stdout)] == ["lab:our-model"]


@pytest.mark.parametrize(
    ("pair", "named"),
    [("timeout_s=nan", "timeout_s='nan'"), ("timeout_s=-1", "timeout_s=-1"), ("max_tokens=abc", "max_tokens='abc'"), ("temperature=3", "temperature=3")],
)
def test_a_bad_parameter_value_is_a_usage_error_naming_it(pair: str, named: str) -> None:
    result = run("ask", "--profile", "demo", "-p", pair, "a question")
    assert result.exit_code == 2, result.stderr
    assert f"parameter {named}" in result.stderr


def test_a_key_never_reaches_output_cache_runlog_or_json(
    tmp_path: Path, loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    """The key travels in a header to the server and nowhere else, even when the call fails."""
    monkeypatch.setenv("LOOP_API_KEY", SECRET)
    profile = tmp_path / "p.yaml"
    profile.write_text(
        f"providers:\n  loop: {{kind: openai, base_url: '{loopback.openai_base_url}', key_env: LOOP_API_KEY}}\n"
        "models:\n  m: {model: 'loop:m', price: {input: 1, output: 1}}\n  bad: {model: 'loop:bad'}\n"
        "strategy: {fallback: [bad, m], retry: {attempts: 1}}\n"
    )
    from tests.support.loopback import Fault

    loopback.script("bad", Fault.auth_failed())
    outputs = []
    for args in (["--json"], ["--explain"], ["--explain"]):  # the third is answered from the cache
        result = run("ask", "--profile", str(profile), *args, "hello")
        assert result.exit_code == 0, result.stderr
        outputs.append(result.stdout + result.stderr)
    assert "cache hit" in outputs[2] or "hit" in outputs[2]
    assert all(SECRET not in text for text in outputs)
    assert loopback.requests[0].body is not None  # the server did get the calls
    for path in isolated_env.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), f"key found in {path}"
    db = sqlite3.connect(isolated_env / "data" / "runlog.sqlite3")
    rows = db.execute("select * from runs").fetchall() + db.execute("select * from attempts").fetchall()
    assert rows and SECRET not in repr(rows)


def test_no_log_keeps_prompt_and_answer_out_of_the_run_log(isolated_env: Path) -> None:
    task = demo_task(None)
    assert run("ask", "--profile", "demo", "--no-log", "--json", task.prompt).exit_code == 0
    db = sqlite3.connect(isolated_env / "data" / "runlog.sqlite3")
    prompt, answer, model = db.execute("select prompt, answer, model_id from runs").fetchone()
    assert prompt is None and answer is None and model == "replay:gemini-1.5-flash-002"


def test_cache_stats_and_clear(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text(f"providers:\n  loop: {{kind: openai, base_url: '{loopback.openai_base_url}', key: none}}\nstrategy: loop:m\n")
    assert run("ask", "--profile", str(profile), "hello").exit_code == 0
    second = run("ask", "--profile", str(profile), "--json", "hello")
    assert json.loads(second.stdout)["completion"]["cached"] is True
    assert loopback.stats().total == 1
    stats = run("cache", "stats")
    assert "entries" in stats.stdout and " 1" in stats.stdout
    assert "removed 1" in run("cache", "clear").stdout
    refreshed = run("ask", "--profile", str(profile), "--json", "hello")
    assert json.loads(refreshed.stdout)["completion"]["cached"] is False
    assert loopback.stats().total == 2


def test_base_url_override_and_unknown_model_warning(loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", loopback.openai_base_url)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    result = run("ask", "--model", "openai:gpt-5-mimi", "hello")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "echo: hello"
    assert "openai:gpt-5-mimi is not a model the price library knows; did you mean gpt-5-mini" in " ".join(result.stderr.split())
    assert "unknown" in result.stderr  # its cost: never a fake $0
    assert loopback.requests[0].model == "gpt-5-mimi"


def test_the_token_estimator_learns_each_models_ratio_from_the_run_log() -> None:
    from mmo.app.engine import open_engine
    from mmo.app.settings import AppEnv, ProfileChoice, RunSettings

    env = AppEnv.from_process()
    settings = RunSettings(choice=ProfileChoice("demo"), read_cache=False, write_cache=False)

    def tokens():  # type: ignore[no-untyped-def]
        async def opened():  # type: ignore[no-untyped-def]
            async with open_engine(settings, env, log_runs=False) as engine:
                return engine.services.tokens

        return asyncio.run(opened())

    assert tokens().method("replay:gemini-1.5-flash-002") == "chars/4"
    for task in ("mmlu_pro-135", "mmlu_pro-153", "mmlu_pro-228"):
        assert run("demo", "--id", task, "--json").exit_code == 0
    learnt = tokens()
    ratio = learnt.ratio("replay:gemini-1.5-flash-002")
    assert ratio is not None and 0.8 < ratio < 1.6  # recorded tokens vs chars/4 of the prompt
    assert "learnt from 3 calls" in learnt.method("replay:gemini-1.5-flash-002")
    assert learnt.typical_output("replay:gemini-1.5-flash-002") is not None  # and its typical answer length


def test_paths_lists_where_mmo_keeps_its_files(isolated_env: Path) -> None:
    result = run("paths", "--json")
    assert result.exit_code == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["profiles"] == str(isolated_env / "config" / "profiles")
    assert found["run_log"] == str(isolated_env / "data" / "runlog.sqlite3")
    assert found["keys"].endswith("MemoryKeyring")  # the tests' keyring
    assert "run log" in run("paths").stdout
