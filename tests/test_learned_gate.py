"""The learned gate (``accept: {learned: ...}``): a model trained by ``mmo tune`` judges a tier's
answer from the prompt, the answer and a second opinion; a tuned profile with one runs in
``mmo batch`` exactly as simulated, with its model beside it; a damaged model file is refused
when the profile loads, naming the file."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmo.app.bench.tune import halves
from mmo.app.bench.tune_data import TuneSet, load_tune_set
from mmo.app.bench.tune_profile import profile_data, write_profile
from mmo.app.bench.tune_search import search
from mmo.app.bench.tune_sim import Cascade
from mmo.cli.main import app
from mmo.config.loader import load_profile
from mmo.core.errors import ConfigError
from mmo.core.paths import MmoPaths
from mmo.core.types import Message, Request
from mmo.strategies.gates.learned import probability
from mmo.strategies.learned_gate import load_gate_model
from tests.support.bench_fixture import build_bench, science_or_not
from tests.test_tune_cli import assert_batch_matches


def gate_model(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "format": "mmo-learned-gate",
        "version": 1,
        "extract": "choice",
        "form": "strict_choice",
        "consults": True,
        "coefficients": {"bias": -2.0, "strict": 1.0, "agree": 3.0, "words": 1.0},
        "words": {"integral": -2.0, "#cat:law": -1.0},
    }
    return data | changes


def test_the_probability_reads_the_prompt_the_answer_and_the_second_opinion() -> None:
    model = load_gate_model(gate_model())
    plain = Request((Message("user", "What is 2 + 2?"),))
    hard = Request((Message("user", "Evaluate the integral"),), metadata={"category": "law"})
    agreed = probability(model, plain, "The answer is (B).", "the answer is (B)")
    disputed = probability(model, plain, "The answer is (B).", "the answer is (C)")
    unsure = probability(model, hard, "The answer is (B).", "the answer is (B)")
    assert agreed is not None and disputed is not None and unsure is not None
    assert agreed > 0.5 > disputed and agreed > unsure
    assert probability(model, plain, "no idea", "(B)") is None  # nothing to extract: the gate fails without asking


@pytest.fixture
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TuneSet:
    monkeypatch.chdir(tmp_path)
    paths = MmoPaths.from_env()
    return load_tune_set(build_bench(paths.data_dir / "bench" / "20261204-000000-sample", category=science_or_not, paths=paths))


def test_a_tuned_learned_gate_runs_in_batch_as_simulated_from_its_file_beside_the_profile(bench: TuneSet, tmp_path: Path) -> None:
    fit, _ = halves(bench.train)
    node = next(c.node for c in search(fit) if isinstance(c.node, Cascade) and c.node.gate.learned and c.node.gate.learned.consult)
    path = tmp_path / "profiles" / "gated.yaml"
    write_profile(path, profile_data(node, bench, "gated", description="", replay=None, base=None), ["test"], force=False)
    gate_file = path.with_name("gated.gate.json")
    assert json.loads(gate_file.read_text())["format"] == "mmo-learned-gate"
    assert "model: gated.gate.json" in path.read_text()
    assert_batch_matches(str(path), bench, node, tmp_path)

    os.chdir(tmp_path / "profiles")  # the model is read beside the profile, wherever mmo runs
    gate_file.write_text(json.dumps(gate_model(coefficients={"bias": float("nan")})).replace("NaN", "null"))
    broken = CliRunner().invoke(app, ["ask", "--profile", str(path), "--meta", "id=x", "hello"])
    assert broken.exit_code == 2
    assert "gated.gate.json" in broken.output and "`coefficients.bias` holds None, not a finite number" in broken.output


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read it"),
        (pickle.dumps({"format": "mmo-learned-gate"}), "not valid JSON"),
        (json.dumps({"format": "mmo-learned-router"}).encode(), 'expected an object with "format": "mmo-learned-gate"'),
        (json.dumps(gate_model(version=2)).encode(), "version 2 is not one this mmo reads"),
        (json.dumps(gate_model(coefficients={"bias": 1.0, "secret": 2.0})).encode(), "`coefficients` must be an object with some of"),
        (json.dumps(gate_model(extract="python")).encode(), "not one the answer extractor knows"),
        (json.dumps(gate_model(words={"integral": "1"})).encode(), "`words['integral']` holds '1', not a finite number"),
        (json.dumps(gate_model(consults=False, coefficients={"bias": 0.5})).encode(), "was trained without a second opinion: drop `consult`"),
    ],
)
def test_a_bad_gate_model_is_refused_when_the_profile_loads_naming_the_file(tmp_path: Path, content: bytes | None, expected: str) -> None:
    directory = tmp_path / "p"
    directory.mkdir()
    if content is not None:
        (directory / "g.json").write_bytes(content)
    profile = directory / "mine.yaml"
    profile.write_text(
        "providers: {replay: {kind: replay, path: 'builtin:mmlu_pro_sample', key: none}}\n"
        "models: {flash: replay:flash, llama: replay:llama, pro: replay:pro}\n"
        "strategy:\n  cascade: [flash, pro]\n  accept:\n    learned: {model: g.json, min_p: 0.5, consult: llama}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_profile(str(profile), cwd=tmp_path, paths=MmoPaths.from_env({"MMO_HOME": str(tmp_path / "home")}))
    message = str(caught.value)
    assert expected in message
    assert "mine.yaml" in message and ("g.json" in message or "learned" in message)
