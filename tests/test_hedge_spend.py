"""What a hedge spent and how long the user waited, with models that have no list price: the
cancelled call is counted (from its recording, else as unknown), and the latency is counted from
the run's start, not from the moment the second model started."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmo.cli.main import app
from tests.support.batch_harness import read_jsonl, run_cli

SLOW_COST, FAST_COST = 0.004, 0.0001
FAST_SIMULATED_MS = 600 + 6 / 60 * 1000  # replay's default latency model: ttft + tokens / 60 per s
AFTER_MS = 100


def replay_hedge(directory: Path) -> Path:
    """Two replay models without recorded latency (so it is simulated, and waited: sleep) and
    without a list price: slow would take 100 s, fast 0.7 s; the hedge starts fast after 100 ms."""
    task = {
        "id": "t1",
        "prompt": "What is 2 + 2?",
        "models": {
            "slow": {"text": "4, at length", "input_tokens": 12, "output_tokens": 6000, "cost_usd": SLOW_COST},
            "fast": {"text": "4", "input_tokens": 12, "output_tokens": 6, "cost_usd": FAST_COST},
        },
    }
    (directory / "rec.jsonl").write_text(json.dumps(task) + "\n")
    profile = directory / "hedge.yaml"
    profile.write_text(
        textwrap.dedent(
            f"""
            name: rhedge
            providers:
              rec: {{kind: replay, path: "{directory / 'rec.jsonl'}", sleep: true}}
            models: {{slow: "rec:slow", fast: "rec:fast"}}
            strategy: {{hedge: [slow, fast], after_ms: {AFTER_MS}}}
            """
        )
    )
    return profile


def test_ask_counts_the_cancelled_call_from_its_recording_and_the_latency_from_the_start(tmp_path: Path) -> None:
    profile = replay_hedge(tmp_path)
    result = CliRunner().invoke(app, ["ask", "-P", str(profile), "--json", "What is 2 + 2?"])
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["completion"]["model_id"] == "rec:fast"
    assert out["cost_usd"] == pytest.approx(SLOW_COST + FAST_COST)
    hedge = out["trace"]["children"][0]
    slow = next(c for c in hedge["children"] if c["label"] == "slow")
    assert slow["status"] == "cancelled" and slow["cost_source"] == "recorded, whole answer (cancelled in flight)"
    table = CliRunner().invoke(app, ["ask", "-P", str(profile), "What is 2 + 2?"])
    total = next(line for line in table.stderr.splitlines() if line.startswith("total"))
    assert "$0.004100" in total
    waited_ms = float(total.split()[2]) * (1000 if total.split()[3] == "s*" else 1)
    assert waited_ms >= AFTER_MS + FAST_SIMULATED_MS - 1


def test_a_batch_row_reports_the_latency_waited_and_counts_the_cancelled_call(tmp_path: Path) -> None:
    profile = replay_hedge(tmp_path)
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps({"id": "q", "prompt": "What is 2 + 2?"}) + "\n")
    result = run_cli(str(data), "-P", str(profile))
    assert result.exit_code == 0, result.stderr
    (row,) = read_jsonl(tmp_path / "in.out.jsonl")
    assert row["model"] == "rec:fast" and sorted(row["route"].split(" > ")) == ["fast", "slow (cancelled)"]
    assert row["cost_usd"] == pytest.approx(SLOW_COST + FAST_COST)
    # fast started after the hedge's delay: the user waited that too
    assert row["latency_ms"] >= AFTER_MS + FAST_SIMULATED_MS - 1
