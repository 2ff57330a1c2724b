"""The privacy guard: with `privacy: {pii: local_only}`, personal data reaches only local models,
whatever strategy makes the call (fallbacks, router branches, the intent classifier)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mmo.cli.errors import EXIT_FAILED, exit_code, message
from mmo.config.schema import Profile
from mmo.core.errors import AllAttemptsFailed, PermanentError, PolicyBlocked
from mmo.core.types import Completion, Cost, Message, Request, ToolCall, Usage
from mmo.providers.fake import FakeProvider, FakeReply
from mmo.runtime.privacy import PrivacyGuard, outgoing_text
from tests.support.strategy_harness import run_profile

PII_PROMPT = "Draft a reply to jane.doe@example.com about card 4111 1111 1111 1111"
CLEAN_PROMPT = "Draft a friendly reply about the delayed order"
MODELS = {"cloud": "fake:cloud", "cloud2": "fake:cloud2", "local": {"model": "fake:local", "local": True}, "small": "fake:small"}
LOCAL_ONLY = {"pii": "local_only"}


def answering(*models: str, provider: str = "fake") -> FakeProvider:
    fake = FakeProvider(provider)
    for model in models:
        fake.script(model, default=FakeReply(f"answer from {model}", usage=Usage(10, 5), cost=Cost(0.001, "test")))
    return fake


def profile(strategy: Any, privacy: dict[str, str] | None = LOCAL_ONLY) -> dict[str, Any]:
    return {"models": MODELS, "strategy": strategy, **({"privacy": privacy} if privacy else {})}


def guarded(spec: dict[str, Any], fake: FakeProvider, prompt: str, spans: list | None = None) -> Completion:
    """Run with the guard the profile asks for, as the session adds it."""
    guard = privacy_guard(Profile.model_validate({"name": "t", **spec}))
    return run_profile(spec, {"fake": fake}, prompt, guards=(guard,) if guard else (), spans=spans)


def privacy_guard(profile: Profile) -> PrivacyGuard | None:
    """The privacy guard among the guards a run of ``profile`` gets, if any."""
    from mmo.app.guards import run_guards

    return next((g for g in run_guards(profile, providers=["fake"], runlog=None) if isinstance(g, PrivacyGuard)), None)


# ---- the guard on its own ----------------------------------------------------------------------


def test_the_profile_decides_whether_there_is_a_guard() -> None:
    assert privacy_guard(Profile.model_validate({"name": "t", **profile("cloud", None)})) is None
    assert privacy_guard(Profile.model_validate({"name": "t", **profile("cloud", {"pii": "allow"})})) is None
    assert isinstance(privacy_guard(Profile.model_validate({"name": "t", **profile("cloud")})), PrivacyGuard)


def test_the_session_installs_the_guard_first() -> None:
    from mmo.app.guards import run_guards

    guards = run_guards(Profile.model_validate({"name": "t", **profile("cloud")}), providers=["fake"], runlog=None)
    assert isinstance(guards[0], PrivacyGuard)


def test_policy_blocked_is_a_permanent_error_that_fails_over() -> None:
    error = PolicyBlocked("no", provider="openai", model="gpt-5-mini")
    assert isinstance(error, PermanentError) and error.failover and not error.retryable


def test_the_guard_reads_everything_a_provider_would_receive() -> None:
    guard = PrivacyGuard()
    in_system = Request((Message("system", "Our admin is root@example.com"), Message("user", "Hi")))
    in_tool_call = Request(
        (
            Message("user", "Look up the customer"),
            Message("assistant", "", tool_calls=(ToolCall("1", "lookup", '{"iban": "GB82WEST12345698765432"}'),)),
        )
    )
    assert [f.kind for f in guard.findings(in_system)] == ["email"]
    assert [f.kind for f in guard.findings(in_tool_call)] == ["iban"]
    assert "GB82WEST" in outgoing_text(in_tool_call)
    # The same text is scanned once, however many targets check it.
    assert guard.findings(in_tool_call) is guard.findings(in_tool_call)


# ---- through strategies -------------------------------------------------------------------------


def test_cloud_models_answer_requests_without_personal_data() -> None:
    fake = answering("cloud", "local")
    assert guarded(profile({"fallback": ["cloud", "local"]}), fake, CLEAN_PROMPT).model_id == "fake:cloud"


def test_a_fallback_skips_cloud_targets_and_the_local_model_answers_without_anything_sent_out() -> None:
    fake = answering("cloud", "cloud2", "local")
    completion = guarded(profile({"fallback": ["cloud", "cloud2", "local"], "retry": {"attempts": 3}}), fake, PII_PROMPT)
    assert completion.model_id == "fake:local" and completion.text == "answer from local"
    assert [c.model for c in fake.calls] == ["local"]  # nothing reached a cloud model
    attempts = list(completion.trace.attempts())  # type: ignore[union-attr]
    assert [(a.model_id, a.error) for a in attempts] == [("fake:cloud", "PolicyBlocked"), ("fake:cloud2", "PolicyBlocked"), ("fake:local", None)]
    blocked_note = attempts[0].events[0]
    assert blocked_note.message == "privacy guard: blocked; personal data (email x1, card x1) may go only to local models"
    assert blocked_note.attrs["pii"] == {"email": 1, "card": 1}
    assert "jane" not in str(completion.trace.to_dict()) and "4111" not in str(completion.trace.to_dict())  # type: ignore[union-attr]


def test_with_no_local_model_the_run_fails_clearly_having_sent_nothing() -> None:
    fake = answering("cloud", "cloud2")
    with pytest.raises(AllAttemptsFailed) as caught:
        guarded(profile({"fallback": ["cloud", "cloud2"]}), fake, PII_PROMPT)
    assert fake.calls == []
    assert all(isinstance(e, PolicyBlocked) for e in caught.value.exceptions)
    text = message(caught.value)
    assert "PolicyBlocked from fake:cloud" in text and "personal data (email x1, card x1)" in text and "local_only" in text
    assert "jane" not in text and "4111" not in text
    assert exit_code(caught.value) == EXIT_FAILED

    with pytest.raises(PolicyBlocked, match=r"nothing was sent"):
        guarded(profile("cloud"), answering("cloud"), PII_PROMPT)


def test_without_the_guard_the_same_fallback_would_send_the_data_out() -> None:
    fake = answering("cloud", "local")
    assert guarded(profile({"fallback": ["cloud", "local"]}, None), fake, PII_PROMPT).model_id == "fake:cloud"


def test_a_pii_rule_routes_to_the_local_model_and_the_guard_protects_the_default_too() -> None:
    spec = profile({"rules": [{"when": {"pii": True}, "use": "local"}], "default": "cloud"})
    fake = answering("cloud", "local")
    assert guarded(spec, fake, PII_PROMPT).model_id == "fake:local"
    assert guarded(spec, fake, CLEAN_PROMPT).model_id == "fake:cloud"
    # A router without the rule still never sends the data out: its cloud default is refused.
    with pytest.raises(PolicyBlocked):
        guarded(profile({"rules": [{"when": {"keywords": ["x"]}, "use": "local"}], "default": "cloud"}), answering("cloud"), PII_PROMPT)


# ---- the intent classifier under privacy ---------------------------------------------------------

CLASSIFY = {"model": "small", "labels": {"code": "cloud", "chat": "local"}}


def test_a_cloud_classifier_is_skipped_for_personal_data_and_never_called() -> None:
    fake = answering("local", "small")
    completion = guarded(profile({"classify": CLASSIFY, "default": "local"}), fake, PII_PROMPT)
    assert completion.model_id == "fake:local"
    assert fake.calls_to("small") == []
    notes = [e.message for e in completion.trace.children[0].events]  # type: ignore[union-attr]
    assert notes[0] == (
        "classifier skipped: the request holds personal data (email x1, card x1) and privacy allows it only on local "
        "models, but the classifier small is not local"
    )


def test_a_cloud_classifier_still_labels_requests_without_personal_data() -> None:
    fake = answering("local", "cloud").script("small", FakeReply("code"))
    completion = guarded(profile({"classify": CLASSIFY, "default": "local"}), fake, CLEAN_PROMPT)
    assert completion.model_id == "fake:cloud"


def test_a_classifier_with_a_local_fallback_labels_personal_data_locally() -> None:
    fake = FakeProvider().script("local", FakeReply("chat"), FakeReply("the local answer")).script("cloud", FakeReply("never sent"))
    classify = {"model": {"fallback": ["cloud", "local"]}, "labels": {"chat": "local", "code": "cloud"}}
    completion = guarded(profile({"classify": classify, "default": "cloud"}), fake, PII_PROMPT)
    assert completion.text == "the local answer"
    assert [c.model for c in fake.calls] == ["local", "local"]  # the classifier, then the branch
    assert [a.error for a in completion.trace.attempts()] == ["PolicyBlocked", None, None]  # type: ignore[union-attr]


def test_without_privacy_the_classifier_is_not_skipped() -> None:
    fake = answering("local", "cloud").script("small", FakeReply("code"))
    completion = guarded(profile({"classify": CLASSIFY, "default": "local"}, None), fake, PII_PROMPT)
    assert completion.model_id == "fake:cloud"


# ---- the built-in profile -----------------------------------------------------------------------


def test_builtin_private_profile_keeps_personal_data_local_and_classifies_the_rest() -> None:
    from mmo.app.settings import AppEnv
    from tests.support.engine_harness import run_request

    ollama = answering("llama3.1:8b", provider="ollama")
    gemini = answering("gemini-2.5-flash", provider="gemini").script("gemini-2.5-flash-lite", default=FakeReply("summarize"))
    openai = answering("gpt-5-mini", provider="openai")
    fakes = {"ollama": ollama, "gemini": gemini, "openai": openai, "anthropic": answering("claude-sonnet-4-5", provider="anthropic")}
    env = AppEnv.from_process()

    async def ask(prompt: str) -> Completion:
        return await run_request(Request.from_prompt(prompt), env, profile="private", providers=fakes)

    private = asyncio.run(ask("Call me on +44 20 7946 0958 about my account"))
    assert private.model_id == "ollama:llama3.1:8b"
    assert gemini.calls == [] and openai.calls == []
    summary = asyncio.run(ask("Summarise: the meeting moved to Tuesday."))
    assert summary.model_id == "gemini:gemini-2.5-flash"
    assert [c.model for c in gemini.calls] == ["gemini-2.5-flash-lite", "gemini-2.5-flash"]
