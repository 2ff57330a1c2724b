"""The router: each rule type, order, the default, the intent classifier, and the built-in profile
(scripted fake providers, and the offline replay recordings; no HTTP)."""

from __future__ import annotations

import asyncio
from typing import Any, Mapping

import pytest

from mmo.config.schema import Profile
from mmo.core.errors import ConfigError, ModelNotFound, ServerError
from mmo.core.target import RunOptions
from mmo.core.trace import Span
from mmo.core.types import Completion, Cost, Delta, Request, Usage
from mmo.providers.fake import FakeProvider, FakeReply
from mmo.runtime.context import execute
from mmo.strategies.build import build_tree, describe
from mmo.strategies.classifier import parse_label
from tests.support.strategy_harness import Recorder, run_profile, services_for

MODELS = {"fast": "fake:fast", "smart": "fake:smart", "local": {"model": "fake:local", "local": True}, "small": "fake:small"}


def answering(*models: str) -> FakeProvider:
    fake = FakeProvider()
    for model in models:
        fake.script(model, default=FakeReply(f"answer from {model}", usage=Usage(10, 5), cost=Cost(0.001, "test")))
    return fake


def router(*rules: dict[str, Any], default: str = "fast", **extra: Any) -> dict[str, Any]:
    return {"models": MODELS, "strategy": {"rules": list(rules), "default": default, **extra}}


def route(
    profile: Mapping[str, Any],
    fake: FakeProvider,
    prompt: str,
    *,
    tags: tuple[str, ...] = (),
    metadata: Mapping[str, str] | None = None,
    sink: Recorder | None = None,
) -> Completion:
    """Like ``run_profile``, with the request's tags and metadata (from `--tag` / `--meta`)."""
    tree = build_tree(Profile.model_validate({"name": "test", **profile}))
    request = Request.from_prompt(prompt, tags=tags, metadata=metadata)
    return asyncio.run(execute(tree, request, services_for({"fake": fake}), RunOptions(), sink))


def router_notes(completion: Completion) -> list[str]:
    assert completion.trace is not None
    return [event.message for event in router_span(completion.trace).events]


def router_span(trace: Span) -> Span:
    return next(span for span in _walk(trace) if span.kind == "router")


def _walk(span: Span):  # type: ignore[no-untyped-def]
    yield span
    for child in span.children:
        yield from _walk(child)


# ---- each rule type ---------------------------------------------------------------------------


def test_keywords_match_whole_words_in_any_case_and_name_the_keyword() -> None:
    profile = router({"when": {"keywords": ["contract", "GDPR", "supreme court"]}, "use": "smart"})
    completion = route(profile, answering("fast", "smart"), "Is this CONTRACT enforceable?")
    assert completion.model_id == "fake:smart"
    assert router_notes(completion) == ["rule 1 matched: keyword 'contract'"]
    # A phrase matches across any whitespace; a word inside a longer word does not.
    assert route(profile, answering("fast", "smart"), "the Supreme\n  Court held").model_id == "fake:smart"
    assert route(profile, answering("fast", "smart"), "Hire a contractor").model_id == "fake:fast"


def test_keywords_with_symbols_match_as_words() -> None:
    profile = router({"when": {"keywords": ["C++", "f(x)"]}, "use": "smart"})
    assert route(profile, answering("fast", "smart"), "Port this to C++.").model_id == "fake:smart"
    assert route(profile, answering("fast", "smart"), "Differentiate f(x) = x^2").model_id == "fake:smart"
    assert route(profile, answering("fast", "smart"), "Port this to C.").model_id == "fake:fast"


def test_regex_rule_matches_without_recording_the_matched_text() -> None:
    profile = router({"when": {"regex": r"(?i)\bticket\s+#?\d{4,}"}, "use": "smart"})
    completion = route(profile, answering("fast", "smart"), "Status of ticket #48213?")
    assert completion.model_id == "fake:smart"
    assert router_notes(completion) == [r"rule 1 matched: regex /(?i)\bticket\s+#?\d{4,}/"]
    assert "48213" not in str(completion.trace.to_dict())  # type: ignore[union-attr]


