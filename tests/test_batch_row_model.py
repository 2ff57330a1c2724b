"""A batch row that wants another model names it in its own ``model`` field, and is priced,
capped, estimated and logged as that model; ``params.model`` is refused, and no parameter can
change the model a wire adapter sends."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from mmo.app.batch.input import InputRow, Malformed, RowParser
from mmo.core.paths import MmoPaths
from mmo.core.types import Params, Request
from mmo.runtime.runlog import RunLog
from tests.support.batch_harness import read_jsonl, run_cli
from tests.support.loopback import LoopbackServer

CHEAP, DEAR = "loop:cheap-model", "loop:dear-model"


def two_model_profile(directory: Path, server: LoopbackServer) -> Path:
    """cheap at $1/$2 per 1M tokens, dear at $150/$600 (o1-pro's list price)."""
    path = directory / "two.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            name: two
            providers:
              loop: {{kind: openai, base_url: "{server.openai_base_url}", key: none}}
            models:
              cheap: {{model: "{CHEAP}", price: {{input: 1, output: 2}}}}
              dear: {{model: "{DEAR}", price: {{input: 150, output: 600}}}}
            defaults: {{max_tokens: 100, timeout_s: 5}}
            strategy: cheap
            """
        )
    )
    return path


def rows(path: Path, *items: dict) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    return path


def test_params_model_is_refused_as_a_malformed_row_naming_the_model_field() -> None:
    for params in ({"model": "o1-pro"}, {"extra": {"model": "o1-pro"}}):
        bad = RowParser({}).parse(3, json.dumps({"prompt": "hi", "params": params}).encode())
        assert isinstance(bad, Malformed), params
        assert "is not a parameter" in bad.reason and "'model' field" in bad.reason


def test_a_row_model_is_checked_against_the_profile() -> None:
    known = {"cheap", "loop:x"}

    def check(name: str) -> None:
        from mmo.core.errors import UnknownName

        if name not in known:
            raise UnknownName("model", name, sorted(known))

    parser = RowParser({}, check)
    good = parser.parse(1, b'{"prompt": "hi", "model": "cheap"}')
    assert isinstance(good, InputRow) and good.model == "cheap"
    bad = parser.parse(2, b'{"prompt": "hi", "model": "chep"}')
    assert isinstance(bad, Malformed) and "unknown model 'chep'" in bad.reason and "cheap" in bad.reason
    empty = parser.parse(3, b'{"prompt": "hi", "model": 7}')
    assert isinstance(empty, Malformed) and "'model' must be a non-empty string" in empty.reason


def test_a_row_model_is_called_priced_and_logged_as_that_model(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = two_model_profile(tmp_path, loopback)
    data = rows(tmp_path / "in.jsonl", {"id": "a", "prompt": "plain row"}, {"id": "b", "prompt": "dear row", "model": "dear"},
                {"id": "c", "prompt": "by id", "model": DEAR}, {"id": "d", "prompt": "smuggled", "params": {"model": "dear-model"}})
    result = run_cli(str(data), "-P", str(profile), "--no-cache")
    assert result.exit_code == 1, result.stderr  # the smuggled row is malformed
    out = {row["id"]: row for row in read_jsonl(tmp_path / "in.out.jsonl")}
    assert {row_id: row["model"] for row_id, row in out.items()} == {"a": CHEAP, "b": DEAR, "c": DEAR}
    assert sorted(r.model for r in loopback.requests) == ["cheap-model", "dear-model", "dear-model"]
    for row_id in ("b", "c"):
        tokens = out[row_id]["tokens"]
        assert out[row_id]["cost_usd"] == pytest.approx(tokens["input"] * 150e-6 + tokens["output"] * 600e-6)
    errors = read_jsonl(tmp_path / "in.errors.jsonl")
    assert [e["line"] for e in errors] == [4] and "'model' field" in errors[0]["reason"]
    with RunLog(MmoPaths.from_env().runlog_path) as log:
        models = {attempt.model_id for run in log.recent(10) for attempt in log.get(run.run_id)[1]}
    assert models == {CHEAP, DEAR}


def test_a_cost_cap_holds_against_a_row_that_names_a_dearer_model(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = two_model_profile(tmp_path, loopback)
    data = rows(tmp_path / "in.jsonl", {"id": "a", "prompt": "cheap"}, {"id": "b", "prompt": "dear", "model": "dear"})
    result = run_cli(str(data), "-P", str(profile), "--no-cache", "--max-cost", "0.001", "-c", "1")
    assert result.exit_code == 4, result.stderr  # dear's worst case (100 output tokens at $600/1M) passes the cap
    assert "cost cap $0.001000 reached" in result.stderr and DEAR in result.stderr
    assert [r.model for r in loopback.requests] == ["cheap-model"]  # the dear row never went out


def test_an_unknown_row_model_is_malformed_and_strict_refuses_before_any_call(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = two_model_profile(tmp_path, loopback)
    data = rows(tmp_path / "in.jsonl", {"id": "a", "prompt": "x"}, {"id": "b", "prompt": "y", "model": "dearr"},
                {"id": "c", "prompt": "z", "model": "nowhere:m"})
    strict = run_cli(str(data), "-P", str(profile), "--no-cache", "--strict")
    assert strict.exit_code == 2 and "in.jsonl:2: 'model': unknown model 'dearr'; did you mean 'dear'?" in strict.stderr
    assert loopback.stats().total == 0
    lenient = run_cli(str(data), "-P", str(profile), "--no-cache")
    assert lenient.exit_code == 1
    reasons = {e["line"]: e["reason"] for e in read_jsonl(tmp_path / "in.errors.jsonl")}
    assert "unknown model 'dearr'" in reasons[2] and "unknown provider 'nowhere'" in reasons[3]


def test_dry_run_estimates_a_row_as_the_model_it_names(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = two_model_profile(tmp_path, loopback)
    data = rows(tmp_path / "in.jsonl", {"prompt": "x" * 400}, {"prompt": "y" * 400, "model": "dear"})
    result = run_cli(str(data), "-P", str(profile), "--dry-run")
    assert result.exit_code == 0, result.stderr
    table = {line.split()[0]: line.split() for line in result.stderr.splitlines() if line.startswith("loop:")}
    assert set(table) == {CHEAP, DEAR} and table[CHEAP][1] == "1" and table[DEAR][1] == "1"
    assert table[DEAR][-1] == "$0.0750"  # worst: 100 prompt tokens at $150/1M + 100 output at $600/1M
    assert loopback.stats().total == 0


def test_no_parameter_can_change_the_model_on_the_wire() -> None:
    from mmo.providers import anthropic, gemini, openai

    request = Request.from_prompt("hi", params=Params(max_tokens=5).merged(extra={"model": "o1-pro", "top_k": 3}))
    assert openai.build_body(request, "gpt-4o-mini", stream=False)["model"] == "gpt-4o-mini"
    body, _ = anthropic.build_body(request, "claude-haiku-4-5", stream=False)
    assert body["model"] == "claude-haiku-4-5" and body["top_k"] == 3
    assert "model" not in gemini.build_body(request)  # Gemini names the model in the URL only


def test_a_row_model_is_estimated_from_its_own_answers_in_the_run_log(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = two_model_profile(tmp_path, loopback)
    data = rows(tmp_path / "in.jsonl", *({"prompt": f"question {n}", "model": "dear"} for n in range(3)))
    assert run_cli(str(data), "-P", str(profile), "--no-cache").exit_code == 0
    answers = [row["tokens"]["output"] for row in read_jsonl(tmp_path / "in.out.jsonl")]
    result = run_cli(str(data), "-P", str(profile), "--dry-run")
    assert result.exit_code == 0, result.stderr
    shown = " ".join(result.stderr.split())
    assert f"{round(sum(answers) / 3)} tokens, the mean of its last 3 answers in the run log" in shown
