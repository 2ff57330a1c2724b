"""An unknown cost is never shown as $0 (batch footer, progress, dry run, --json, mmo logs), and
usage figures a server got wrong (negative, not a number, absurdly large) are flagged and never
priced."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmo.cli.main import app
from mmo.core.types import Usage
from mmo.providers import anthropic, gemini, openai
from tests.support.batch_harness import MODEL, loop_profile, read_jsonl, run_cli, write_rows
from tests.support.fixed_answer_server import FixedAnswerServer
from tests.support.loopback import LoopbackServer


def cost_cells(stderr: str) -> dict[str, str]:
    """The summary table's cost column by first cell (model or total), and the closing lines."""
    cells = {}
    for line in stderr.splitlines():
        if line.startswith((f"loop:{MODEL}", "total")):
            cells[line.split()[0]] = line
    return cells


def test_the_batch_footer_and_progress_never_show_unknown_prices_as_0(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = loop_profile(tmp_path, loopback, price=None)  # a model priced nowhere
    data = write_rows(tmp_path / "in.jsonl", 3)
    result = run_cli(str(data), "-P", str(profile), "--no-cache")
    assert result.exit_code == 0, result.stderr
    cells = cost_cells(result.stderr)
    assert "unknown (3 calls)" in cells[f"loop:{MODEL}"] and "unknown (3 rows)" in cells["total"]
    assert ", unknown (3 rows)  ·  the run so far: unknown (3 rows)" in result.stderr  # this invocation, the whole run
    assert "batch: 3/3 rows (100%)" in result.stderr and "· unknown (3 rows) ·" in result.stderr  # the progress line
    assert not any("$0" in line for line in result.stderr.splitlines() if "unknown" in line or line.startswith("total"))
    assert all(row["cost_usd"] is None for row in read_jsonl(tmp_path / "in.out.jsonl"))
    logs = CliRunner().invoke(app, ["logs"])
    assert "$0" not in logs.stdout and logs.stdout.count("unknown") == 4  # three rows and the run's summary


def test_a_dry_run_total_over_unpriced_models_is_unknown_not_0(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = loop_profile(tmp_path, loopback, price=None)
    data = write_rows(tmp_path / "in.jsonl", 3)
    result = run_cli(str(data), "-P", str(profile), "--dry-run")
    assert result.exit_code == 0, result.stderr
    total = next(line for line in result.stderr.splitlines() if line.startswith("total"))
    assert total.split()[2:] == ["unknown", "unknown", "unknown"]


@pytest.mark.parametrize(
    ("usage", "why"),
    [
        ({"prompt_tokens": -5, "completion_tokens": 3}, "prompt_tokens=-5 is negative"),
        ({"prompt_tokens": 12, "completion_tokens": "lots"}, "completion_tokens='lots' is not a whole number"),
        ({"prompt_tokens": 10**12, "completion_tokens": 3}, "prompt_tokens=1000000000000 is more than 1,000,000,000"),
        ({"prompt_tokens": 12, "completion_tokens": 2.5}, "completion_tokens=2.5 is not a whole number"),
    ],
)
def test_absurd_usage_from_a_server_is_flagged_and_not_priced(tmp_path: Path, usage: dict, why: str) -> None:
    body = {"id": "x", "model": "m", "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris"}, "finish_reason": "stop"}],
            "usage": usage}
    with FixedAnswerServer(body) as server:
        profile = tmp_path / "odd.yaml"
        profile.write_text(textwrap.dedent(f"""
            name: odd
            providers:
              odd: {{kind: openai, base_url: "{server.base_url}", key: none}}
            models:
              m: {{model: "odd:m", price: {{input: 1, output: 2}}}}
            strategy: m
            """))
        result = CliRunner().invoke(app, ["ask", "-P", str(profile), "--no-cache", "--json", "Capital of France?"])
        assert result.exit_code == 0, result.stderr  # the answer was paid for: it is delivered
        out = json.loads(result.stdout)
        assert out["answer"] == "Paris" and out["cost_usd"] is None
        assert out["usage"]["suspect"] == why
        assert any("odd:m reported token counts that cannot be right" in w for w in out["warnings"])
        table = CliRunner().invoke(app, ["ask", "-P", str(profile), "--no-cache", "--explain", "Capital of France?"])
        assert f"suspect usage from odd:m: {why}" in table.stderr and "warning: odd:m reported token counts" in table.stderr
        total = next(line for line in table.stderr.splitlines() if line.startswith("total"))
        assert total.rstrip().endswith("unknown")


def test_every_wire_flags_counts_that_cannot_be_right() -> None:
    assert openai.parse_usage({"prompt_tokens": 12, "completion_tokens": 3}) == Usage(12, 3)
    assert openai.parse_usage({"prompt_tokens": "12", "completion_tokens": 3.0}) == Usage(12, 3)  # numbers, written oddly
    assert openai.parse_usage({"prompt_tokens": 5, "completion_tokens_details": {"reasoning_tokens": -1}}).suspect == "reasoning_tokens=-1 is negative"
    flagged = anthropic.parse_usage({"input_tokens": 5, "output_tokens": True})
    assert flagged.suspect == "output_tokens=true is not a whole number" and flagged.output_tokens == 0
    huge = gemini.parse_usage({"promptTokenCount": 4, "candidatesTokenCount": float("inf")})
    assert huge.suspect == "candidatesTokenCount=Infinity is not a whole number"
    assert gemini.parse_usage({"promptTokenCount": 4}).suspect is None  # a missing count is 0, as vendors leave them out