def test_tags_and_metadata_rules() -> None:
    profile = router(
        {"when": {"tags": ["urgent", "vip"]}, "use": "smart"},
        {"when": {"metadata": {"team": "legal", "tier": "gold"}}, "use": "local"},
    )
    fake = answering("fast", "smart", "local")
    tagged = route(profile, fake, "hello", tags=("vip",))
    assert tagged.model_id == "fake:smart" and router_notes(tagged) == ["rule 1 matched: tag 'vip'"]
    both = route(profile, fake, "hello", metadata={"team": "legal", "tier": "gold", "other": "x"})
    assert both.model_id == "fake:local" and router_notes(both) == ["rule 2 matched: metadata team=legal, tier=gold"]
    # Every metadata key must be there with that value.
    assert route(profile, fake, "hello", metadata={"team": "legal"}).model_id == "fake:fast"
    assert route(profile, fake, "hello", metadata={"team": "legal", "tier": "silver"}).model_id == "fake:fast"


def test_token_rules_use_the_estimator_on_the_whole_prompt() -> None:
    profile = router({"when": {"tokens_over": 100}, "use": "smart"}, {"when": {"tokens_under": 5}, "use": "local"})
    fake = answering("fast", "smart", "local")
    long = route(profile, fake, "x" * 404)  # 404 chars / 4 = 101 tokens
    assert long.model_id == "fake:smart" and router_notes(long) == ["rule 1 matched: prompt tokens 101 > 100"]
    assert route(profile, fake, "x" * 400).model_id == "fake:fast"  # exactly 100: not over
    assert route(profile, fake, "hi").model_id == "fake:local"


def test_pii_rules_route_personal_data_and_record_kinds_never_values() -> None:
    profile = router({"when": {"pii": True}, "use": "local"}, {"when": {"pii": False, "keywords": ["invoice"]}, "use": "smart"})
    fake = answering("fast", "smart", "local")
    private = route(profile, fake, "Email the invoice to jane.doe@example.com, phone +44 20 7946 0958")
    assert private.model_id == "fake:local"
    assert router_notes(private) == ["personal data: email x1, phone x1", "rule 1 matched: personal data found (email x1, phone x1)"]
    assert "jane" not in str(private.trace.to_dict()) and "7946" not in str(private.trace.to_dict())  # type: ignore[union-attr]
    assert router_span(private.trace).events[0].attrs["pii"] == {"email": 1, "phone": 1}  # type: ignore[arg-type]
    clean = route(profile, fake, "Summarise the invoice process")
    assert clean.model_id == "fake:smart"
    assert router_notes(clean)[-1] == "rule 2 matched: keyword 'invoice'; no personal data"  # cheapest first


def test_complexity_rules_record_the_score_and_its_components() -> None:
    profile = router({"when": {"complexity_over": 0.25}, "use": "smart"}, {"when": {"complexity_under": 0.05}, "use": "local"})
    fake = answering("fast", "smart", "local")
    hard = route(profile, fake, "Solve 2x + 3y = 7 and x - y = 1 step by step, then verify. What is x? What is y? Prove it is unique.")
    assert hard.model_id == "fake:smart"
    note = router_span(hard.trace).events[0]  # type: ignore[arg-type]
    assert note.message.startswith("complexity 0.") and set(note.attrs["components"]) >= {"length", "math", "multi_step"}
    assert note.attrs["complexity"] > 0.25
    assert router_notes(hard)[1].startswith("rule 1 matched: complexity 0.")
    assert route(profile, fake, "Hi!").model_id == "fake:local"


# ---- order, conjunction, laziness, the default -------------------------------------------------


def test_rules_are_tried_in_order_and_the_first_match_wins() -> None:
    profile = router({"when": {"keywords": ["refund"]}, "use": "smart"}, {"when": {"keywords": ["refund"]}, "use": "local"})
    fake = answering("fast", "smart", "local")
    assert route(profile, fake, "I want a refund").model_id == "fake:smart"
    assert [c.model for c in fake.calls] == ["smart"]


