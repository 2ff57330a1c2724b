"""Failover drills: --simulate-outage PROVIDER[:MODEL] makes that target fail, before the cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmo.app.demo import demo_task
from mmo.cli.main import app
from mmo.core.errors import AllAttemptsFailed, ConfigError, Overloaded, UnknownName
from mmo.core.target import RunOptions
from mmo.providers.fake import FakeProvider, FakeReply
from mmo.runtime.outage import OutageGuard, OutageTarget, parse_outage
from tests.support.guard_harness import build, profile_of, run_sync, session_services

ALIASES = {"fast": "openai:gpt-5-mini", "local": "ollama:llama3.1:8b"}
PROVIDERS = ["openai", "anthropic", "ollama", "fake"]


def test_a_provider_a_model_and_an_alias_are_understood() -> None:
    assert parse_outage("openai", aliases=ALIASES, providers=PROVIDERS) == OutageTarget("openai", "openai", None)
    assert parse_outage("openai:gpt-5", aliases=ALIASES, providers=PROVIDERS) == OutageTarget("openai:gpt-5", "openai", "gpt-5")
    assert parse_outage("fast", aliases=ALIASES, providers=PROVIDERS) == OutageTarget("fast", "openai", "gpt-5-mini")
    # A model name may itself hold colons.
    assert parse_outage("ollama:llama3.1:8b", aliases=ALIASES, providers=PROVIDERS).model == "llama3.1:8b"


def test_an_unknown_provider_is_an_error_with_a_suggestion() -> None:
    with pytest.raises(UnknownName, match="did you mean 'openai'"):
        parse_outage("opnai", aliases=ALIASES, providers=PROVIDERS)
    with pytest.raises(UnknownName, match="did you mean 'anthropic'"):
        parse_outage("antropic:claude", aliases=ALIASES, providers=PROVIDERS)
    with pytest.raises(ConfigError, match="expected PROVIDER"):
        parse_outage("openai:", aliases=ALIASES, providers=PROVIDERS)


def setup(strategy: object, fake: FakeProvider, *flags: str):
    profile = profile_of({"models": {"a": "fake:a", "b": "fake:b", "c": "other:c"}, "strategy": strategy})
    guard = OutageGuard.from_flags(flags, aliases={"a": "fake:a", "b": "fake:b"}, providers=["fake", "other"])
    return build(profile), session_services(profile, {"fake": fake, "other": fake}, [guard])


def test_a_downed_model_is_never_called_and_the_fallback_moves_on() -> None:
    fake = FakeProvider().script("a", default=FakeReply("from a")).script("b", default=FakeReply("from b"))
    root, services = setup({"fallback": ["a", "b"], "retry": {"attempts": 1}}, fake, "fake:a")
    completion = run_sync(root, services)
    assert completion.text == "from b"
    assert [c.model for c in fake.calls] == ["b"]
    downed = next(completion.trace.attempts())
    assert downed.model_id == "fake:a" and downed.error == "Overloaded"
    assert downed.error_message == "Overloaded from fake:a: simulated outage (--simulate-outage fake:a)"


def test_a_downed_provider_takes_all_its_models_down_but_not_other_providers() -> None:
    fake = FakeProvider().script("a", default=FakeReply("a")).script("b", default=FakeReply("b")).script("c", default=FakeReply("c"))
    root, services = setup({"fallback": ["a", "b", "c"], "retry": {"attempts": 1}}, fake, "fake")
    assert run_sync(root, services).text == "c"
    assert [c.model for c in fake.calls] == ["c"]


def test_drills_repeat_and_behave_like_a_real_outage_with_retries() -> None:
    fake = FakeProvider().script("a", default=FakeReply("a")).script("b", default=FakeReply("b"))
    strategy = {"fallback": ["a", "b"], "retry": {"attempts": 2, "backoff_s": 0.001, "max_backoff_s": 0.001}}
    root, services = setup(strategy, fake, "a", "fake:b")
    with pytest.raises(AllAttemptsFailed) as caught:
        run_sync(root, services)
    # Overloaded is transient: each model is retried once, as during a real outage.
    assert [type(e) for e in caught.value.exceptions] == [Overloaded] * 4
    assert fake.calls == []


def test_the_outage_hides_cached_answers_too(tmp_path: Path) -> None:
    from mmo.runtime.cache import ResponseCache

    fake = FakeProvider().script("a", default=FakeReply("from a"))
    profile = profile_of({"strategy": "fake:a"})
    services = session_services(profile, {"fake": fake}, [])
    services.cache = ResponseCache(tmp_path / "cache")
    try:
        assert run_sync(build(profile), services, options=RunOptions()).text == "from a"  # now cached
        services.guards = (OutageGuard([OutageTarget("fake", "fake")]),)
        with pytest.raises(Overloaded, match="simulated outage"):
            run_sync(build(profile), services, options=RunOptions())
    finally:
        services.cache.close()


# ---- the command line ---------------------------------------------------------------------------


def ask(*args: str) -> object:
    task = demo_task(None)
    return CliRunner().invoke(app, ["ask", "--profile", "demo", "--no-cache", "--meta", f"id={task.id}", *args, task.prompt])


def test_demo_profile_falls_back_from_flash_to_pro_during_a_flash_outage() -> None:
    result = ask("--simulate-outage", "replay:gemini-1.5-flash-002", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["completion"]["model_id"] == "replay:gemini-1.5-pro-002"
    fallback = data["trace"]["children"][0]
    flash_attempts = [c for c in fallback["children"] if c["label"] == "flash"]
    assert flash_attempts and all(c["error"] == "Overloaded" for c in flash_attempts)
    assert "simulated outage (--simulate-outage replay:gemini-1.5-flash-002)" in flash_attempts[0]["error_message"]
    assert any(e["message"].startswith("moving on from flash to pro") for e in fallback["events"])


def test_explain_shows_the_simulated_outage() -> None:
    result = ask("--simulate-outage", "flash", "--explain")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "simulated outage (--simulate-outage flash)" in text
    assert "flash ✗ Overloaded" in text and "pro ✓" in text


def test_a_whole_provider_down_fails_the_run_with_exit_1() -> None:
    result = ask("--simulate-outage", "replay")
    assert result.exit_code == 1
    assert "simulated outage (--simulate-outage replay)" in result.output


def test_an_unknown_outage_target_exits_2_before_anything_runs() -> None:
    result = ask("--simulate-outage", "replya")
    assert result.exit_code == 2
    assert "did you mean 'replay'" in result.output


def test_session_guards_run_privacy_then_capabilities_then_the_drill_then_limits_then_budget() -> None:
    from mmo.app.guards import run_guards
    from mmo.runtime.capabilities_guard import CapabilityGuard
    from mmo.runtime.image_guard import ImageGuard
    from mmo.runtime.limits import LimitsGuard
    from mmo.runtime.privacy import PrivacyGuard
    from mmo.runtime.spend import SpendGuard
    from mmo.runtime.window_guard import WindowGuard

    profile = profile_of(
        {"models": {"a": "fake:a"}, "strategy": "a", "privacy": {"pii": "local_only"}, "budget": {"per_request_usd": 1}}
    )
    guards = run_guards(profile, providers=["fake"], runlog=None, simulate_outage=["a"])
    assert [type(g) for g in guards] == [PrivacyGuard, CapabilityGuard, ImageGuard, WindowGuard, OutageGuard, LimitsGuard, SpendGuard]
    plain = run_guards(profile_of({"strategy": "fake:a"}), providers=["fake"], runlog=None)
    assert [type(g) for g in plain] == [CapabilityGuard, ImageGuard, WindowGuard, LimitsGuard]  # every model keeps its circuit breaker
