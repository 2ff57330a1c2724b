"""The learned router strategy kind: it picks the branch most likely to be right at its price from
the prompt's words, says why in the trace, estimates the branch it will pick, reads its model from
JSON beside the profile, and refuses a model file that is missing, damaged, hostile or does not
match its branches before anything runs (scripted fake providers, no HTTP)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from mmo.config.loader import load_profile
from mmo.config.schema import Profile
from mmo.core.errors import ConfigError
from mmo.core.paths import MmoPaths
from mmo.core.types import Cost, Request, Usage
from mmo.providers.fake import FakeProvider, FakeReply
from mmo.runtime.estimator import TreeEstimator
from mmo.strategies.build import build_tree
from mmo.strategies.learned_model import MAX_MODEL_BYTES, load_model, request_features
from tests.support.strategy_harness import run_profile, services_for

MODELS = {"cheap": "fake:cheap", "dear": "fake:dear"}


def model(**changes: Any) -> dict[str, Any]:
    """Two branches; the word "integral" is strong evidence for the dear one (and against the
    cheap one); a price of 100 per USD makes the dear branch's $0.001 worth 0.1 of accuracy."""
    data: dict[str, Any] = {
        "format": "mmo-learned-router",
        "version": 1,
        "branches": ["cheap", "dear"],
        "bias": [0.0, 0.0],
        "scale": [1.0, 1.0],
        "weights": {"integral": [-4.0, 4.0], "hello": [0.5, -0.5]},
        "cost_usd": [0.0, 0.001],
        "cost_weight": 100.0,
        "trained": {"tasks": 2},
    }
    return data | changes


def profile(router_model: Any) -> dict[str, Any]:
    return {"models": MODELS, "strategy": {"learned_router": router_model, "branches": {"cheap": "cheap", "dear": "dear"}}}


def answering() -> FakeProvider:
    fake = FakeProvider()
    for name in MODELS:
        fake.script(name, default=FakeReply(f"answer from {name}", usage=Usage(10, 5), cost=Cost(0.001, "test")))
    return fake


def test_the_branch_most_likely_right_at_its_price_answers_and_the_trace_says_why() -> None:
    fake = answering()
    hard = run_profile(profile(model()), {"fake": fake}, "Compute the integral of x^2 from 0 to 1.")
    assert hard.model_id == "fake:dear"
    assert hard.trace is not None
    router = hard.trace.children[0]
    assert router.kind == "learned_router"
    assert [e.message for e in router.events] == ["learned router picked dear p=0.98 at $0.001000 (others: cheap p=0.02 at $0.000000)"]
    assert router.events[0].attrs["branch"] == "dear"
    # Nothing it knows in the prompt: both branches 50 %, so the price decides.
    assert run_profile(profile(model()), {"fake": fake}, "What is the capital of France?").model_id == "fake:cheap"
    # The same prompt at no price of accuracy: the more likely branch, whatever it costs.
    assert run_profile(profile(model(cost_weight=0.0, bias=[0.0, 0.1])), {"fake": fake}, "What is the capital of France?").model_id == "fake:dear"
    assert [call.model for call in fake.calls] == ["dear", "cheap", "dear"]


def test_it_estimates_the_branch_it_will_pick() -> None:
    tree = build_tree(Profile.model_validate({"name": "t", **profile(model())}))
    estimator = TreeEstimator(services_for({"fake": answering()}))
    for prompt, branch in (("the integral of x", "fake:dear"), ("hello there", "fake:cheap")):
        estimate = estimator.range(tree, Request.from_prompt(prompt))
        assert {call.model_id for path in (estimate.best, estimate.expected, estimate.worst) for call in path.calls} == {branch}


def test_features_are_the_distinct_words_of_the_last_user_message_and_its_length_class() -> None:
    assert request_features("Hi hi, H2O x 42!") == frozenset({"hi", "h2o", "#len:4"})


def write_profile(directory: Path, router_model: Any, file_name: str = "mine.yaml") -> Path:
    import yaml

    path = directory / file_name
    data = profile(router_model) | {"models": {"cheap": "openai:gpt-4o-mini", "dear": "openai:gpt-4o"}}  # nothing is called
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_a_relative_model_file_is_read_beside_the_profile_wherever_mmo_runs(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "mine.router.json").write_text(json.dumps(model()), encoding="utf-8")
    path = write_profile(profiles, "mine.router.json")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    loaded = load_profile(str(path), cwd=elsewhere, paths=MmoPaths.from_env({"MMO_HOME": str(tmp_path / "home")}))
    tree = build_tree(loaded.profile)
    assert tree.kind == "learned_router" and [b.label for b in tree.children()] == ["cheap", "dear"]


def bad_model_error(tmp_path: Path, content: bytes | None) -> str:
    directory = tmp_path / "p"
    directory.mkdir(exist_ok=True)
    if content is not None:
        (directory / "r.json").write_bytes(content)
    path = write_profile(directory, "r.json")
    with pytest.raises(ConfigError) as caught:
        load_profile(str(path), cwd=tmp_path, paths=MmoPaths.from_env({"MMO_HOME": str(tmp_path / "home")}))
    return str(caught.value)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read it"),
        (b"{not json", "not valid JSON"),
        (pickle.dumps({"format": "mmo-learned-router"}), "not valid JSON"),
        (json.dumps({"format": "something else"}).encode(), 'expected an object with "format": "mmo-learned-router"'),
        (json.dumps(model(version=2)).encode(), "version 2 is not one this mmo reads"),
        (json.dumps(model(bias=[0.0])).encode(), "`bias` must be a list of 2 numbers"),
        (json.dumps(model()).replace("4.0, 4.0", "4.0, NaN").encode(), "NaN is not valid JSON"),
        (json.dumps(model(cost_weight="1")).encode(), "`cost_weight` holds '1', not a finite number"),
        (json.dumps(model(cost_usd=[0.0, -1.0])).encode(), "must not be negative"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
def test_a_bad_model_file_is_refused_when_the_profile_loads_naming_the_file(tmp_path: Path, content: bytes | None, expected: str) -> None:
    message = bad_model_error(tmp_path, content)
    assert expected in message
    assert "r.json" in message and "mine.yaml" in message  # the model file, and the profile file (with its line)


def test_a_model_file_over_the_size_limit_is_refused_without_being_read(tmp_path: Path) -> None:
    directory = tmp_path / "p"
    directory.mkdir()
    with (directory / "r.json").open("wb") as file:
        file.truncate(MAX_MODEL_BYTES + 1)  # sparse: no disk space used
    message = bad_model_error(tmp_path, None)
    assert "larger than 32 MiB" in message


def test_branches_must_be_exactly_the_models_branches() -> None:
    data = profile(model())
    data["strategy"]["branches"] = {"cheap": "cheap", "other": "dear"}
    with pytest.raises(ConfigError) as caught:
        build_tree(Profile.model_validate({"name": "t", **data}))
    assert "the model has no branch 'other'; no branch is given for 'dear'" in str(caught.value)


def test_an_inline_model_is_checked_the_same_way() -> None:
    with pytest.raises(ConfigError, match=r"learned router model \(inline\): `weights\['integral'\]` must be a list of 2 numbers"):
        load_model(model(weights={"integral": [1.0]}))
    assert load_model(model()).branches == ("cheap", "dear")
