"""Capabilities per model (the curated table, a profile's overrides) and routing by them: a model
known to lack what a request needs is skipped by every strategy before anything is sent, a
request no model can serve is refused before the run, and router rules look at what a request
carries (images, a schema, tools)."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Iterator, Mapping

import pytest

from mmo.app.portfolio import catalog_for
from mmo.catalog.capabilities import CAPABILITY_NAMES
from mmo.catalog.catalog import Catalog
from mmo.catalog.endpoints import BUILTIN_PROVIDERS
from mmo.cli.errors import EXIT_USAGE, exit_code
from mmo.config.schema import Profile
from mmo.core.errors import AllAttemptsFailed, MissingCapability, Unservable
from mmo.core.target import RunOptions
from mmo.core.trace import Span
from mmo.core.types import Completion, ImagePart, Message, ModelRef, Params, Request, ToolSpec, Usage
from mmo.providers.fake import FakeProvider, FakeReply
from mmo.runtime.cache import cache_key
from mmo.runtime.capabilities_guard import CapabilityGuard, needed_capabilities
from mmo.runtime.context import execute
from mmo.strategies.build import build_tree
from tests.support.strategy_harness import services_for

PNG = ImagePart("image/png", b"\x89PNG\r\n\x1a\n" + b"\0" * 16, 2, 2)
ENDPOINTS = {**BUILTIN_PROVIDERS}
MODELS: dict[str, Any] = {
    "text": {"model": "fake:text", "capabilities": {"vision": False, "tools": False}},
    "eye": {"model": "fake:eye", "capabilities": {"vision": True, "tools": True}},
    "mystery": "fake:mystery",
}


def image_request(prompt: str = "What is in this picture?") -> Request:
    return Request((Message("user", prompt, images=(PNG,)),))


def tools_request() -> Request:
    tool = ToolSpec("get_weather", "Weather for a city", {"type": "object", "properties": {"city": {"type": "string"}}})
    return Request((Message("user", "Weather in Paris?"),), Params(tools=(tool,)))


def answering(*models: str) -> FakeProvider:
    fake = FakeProvider("fake")
    for model in models:
        fake.script(model, default=FakeReply(f"answer from {model}", usage=Usage(10, 5)))
    return fake


def run(strategy: Any, request: Request, fake: FakeProvider, spans: list[Span] | None = None, models: Mapping[str, Any] = MODELS) -> Completion:
    """Run ``strategy`` over ``models`` with the profile's catalogue and the capability guard."""
    profile = Profile.model_validate({"name": "t", "models": dict(models), "strategy": strategy})
    services = services_for({"fake": fake})
    services.catalog = catalog_for(profile, ENDPOINTS)
    services.guards = (CapabilityGuard(),)
    on_span = spans.append if spans is not None else None
    return asyncio.run(execute(build_tree(profile), request, services, RunOptions(), on_span=on_span))


def notes(span: Span) -> Iterator[str]:
    for event in span.events:
        yield event.message
    for child in span.children:
        yield from notes(child)


# ---- the catalogue -----------------------------------------------------------------------------


def test_the_table_knows_the_families_and_says_where_each_fact_comes_from() -> None:
    catalog = Catalog()
    gpt4o = catalog.capabilities(ModelRef("openai", "gpt-4o-2024-08-06"))
    assert (gpt4o.vision.value, gpt4o.structured_output.value, gpt4o.tools.value, gpt4o.logprobs.value) == (True, True, True, True)
    assert "OpenAI" in (gpt4o.vision.source or "")
    assert catalog.capabilities(ModelRef("openai", "o1-mini")).vision.value is False
    assert catalog.capabilities(ModelRef("anthropic", "claude-sonnet-4-5-20250929")).structured_output.value is True
    assert catalog.capabilities(ModelRef("anthropic", "claude-3-5-haiku-latest")).structured_output.value is False
    assert catalog.capabilities(ModelRef("gemini", "gemini-2.0-flash-001")).vision.value is True
    assert catalog.capabilities(ModelRef("ollama", "llava:13b")).vision.value is True
    assert catalog.capabilities(ModelRef("ollama", "llama3.1:8b")).vision.value is False
    assert catalog.capabilities(ModelRef("groq", "meta-llama/llama-4-maverick-17b-128e-instruct")).vision.value is True


