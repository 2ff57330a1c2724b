"""Money, time and parameter values: NaN, infinities and negatives are usage errors (exit 2), never
a disabled cap or an internal error; ``model`` is not a parameter."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmo.app.batch.job import BatchJob
from mmo.app.profiles import validate
from mmo.cli.main import app
from mmo.core.errors import ConfigError
from tests.support.loopback import LoopbackServer


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def rows(tmp_path: Path) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": "1", "prompt": "hello"}\n', encoding="utf-8")
    return path


@pytest.fixture
def lab(loopback: LoopbackServer, tmp_path: Path) -> Path:
    profile = tmp_path / "lab.yaml"
    profile.write_text(
        f'providers:\n  lab: {{kind: openai, base_url: "{loopback.openai_base_url}", key: none}}\n'
        "models:\n  m: {model: 'lab:m', price: {input: 1, output: 1}}\nstrategy: m\n",
        encoding="utf-8",
    )
    return profile


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e999", "-1", "0", "ten"])
def test_max_cost_takes_only_a_finite_amount_above_zero(rows: Path, lab: Path, loopback: LoopbackServer, value: str) -> None:
    result = run("batch", str(rows), "--profile", str(lab), "--max-cost", value)
    assert result.exit_code == 2, result.output
    assert "--max-cost" in result.output
    assert loopback.stats().total == 0  # nothing was sent, nothing paid


def test_a_batch_job_built_in_code_refuses_a_nan_cap_too() -> None:
    with pytest.raises(ConfigError, match="finite"):
        BatchJob(input="in.jsonl", max_cost_usd=float("nan")).check()


@pytest.mark.parametrize(
    "pair",
    ["timeout_s=nan", "timeout_s=Infinity", "timeout_s=-1", "foo=NaN", "foo=-Infinity", "foo=1e999", 'response_format={"a": NaN}',
     'extra={"nested": [1, Infinity]}', "foo=" + "[" * 3000 + "]" * 3000, "foo=" + "[" * 40 + "]" * 40],
)
def test_a_parameter_value_that_json_cannot_carry_is_a_usage_error(lab: Path, loopback: LoopbackServer, pair: str) -> None:
    result = run("ask", "--profile", str(lab), "--no-cache", "-p", pair, "hello")
    assert result.exit_code == 2, result.stderr
    assert "internal error" not in result.stderr and "parameter" in result.stderr
    assert loopback.stats().total == 0


@pytest.mark.parametrize("pair", ["model=gpt-4o", 'extra={"model": "o1-pro"}'])
def test_model_is_not_a_parameter_and_the_error_says_how_to_choose_one(lab: Path, rows: Path, loopback: LoopbackServer, pair: str) -> None:
    for command in (("ask", "--profile", str(lab), "-p", pair, "hello"), ("batch", str(rows), "--profile", str(lab), "-p", pair)):
        result = run(*command)
        assert result.exit_code == 2, result.stderr
        assert "model is not a parameter" in result.stderr and "-m/--model" in result.stderr and '"model" field' in result.stderr
    assert loopback.stats().total == 0


def test_a_profile_cannot_set_the_model_or_non_finite_money_through_parameters(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "defaults:\n  extra: {model: o1-pro}\nbudget: {daily_usd: .inf}\nretry: {max_retry_after_s: .nan}\n"
        "models:\n  a: {model: 'openai:gpt-5-mini', price: {input: .inf, output: 1}}\nstrategy: a\n",
        encoding="utf-8",
    )
    result = validate(str(path), cwd=tmp_path)
    located = {(problem.line, problem.key_path) for problem in result.problems}
    assert (2, "defaults.extra") in located
    assert (3, "budget.daily_usd") in located and (4, "retry.max_retry_after_s") in located
    assert (6, "models.a.price.input") in located