def test_every_condition_of_a_rule_must_hold() -> None:
    profile = router({"when": {"keywords": ["deploy"], "tags": ["prod"]}, "use": "smart"})
    fake = answering("fast", "smart")
    assert route(profile, fake, "deploy it", tags=("dev",)).model_id == "fake:fast"
    assert route(profile, fake, "wait", tags=("prod",)).model_id == "fake:fast"
    both = route(profile, fake, "deploy it", tags=("prod",))
    assert both.model_id == "fake:smart" and router_notes(both) == ["rule 1 matched: tag 'prod'; keyword 'deploy'"]


def test_expensive_facts_are_computed_only_when_a_rule_reaches_them() -> None:
    profile = router(
        {"when": {"keywords": ["hello"]}, "use": "smart"},
        {"when": {"tags": ["never"], "pii": True, "complexity_over": 0.5}, "use": "local"},
    )
    fake = answering("fast", "smart", "local")
    # Rule 1 matches: nothing else is looked at.
    assert router_notes(route(profile, fake, "hello jane@example.com")) == ["rule 1 matched: keyword 'hello'"]
    # Rule 2's cheap tag check fails first, so neither the PII scan nor the score runs.
    assert router_notes(route(profile, fake, "bye jane@example.com")) == ["no rule matched (2 rules)", "default: using fast"]


def test_no_rule_matching_falls_to_the_default() -> None:
    profile = router({"when": {"keywords": ["law"]}, "use": "smart"}, default="local")
    fake = answering("local", "smart")
    completion = route(profile, fake, "What is the capital of France?")
    assert completion.model_id == "fake:local"
    assert router_notes(completion) == ["no rule matched (1 rule)", "default: using local"]


def test_the_chosen_branch_streams_through_and_may_be_any_strategy() -> None:
    gone = ModelNotFound("gone", provider="fake", model="smart", status=404)
    fake = FakeProvider().script("smart", gone).script("fast", FakeReply("streamed answer"))
    profile = router({"when": {"keywords": ["stream"]}, "use": {"fallback": ["smart", "fast"]}})
    sink = Recorder()
    completion = route(profile, fake, "stream me", sink=sink)
    assert completion.text == "streamed answer" and sink.text == "streamed answer"
    assert all(isinstance(e, Delta) for e in sink.events)
    assert [c.stream for c in fake.calls] == [True, True]


# ---- the intent classifier --------------------------------------------------------------------

CLASSIFY = {"model": "small", "labels": {"code": "smart", "chat": "fast"}, "instructions": "code: anything about programming."}


def test_classifier_label_picks_the_branch_with_a_constrained_unstreamed_call() -> None:
    fake = answering("smart", "fast").script("small", FakeReply("  Code.\n", usage=Usage(40, 1), cost=Cost(0.0001, "test")))
    sink = Recorder()
    completion = route(router(classify=CLASSIFY), fake, "Why does my loop never end?", sink=sink)
    assert completion.model_id == "fake:smart"
    assert router_notes(completion) == ["classifier small labelled the request 'code': using smart"]
    asked = fake.calls_to("small")[0]
    assert asked.stream is False
    assert asked.request.system == (
        "Classify the user's request into exactly one of these labels: code, chat. Answer with the label only.\n"
        "code: anything about programming."
    )
    assert asked.request.last_user_text() == "Why does my loop never end?"
    assert asked.request.params.temperature == 0.0 and asked.request.params.max_tokens == 16
    # Only the chosen branch reached the screen; the classifier's cost counts in the total.
    assert sink.text == "answer from smart"
    assert completion.trace.total_cost().usd == pytest.approx(0.0011)  # type: ignore[union-attr]


def test_classifier_unknown_label_falls_to_the_default_and_says_so() -> None:
    fake = answering("smart", "fast").script("small", FakeReply("poetry", cost=Cost(0.0001, "test")))
    completion = route(router(classify=CLASSIFY, default="fast"), fake, "Write me a haiku")
    assert completion.model_id == "fake:fast"
    assert router_notes(completion) == [
        "classifier small answered 'poetry', not one of code, chat: falling through to the default",
        "default: using fast",
    ]
    assert completion.trace.total_cost().usd == pytest.approx(0.0011)  # type: ignore[union-attr]