def test_logprobs_follow_the_parameter_rules_where_the_table_is_silent() -> None:
    gpt5 = Catalog().capabilities(ModelRef("openai", "gpt-5-mini")).logprobs
    claude = Catalog().capabilities(ModelRef("anthropic", "claude-haiku-4-5")).logprobs
    assert gpt5.value is False and claude.value is False
    assert gpt5.source == claude.source == "mmo parameter rules"


def test_an_unknown_model_is_unknown_not_incapable() -> None:
    caps = Catalog().capabilities(ModelRef("openai", "brand-new-model"))
    assert all(caps.flag(name).value is None for name in CAPABILITY_NAMES if name != "logprobs")


def test_a_profile_says_what_the_table_does_not_know_or_gets_wrong() -> None:
    profile = Profile.model_validate(
        {
            "name": "t",
            "models": {
                "vl": {"model": "ollama:my-finetune:7b", "capabilities": {"vision": True}},
                "mini": {"model": "openai:o1-mini", "capabilities": {"tools": True}},
            },
            "strategy": "vl",
        }
    )
    catalog = catalog_for(profile, ENDPOINTS)
    vl = catalog.capabilities(ModelRef("ollama", "my-finetune:7b"))
    assert (vl.vision.value, vl.vision.source) == (True, "profile")
    assert vl.structured_output.value is True  # the rest still comes from the table
    mini = catalog.facts(ModelRef("openai", "o1-mini")).capabilities
    assert (mini.tools.value, mini.tools.source, mini.vision.value) == (True, "profile", False)


def cli(*args: str) -> Any:
    from typer.testing import CliRunner

    from mmo.cli.main import app

    return CliRunner().invoke(app, list(args), env={"COLUMNS": "120"})


