"""Context windows: a prompt goes only to models whose window holds it (prompt estimate plus
max_tokens), a provider's ContextTooLong sends the run to a model with a larger window, and a
prompt no model can hold is refused before anything is spent."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Iterator, Mapping

import pytest
from typer.testing import CliRunner

from mmo.app.portfolio import catalog_for
from mmo.catalog.endpoints import BUILTIN_PROVIDERS
from mmo.cli.errors import EXIT_USAGE, exit_code
from mmo.cli.main import app
from mmo.config.schema import Profile
from mmo.core.errors import ContextTooLong, Unservable
from mmo.core.target import RunOptions
from mmo.core.trace import Span
from mmo.core.types import Completion, Params, Request, Usage
from mmo.providers.fake import FakeProvider, FakeReply
from mmo.runtime.context import execute
from mmo.runtime.window_guard import WindowGuard
from mmo.strategies.build import build_tree
from tests.support.batch_harness import read_jsonl, run_cli
from tests.support.loopback import Fault, LoopbackServer
from tests.support.strategy_harness import services_for

MODELS: dict[str, Any] = {
    "small": {"model": "fake:small", "context_window": 1_000},
    "medium": {"model": "fake:medium", "context_window": 8_000},
    "large": {"model": "fake:large", "context_window": 100_000},
    "mystery": "fake:mystery",
}
LONG = "word " * 1_600  # 8,000 characters: about 2,000 tokens


def answering(*models: str) -> FakeProvider:
    fake = FakeProvider("fake")
    for model in models:
        fake.script(model, default=FakeReply(f"answer from {model}", usage=Usage(10, 5)))
    return fake


def run(strategy: Any, request: Request, fake: FakeProvider, spans: list[Span] | None = None) -> Completion:
    profile = Profile.model_validate({"name": "t", "models": MODELS, "strategy": strategy})
    services = services_for({"fake": fake})
    services.catalog = catalog_for(profile, BUILTIN_PROVIDERS)
    services.guards = (WindowGuard(),)
    return asyncio.run(execute(build_tree(profile), request, services, RunOptions(), on_span=spans.append if spans is not None else None))


def notes(span: Span) -> Iterator[str]:
    for event in span.events:
        yield event.message
    for child in span.children:
        yield from notes(child)


def test_a_prompt_too_long_for_the_first_model_goes_to_one_that_holds_it_and_nothing_is_sent_first() -> None:
    fake = answering("small", "large")
    spans: list[Span] = []
    assert run({"fallback": ["small", "large"]}, Request.from_prompt(LONG), fake, spans).model_id == "fake:large"
    assert [call.model for call in fake.calls] == ["large"]
    assert any("skipped small: the request needs about 2,000 tokens (prompt ~2,000), more than its 1,000-token context window" in n for n in notes(spans[-1]))


def test_max_tokens_counts_toward_the_window() -> None:
    fake = answering("small", "large")
    prompt = "word " * 160  # about 200 tokens
    assert run({"fallback": ["small", "large"]}, Request.from_prompt(prompt), fake).model_id == "fake:small"
    asking_more = Request.from_prompt(prompt).with_params(Params(max_tokens=900))
    assert run({"fallback": ["small", "large"]}, asking_more, answering("small", "large")).model_id == "fake:large"


def test_a_cascade_starts_at_the_first_tier_that_holds_the_prompt() -> None:
    fake = answering("small", "medium", "large")
    assert run({"cascade": ["small", "medium", "large"]}, Request.from_prompt(LONG), fake).model_id == "fake:medium"
    assert [call.model for call in fake.calls] == ["medium"]


def test_a_model_whose_window_nobody_knows_is_tried() -> None:
    fake = answering("mystery", "large")
    assert run({"fallback": ["mystery", "large"]}, Request.from_prompt(LONG * 100), fake).model_id == "fake:mystery"


def test_a_prompt_no_model_can_hold_is_refused_before_any_call_naming_each_window() -> None:
    fake = answering("small", "medium")
    with pytest.raises(Unservable) as raised:
        run({"fallback": ["small", "medium"]}, Request.from_prompt(LONG * 5), fake)
    assert fake.calls == []
    assert "1,000-token context window" in raised.value.message and "8,000-token context window" in raised.value.message
    assert exit_code(raised.value) == EXIT_USAGE


def test_a_providers_context_too_long_sends_the_run_to_a_larger_window() -> None:
    fake = answering("large")
    fake.script("medium", ContextTooLong("maximum context length is 8000 tokens", provider="fake", model="medium"))
    fake.script("medium2", default=FakeReply("should not be asked"))
    spans: list[Span] = []
    models = {**MODELS, "medium2": {"model": "fake:medium2", "context_window": 8_000}}
    profile = Profile.model_validate({"name": "t", "models": models, "strategy": {"fallback": ["medium", "medium2", "large"]}})
    services = services_for({"fake": fake})
    services.catalog = catalog_for(profile, BUILTIN_PROVIDERS)
    services.guards = (WindowGuard(),)
    prompt = Request.from_prompt("word " * 1_000)  # ~1,250 tokens by the estimate, which fits 8,000: sent
    answer = asyncio.run(execute(build_tree(profile), prompt, services, RunOptions(), on_span=spans.append))
    assert answer.model_id == "fake:large"
    assert [call.model for call in fake.calls] == ["medium", "large"]
    assert any("skipped medium2: medium (8,000-token window) answered that the prompt is too long" in n for n in notes(spans[-1]))


def test_what_a_run_learnt_stays_with_that_run() -> None:
    guard = WindowGuard()
    fake = answering("medium", "large")
    fake.script("medium", ContextTooLong("too long", provider="fake", model="medium"))
    profile = Profile.model_validate({"name": "t", "models": MODELS, "strategy": {"fallback": ["medium", "large"]}})
    services = services_for({"fake": fake})
    services.catalog = catalog_for(profile, BUILTIN_PROVIDERS)
    services.guards = (guard,)
    tree = build_tree(profile)
    asyncio.run(execute(tree, Request.from_prompt("a"), services, RunOptions()))
    assert asyncio.run(execute(tree, Request.from_prompt("b"), services, RunOptions())).model_id == "fake:medium"


# ---- end to end --------------------------------------------------------------------------------


def write_profile(tmp_path: Path, server: LoopbackServer, strategy: str = "{fallback: [small, large]}") -> Path:
    path = tmp_path / "windows.yaml"
    path.write_text(
        f'providers:\n  p: {{kind: openai, base_url: "{server.openai_base_url}", key: none}}\n'
        "models:\n"
        '  small: {model: "p:small-model", price: {input: 1, output: 2}, context_window: 1000}\n'
        '  large: {model: "p:large-model", price: {input: 1, output: 2}, context_window: 100000}\n'
        f"defaults: {{timeout_s: 5}}\nstrategy: {strategy}\n"
    )
    return path


def ask(profile: Path, prompt: str, *args: str) -> Any:
    return CliRunner().invoke(app, ["ask", "--profile", str(profile), "--no-cache", *args, prompt])


def test_ask_routes_a_long_prompt_to_the_long_context_model(tmp_path: Path, loopback: LoopbackServer) -> None:
    result = ask(write_profile(tmp_path, loopback), LONG, "--explain")
    assert result.exit_code == 0, result.stderr
    assert [r.model for r in loopback.requests] == ["large-model"]
    assert "skipped small: the request needs about 2,000 tokens" in result.stderr


def test_ask_falls_back_on_a_real_context_length_error(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.script("small-model", Fault.context_too_long())
    result = ask(write_profile(tmp_path, loopback), "short", "--explain")
    assert result.exit_code == 0, result.stderr
    assert [r.model for r in loopback.requests] == ["small-model", "large-model"]
    assert "ContextTooLong" in result.stderr


def test_ask_refuses_a_prompt_nothing_can_hold(tmp_path: Path, loopback: LoopbackServer) -> None:
    result = ask(write_profile(tmp_path, loopback), LONG * 60)
    assert result.exit_code == 2
    assert loopback.requests == []
    assert "no model in this profile can serve this request" in result.stderr and "100,000-token context window" in result.stderr


def test_batch_rows_go_where_they_fit_and_one_that_fits_nowhere_fails_alone(tmp_path: Path, loopback: LoopbackServer) -> None:
    data = tmp_path / "in.jsonl"
    rows: list[Mapping[str, Any]] = [{"id": "short", "prompt": "hi"}, {"id": "long", "prompt": LONG}, {"id": "huge", "prompt": LONG * 60}]
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = run_cli(str(data), "-P", str(write_profile(tmp_path, loopback)), "--no-cache", "-c", "1")
    out = {row["id"]: row for row in read_jsonl(tmp_path / "in.out.jsonl")}
    assert out["short"]["model"].endswith("small-model") and out["long"]["model"].endswith("large-model")
    assert out["huge"]["status"] == "failed" and "context window" in json.dumps(out["huge"])
    assert sorted(r.model for r in loopback.requests) == ["large-model", "small-model"]
    assert result.exit_code == 1


def test_a_router_rule_whose_branch_is_too_small_gives_way_to_the_next_rule() -> None:
    fake = answering("small", "large")
    router = {"rules": [{"when": {"keywords": ["word"]}, "use": "small"}, {"when": {"tokens_over": 10}, "use": "large"}], "default": "small"}
    spans: list[Span] = []
    assert run(router, Request.from_prompt(LONG), fake, spans).model_id == "fake:large"
    assert [call.model for call in fake.calls] == ["large"]
    assert any("small cannot serve this request" in n for n in notes(spans[-1]))
