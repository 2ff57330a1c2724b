"""A batch's connection pool is sized for the strategy's fan-out: at ``-c 1`` a hedge's second
model and an ensemble's members are sent at once, as in ``mmo ask``, over real loopback HTTP."""

from __future__ import annotations

import textwrap
from pathlib import Path

from mmo.config.schema import Profile
from mmo.core.protocols import concurrent_calls
from mmo.strategies.build import build_tree
from tests.support.batch_harness import read_jsonl, run_cli, write_rows
from tests.support.loopback import Fault, LoopbackServer

SLOW, FAST = "slow-model", "fast-model"


def hedge_profile(directory: Path, server: LoopbackServer) -> Path:
    path = directory / "hedge.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            name: hedged
            providers:
              loop: {{kind: openai, base_url: "{server.openai_base_url}", key: none}}
            models:
              slow: {{model: "loop:{SLOW}", price: {{input: 1, output: 2}}}}
              fast: {{model: "loop:{FAST}", price: {{input: 1, output: 2}}}}
            defaults: {{timeout_s: 5, max_tokens: 16}}
            strategy: {{hedge: [slow, fast], after_ms: 100}}
            """
        )
    )
    return path


def test_at_concurrency_one_a_hedges_second_model_is_sent_and_wins(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.script(SLOW, Fault.slow(1.5), Fault.slow(1.5))
    rows = write_rows(tmp_path / "in.jsonl", 2)
    out = tmp_path / "out.jsonl"
    result = run_cli(str(rows), "--profile", str(hedge_profile(tmp_path, loopback)), "-c", "1", "-o", str(out))
    assert result.exit_code == 0, result.output
    answered_by = [row["model"] for row in read_jsonl(out)]
    # With a pool of one connection the fast model's request waited for the slow one's answer.
    assert answered_by == [f"loop:{FAST}", f"loop:{FAST}"]
    assert loopback.stats().by_model == {SLOW: 2, FAST: 2}


def test_concurrent_calls_counts_members_run_together_and_steps_run_in_turn() -> None:
    def tree(strategy: object) -> int:
        return concurrent_calls(build_tree(Profile.model_validate({"name": "t", "strategy": strategy})))

    assert tree("fake:a") == 1
    assert tree({"fallback": ["fake:a", "fake:b", "fake:c"]}) == 1
    assert tree({"hedge": ["fake:a", "fake:b"], "after_ms": 10}) == 2
    assert tree({"ensemble": ["fake:a", "fake:b", {"hedge": ["fake:c", "fake:d"], "after_ms": 5}], "combine": "vote"}) == 4
    assert tree({"fallback": [{"ensemble": ["fake:a", "fake:b", "fake:c"], "combine": "vote"}, "fake:d"]}) == 3