def test_classifier_reply_holding_personal_data_is_not_copied_into_the_trace() -> None:
    fake = answering("fast").script("small", FakeReply("ask jane@example.com"))
    completion = route(router(classify=CLASSIFY), fake, "hello")
    assert "jane" not in str(completion.trace.to_dict())  # type: ignore[union-attr]
    assert "withheld" in router_notes(completion)[0]


def test_classifier_error_falls_to_the_default_and_says_why() -> None:
    fake = answering("smart", "fast").script("small", ServerError("boom", provider="fake", model="small", status=500))
    completion = route(router(classify=CLASSIFY), fake, "Fix my code")
    assert completion.model_id == "fake:fast"
    notes = router_notes(completion)
    assert notes[0].startswith("classifier small failed (ServerError from fake:small HTTP 500: boom)")
    assert notes[1] == "default: using fast"
    assert [a.error for a in completion.trace.attempts()] == ["ServerError", None]  # type: ignore[union-attr]


def test_classifier_runs_only_when_no_rule_matched() -> None:
    fake = answering("smart", "fast", "small")
    profile = router({"when": {"keywords": ["urgent"]}, "use": "smart"}, classify=CLASSIFY)
    assert route(profile, fake, "urgent: fix prod").model_id == "fake:smart"
    assert fake.calls_to("small") == []


def test_classifier_max_tokens_can_be_raised_for_reasoning_models() -> None:
    fake = answering("fast").script("small", FakeReply("chat"))
    route(router(classify={**CLASSIFY, "max_tokens": 512}), fake, "hello there")
    assert fake.calls_to("small")[0].request.params.max_tokens == 512


@pytest.mark.parametrize(
    ("reply", "label"),
    [("code", "code"), ("CODE", "code"), ("Label: chat.", "chat"), ("**summarize**", "summarize"), ("chat, or maybe code", "chat"),
     ("codec", None), ("", None), ("I cannot tell", None)],
)
def test_labels_are_parsed_leniently_as_whole_words(reply: str, label: str | None) -> None:
    assert parse_label(reply, ["code", "chat", "summarize"]) == label


# ---- building ---------------------------------------------------------------------------------


def test_profile_mistakes_are_config_errors_naming_the_rule() -> None:
    with pytest.raises(ConfigError, match="rule 2: invalid regex"):
        build_tree(Profile.model_validate({"name": "t", **router({"when": {"tags": ["a"]}, "use": "smart"}, {"when": {"regex": "(unclosed"}, "use": "smart"})}))
    with pytest.raises(ConfigError, match="rule 1 has no conditions"):
        build_tree(Profile.model_validate({"name": "t", **router({"when": {}, "use": "smart"})}))
    with pytest.raises(ConfigError, match="rule 1: `keywords` is empty"):
        build_tree(Profile.model_validate({"name": "t", **router({"when": {"keywords": [" "]}, "use": "smart"})}))


def test_the_tree_lists_every_branch_the_router_can_take() -> None:
    profile = router({"when": {"pii": True}, "use": "local"}, classify=CLASSIFY, default="fast")
    tree = build_tree(Profile.model_validate({"name": "t", **profile}))
    assert [child.label for child in tree.children()] == ["local", "small", "smart", "fast", "fast"]
    assert describe(tree) == "router(local, small, smart, fast)"  # a branch reused is named once


# ---- the built-in offline profile --------------------------------------------------------------


def _sample_prompt(task_id: str) -> str:
    from mmo.app.demo import demo_task

    return demo_task(task_id).prompt


@pytest.mark.parametrize(
    ("task_id", "model", "reason"),
    [
        ("mmlu_pro-962", "replay:gemini-1.5-pro-002", "rule 2 matched: keyword 'statute'"),
        ("mmlu_pro-9065", "replay:gemini-1.5-pro-002", "rule 3 matched: keyword 'temperature'"),
        ("mmlu_pro-4697", "replay:gemini-1.5-flash-002", "default: using flash"),
    ],
)
def test_builtin_router_profile_runs_offline_and_explains_its_choice(task_id: str, model: str, reason: str) -> None:
    from mmo.app.settings import AppEnv
    from tests.support.engine_harness import run_request_sync

    request = Request.from_prompt(_sample_prompt(task_id), metadata={"id": task_id})
    completion = run_request_sync(request, AppEnv.from_process(), profile="router")
    assert completion.model_id == model
    assert reason in router_notes(completion)
    assert completion.trace.total_cost().usd > 0  # type: ignore[union-attr]


