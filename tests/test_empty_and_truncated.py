"""An empty completion is not an answer (a fallback moves on, a single model fails, nothing is
cached, its cost still counts); an answer cut at max_tokens is shown but flagged, in the table,
``--json`` and the batch output."""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmo.app.batch.job import BatchJob
from mmo.app.batch.run import run_batch
from mmo.app.outcome import RunOutcome
from mmo.app.settings import AppEnv, ProfileChoice, RunSettings
from mmo.cli.main import app
from mmo.cli.render import result_json, result_table
from mmo.core.errors import EmptyAnswer
from mmo.core.types import Cost, Usage
from mmo.providers.fake import FakeProvider, FakeReply
from tests.support.loopback import Fault, LoopbackServer
from tests.support.strategy_harness import run_profile

ENV = {"LOOP_KEY": "sk-loop-secret-123456"}


def loop_profile(directory: Path, server: LoopbackServer, strategy: str) -> Path:
    path = directory / "loop.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            name: loop
            providers:
              loop: {{kind: openai, base_url: "{server.openai_base_url}", key: none}}
            models:
              a: {{model: "loop:model-a", price: {{input: 1, output: 2}}}}
              b: {{model: "loop:model-b", price: {{input: 1, output: 2}}}}
            defaults: {{timeout_s: 5, max_tokens: 32}}
            retry: {{attempts: 1}}
            strategy: {strategy}
            """
        )
    )
    return path


def ask(*args: str) -> object:
    return CliRunner().invoke(app, ["ask", *args])


def test_an_empty_answer_moves_a_fallback_on_over_http(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.script("model-a", Fault.ok(text=""))
    profile = loop_profile(tmp_path, loopback, "{fallback: [a, b]}")
    result = ask("hello there", "--profile", str(profile), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["answer"] == "echo: hello there" and data["completion"]["model_id"] == "loop:model-b"
    attempts = [(a["model_id"], a["status"], a.get("error")) for a in _attempts(data["trace"])]
    assert attempts == [("loop:model-a", "error", "EmptyAnswer"), ("loop:model-b", "ok", None)]
    assert _attempts(data["trace"])[0]["cost_usd"] > 0  # the empty answer was paid for, and counts


def test_an_empty_answer_from_a_single_model_fails_the_run_and_is_not_cached(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.script("model-a", Fault.ok(text=""), Fault.ok(text="   \n"))
    profile = loop_profile(tmp_path, loopback, "a")
    first = ask("say something", "--profile", str(profile))
    assert first.exit_code == 1
    assert "EmptyAnswer" in first.stderr and "empty answer" in first.stderr
    second = ask("say something", "--profile", str(profile))  # a whitespace-only answer is empty too
    assert second.exit_code == 1
    third = ask("say something", "--profile", str(profile))
    assert third.exit_code == 0 and third.stdout.strip() == "echo: say something"
    assert loopback.stats().by_model == {"model-a": 3}  # nothing empty came from the cache


def _attempts(span: dict) -> list[dict]:
    found = [span] if span.get("model_id") else []
    for child in span.get("children", []):
        found += _attempts(child)
    return found


def test_an_empty_answer_cut_by_the_output_limit_says_to_raise_max_tokens() -> None:
    fake = FakeProvider().script("a", FakeReply("", finish_reason="length", usage=Usage(10, 32)))
    with pytest.raises(EmptyAnswer, match="output limit was reached after 32 tokens before any text: raise -p max_tokens"):
        run_profile({"strategy": "fake:a", "retry": {"attempts": 1}}, {"fake": fake})


def test_a_truncated_answer_is_flagged_in_the_table_and_json() -> None:
    fake = FakeProvider().script("a", FakeReply("The answer is", finish_reason="length", usage=Usage(10, 3), cost=Cost(0.001, "test")))
    completion = run_profile({"strategy": "fake:a"}, {"fake": fake})
    outcome = RunOutcome("r1", "p", "fake:a", completion.trace, completion, None, ())  # type: ignore[arg-type]
    table = result_table(outcome)
    cells = [list(column.cells) for column in table.columns]
    assert cells[1] == ["truncated", "truncated"]  # the attempt and the total
    assert "cut at max_tokens" in str(table.caption)
    assert result_json(outcome)["truncated"] is True


def test_truncated_rows_are_flagged_in_the_batch_output_and_counted(tmp_path: Path) -> None:
    (tmp_path / "lab.yaml").write_text(
        'providers:\n  lab: {base_url: "http://127.0.0.1:9/v1", key: none}\nmodels:\n  a: {model: "lab:a", price: {input: 1, output: 2}}\nstrategy: a\n'
    )
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps({"id": f"r{i}", "prompt": f"question {i}"}) + "\n" for i in range(3)))
    fake = FakeProvider("lab").script("a", FakeReply("cut", finish_reason="length"), default=FakeReply("whole"))
    env = AppEnv.from_process()
    env = AppEnv(env.environ, tmp_path, env.paths)
    settings = RunSettings(choice=ProfileChoice(str(tmp_path / "lab.yaml")), read_cache=False, write_cache=False)
    report = asyncio.run(run_batch(BatchJob(str(data), settings=settings, concurrency=1), env, providers={"lab": fake}))
    lines = [json.loads(line) for line in report.output.read_text().splitlines()]  # type: ignore[union-attr]
    assert [line.get("truncated", False) for line in lines] == [True, False, False]
    assert any("1 answer(s) cut at max_tokens" in warning for warning in report.warnings)