def test_mmo_models_lists_capabilities_with_their_sources() -> None:
    result = cli("models", "--provider", "anthropic", "--search", "claude-haiku-4-5", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert listed and listed[0]["capabilities"]["vision"]["value"] is True
    assert "Anthropic" in listed[0]["capabilities"]["vision"]["source"]
    table = cli("models", "--provider", "anthropic", "--search", "claude-haiku-4-5")
    assert "VJT-S" in table.stdout and "images in" in table.stdout


# ---- what a request needs ----------------------------------------------------------------------


def test_a_request_needs_vision_for_images_and_tools_for_tools_it_may_call() -> None:
    assert needed_capabilities(Request.from_prompt("hi")) == ()
    assert needed_capabilities(image_request()) == ("vision",)
    assert needed_capabilities(tools_request()) == ("tools",)
    none = tools_request()
    assert needed_capabilities(none.with_params(Params(tools=none.params.tools, tool_choice="none"))) == ()


def test_images_schemas_and_tools_are_part_of_the_cache_key_but_not_their_absence() -> None:
    plain = Request.from_prompt("hi")
    assert "output_schema" not in plain.params.output_affecting()  # earlier keys stay valid
    other = ImagePart("image/png", b"\x89PNG\r\n\x1a\n" + b"\1" * 16, 2, 2)
    keys = {
        cache_key({"kind": "fake"}, "m", request)
        for request in (
            plain,
            image_request("hi"),
            Request((Message("user", "hi", images=(other,)),)),
            plain.with_params(Params(output_schema={"type": "object"})),
            tools_request(),
        )
    }
    assert len(keys) == 5
    assert "sha256" in json.dumps(image_request().messages[0].to_dict())


# ---- every strategy skips an incapable model ----------------------------------------------------


def test_a_fallback_skips_a_model_that_cannot_see_and_sends_it_nothing() -> None:
    fake = answering("text", "eye")
    spans: list[Span] = []
    answer = run({"fallback": ["text", "eye"]}, image_request(), fake, spans)
    assert answer.model_id == "fake:eye"
    assert [call.model for call in fake.calls] == ["eye"]
    assert any("skipped text: cannot take images (vision)" in note for note in notes(spans[-1]))


def test_a_cascade_never_lands_on_a_model_that_cannot_call_tools() -> None:
    fake = answering("text", "eye")
    answer = run({"cascade": [{"model": "text"}, {"model": "eye"}]}, tools_request(), fake)
    assert answer.model_id == "fake:eye"
    assert [call.model for call in fake.calls] == ["eye"]


def test_a_text_request_still_goes_to_the_text_model() -> None:
    fake = answering("text", "eye")
    assert run({"fallback": ["text", "eye"]}, Request.from_prompt("hi"), fake).model_id == "fake:text"


def test_a_model_whose_capability_is_unknown_is_tried_and_the_trace_says_so() -> None:
    fake = answering("mystery", "eye")
    spans: list[Span] = []
    assert run({"fallback": ["mystery", "eye"]}, image_request(), fake, spans).model_id == "fake:mystery"
    assert any("mystery: whether it can take images (vision) is unknown" in note for note in notes(spans[-1]))


def test_a_router_sends_images_to_its_vision_branch() -> None:
    router = {"rules": [{"when": {"modality": "image"}, "use": "eye"}, {"when": {"tools": True}, "use": "eye"}], "default": "text"}
    spans: list[Span] = []
    fake = answering("text", "eye")
    assert run(router, image_request(), fake, spans).model_id == "fake:eye"
    assert any("1 image attached" in note for note in notes(spans[-1]))
    assert run(router, tools_request(), answering("text", "eye")).model_id == "fake:eye"
    assert run(router, Request.from_prompt("hi"), answering("text", "eye")).model_id == "fake:text"


def test_a_router_rule_on_a_schema() -> None:
    router = {"rules": [{"when": {"schema": True}, "use": "eye"}], "default": "text"}
    schema = Request.from_prompt("extract").with_params(Params(output_schema={"type": "object"}))
    json_answers = FakeProvider("fake")
    for model in ("text", "eye"):
        json_answers.script(model, default=FakeReply(json.dumps({"from": model}), usage=Usage(10, 5)))
    assert run(router, schema, json_answers).model_id == "fake:eye"
    assert run(router, Request.from_prompt("extract"), answering("text", "eye")).model_id == "fake:text"


def test_a_router_branch_that_cannot_see_is_passed_over_for_the_next_rule_or_the_default() -> None:
    fake = answering("text", "eye")
    spans: list[Span] = []
    router = {"rules": [{"when": {"keywords": ["picture"]}, "use": "text"}], "default": "eye"}
    assert run(router, image_request(), fake, spans).model_id == "fake:eye"
    assert [call.model for call in fake.calls] == ["eye"]
    assert any("text cannot serve this request" in note for note in notes(spans[-1]))


def test_a_router_whose_every_branch_cannot_serve_is_refused() -> None:
    fake = answering("text")
    models = {**MODELS, "blind": {"model": "fake:blind", "capabilities": {"vision": False}}}
    with pytest.raises((MissingCapability, AllAttemptsFailed, Unservable)):
        run({"rules": [{"when": {"keywords": ["picture"]}, "use": "text"}], "default": "blind"}, image_request(), fake, models=models)
    assert fake.calls == []


# ---- nothing can serve it ----------------------------------------------------------------------


def test_a_request_no_model_can_serve_is_refused_before_the_run_naming_capability_and_models() -> None:
    fake = answering("text")
    spans: list[Span] = []
    with pytest.raises(Unservable) as raised:
        run({"fallback": ["text"]}, image_request(), fake, spans)
    assert fake.calls == []
    text = raised.value.message
    assert "no model in this profile can serve this request" in text
    assert "text: cannot take images (vision)" in text and "profile" in text
    assert exit_code(raised.value) == EXIT_USAGE
    assert spans and spans[-1].status == "error"


def test_the_refusal_names_every_model_considered() -> None:
    models = {**MODELS, "blind": {"model": "fake:blind", "capabilities": {"vision": False}}}
    with pytest.raises(Unservable) as raised:
        run({"fallback": ["text", "blind"]}, image_request(), answering("text", "blind"), models=models)
    assert set(raised.value.reasons) == {"text", "blind"}


def test_a_model_that_cannot_stream_is_asked_without_a_stream_and_its_answer_still_shown() -> None:
    from tests.support.strategy_harness import Recorder

    models = {"batchy": {"model": "fake:batchy", "capabilities": {"streaming": False}}, "eye": "fake:eye"}
    profile = Profile.model_validate({"name": "t", "models": models, "strategy": {"fallback": ["batchy", "eye"]}})
    fake = answering("batchy", "eye")
    services = services_for({"fake": fake})
    services.catalog = catalog_for(profile, ENDPOINTS)
    sink = Recorder()
    asyncio.run(execute(build_tree(profile), Request.from_prompt("hi"), services, RunOptions(), sink))
    assert [(call.model, call.stream) for call in fake.calls] == [("batchy", False)]
    assert sink.text == "answer from batchy"