def test_builtin_router_tag_sends_anything_to_the_strongest_model() -> None:
    from mmo.app.settings import AppEnv
    from tests.support.engine_harness import run_request_sync

    request = Request.from_prompt(_sample_prompt("mmlu_pro-4697"), metadata={"id": "mmlu_pro-4697"}, tags=("hard",))
    completion = run_request_sync(request, AppEnv.from_process(), profile="router")
    assert completion.model_id == "replay:gpt-4o-2024-05-13"
    assert router_notes(completion) == ["rule 1 matched: tag 'hard'"]


def test_run_profile_harness_routes_too() -> None:
    completion = run_profile(router({"when": {"keywords": ["france"]}, "use": "smart"}), {"fake": answering("fast", "smart")})
    assert completion.model_id == "fake:smart"


# ---- too_long_for: the context window, as the profile or the catalogue gives it -----------------


def _window_profile(tmp_path, fast_window: str) -> str:  # type: ignore[no-untyped-def]
    path = tmp_path / "windows.yaml"
    path.write_text(
        "providers:\n"
        "  fake: {base_url: \"http://127.0.0.1:9/v1\", key: none}  # replaced by a scripted fake\n"
        "models:\n"
        f"  fast: {{model: \"fake:fast\"{fast_window}}}\n"
        "  long: {model: \"fake:long\", params: {max_tokens: 10}}\n"
        "defaults: {max_tokens: 20}\n"
        "strategy:\n"
        "  rules:\n"
        "    - {when: {too_long_for: fast}, use: long}\n"
        "  default: fast\n"
    )
    return str(path)


def test_too_long_for_reads_the_profiles_context_window(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mmo.app.settings import AppEnv
    from tests.support.engine_harness import run_request_sync

    env = AppEnv(AppEnv.from_process().environ, tmp_path, AppEnv.from_process().paths)
    profile = _window_profile(tmp_path, ", context_window: 100")
    fake = answering("fast", "long")
    long_prompt = run_request_sync(Request.from_prompt("x" * 400), env, profile=profile, providers={"fake": fake})
    assert long_prompt.model_id == "fake:long"  # 100 prompt tokens + 20 max_tokens > 100
    assert "rule 1 matched: 120 tokens (prompt + max_tokens) would not fit the 100-token context window of fast" in router_notes(long_prompt)
    short = run_request_sync(Request.from_prompt("x" * 300), env, profile=profile, providers={"fake": fake})
    assert short.model_id == "fake:fast"  # 75 + 20 fits


def test_too_long_for_a_model_with_no_known_window_never_holds(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mmo.app.settings import AppEnv
    from tests.support.engine_harness import run_request_sync

    env = AppEnv(AppEnv.from_process().environ, tmp_path, AppEnv.from_process().paths)
    completion = run_request_sync(Request.from_prompt("x" * 40_000), env, profile=_window_profile(tmp_path, ""), providers={"fake": answering("fast", "long")})
    assert completion.model_id == "fake:fast"


def test_too_long_for_uses_the_catalogues_window_for_known_models() -> None:
    profile = {
        "models": {"mini": "openai:gpt-4o-mini", "big": "gemini:gemini-2.0-flash"},
        "strategy": {"rules": [{"when": {"too_long_for": "mini"}, "use": "big"}], "default": "mini"},
    }
    providers = {
        "openai": FakeProvider("openai").script("gpt-4o-mini", default=FakeReply("mini")),
        "gemini": FakeProvider("gemini").script("gemini-2.0-flash", default=FakeReply("big")),
    }
    huge = run_profile(profile, providers, "word " * 110_000)  # 137,500 tokens: more than gpt-4o-mini's 128,000
    assert huge.model_id == "gemini:gemini-2.0-flash"
    assert run_profile(profile, providers, "a short question").model_id == "openai:gpt-4o-mini"
