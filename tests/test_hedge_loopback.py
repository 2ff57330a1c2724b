"""Hedging and deadlines over real HTTP, against the loopback fake provider: the losing request
is really abandoned (the server never gets to answer it), and `--explain` shows the decisions."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mmo.app.profile_choice import ResolvedProfile
from mmo.app.settings import AppEnv
from mmo.cli.main import app
from mmo.config.schema import Profile
from mmo.core.paths import MmoPaths
from mmo.core.types import Completion, Request
from tests.support.engine_harness import run_request_sync
from tests.support.loopback import Fault, LoopbackServer

SLOW, FAST = "slow-model", "fast-model"
SLOW_S = 1.0
ENV = {"LOOP_KEY": "sk-loop-secret-123456"}


def profile(server: LoopbackServer, strategy: dict[str, Any]) -> Profile:
    return Profile.model_validate(
        {
            "name": "loop",
            "providers": {"loop": {"kind": "openai", "base_url": server.openai_base_url, "key_env": "LOOP_KEY"}},
            "models": {
                "slow": {"model": f"loop:{SLOW}", "price": {"input": 1, "output": 2}},
                "fast": {"model": f"loop:{FAST}", "price": {"input": 3, "output": 4}},
            },
            "defaults": {"timeout_s": 10, "max_tokens": 64},
            "strategy": strategy,
        }
    )


def run_and_linger(chosen: Profile, tmp_path: Path, prompt: str, linger_s: float) -> Completion:
    """Run one request, then keep the event loop and the HTTP client alive for ``linger_s``: a
    request the strategy had not really cancelled would be answered by the server meanwhile."""

    env = AppEnv(ENV, tmp_path, MmoPaths.from_env())
    return run_request_sync(Request.from_prompt(prompt), env, resolved=ResolvedProfile(chosen, "test", chosen.name), linger_s=linger_s)


def test_the_hedge_winner_answers_and_the_losing_http_request_is_abandoned(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.script(SLOW, Fault.slow(SLOW_S))
    loopback.script(FAST, Fault.ok())
    chosen = profile(loopback, {"hedge": ["slow", "fast"], "after_ms": 100})
    completion = run_and_linger(chosen, tmp_path, "hedge me", linger_s=SLOW_S + 0.5)
    assert completion.text == "echo: hedge me" and completion.model_id == f"loop:{FAST}"
    stats = loopback.stats()
    assert stats.by_model == {SLOW: 1, FAST: 1}
    # Both requests reached the server, but only one was answered: the slow one's connection was
    # closed when the hedge cancelled it, long before its answer was due.
    assert stats.answered == 1
    assert loopback.handler_errors() == []
    hedge = completion.trace.children[0]
    statuses = {span.label: span.status for span in hedge.children}
    assert statuses == {"slow": "cancelled", "fast": "ok"}
    fast = next(span for span in hedge.children if span.label == "fast")
    assert fast.cost is not None and fast.cost.usd is not None and fast.cost.usd > 0
    # The loser was cancelled in flight: its prompt may be billed, so its estimated input counts.
    slow = next(span for span in hedge.children if span.label == "slow")
    assert slow.cost is not None and "estimated input only (cancelled)" in slow.cost.source
    assert slow.usage is not None and slow.usage.input_tokens > 0 and slow.usage.output_tokens == 0
    assert completion.trace.total_cost().usd == pytest.approx(fast.cost.usd + slow.cost.usd)


def test_the_slo_deadline_cancels_the_slow_http_call_and_the_fast_branch_answers(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.script(SLOW, Fault.slow(SLOW_S))
    loopback.script(FAST, Fault.ok())
    chosen = profile(loopback, {"slo": "slow", "within_ms": 150, "otherwise": "fast"})
    completion = run_and_linger(chosen, tmp_path, "deadline me", linger_s=SLOW_S + 0.5)
    assert completion.model_id == f"loop:{FAST}"
    stats = loopback.stats()
    assert stats.by_model == {SLOW: 1, FAST: 1} and stats.answered == 1
    slo = completion.trace.children[0]
    assert [(s.label, s.status) for s in slo.children] == [("slow", "cancelled"), ("fast", "ok")]
    assert [e.message for e in slo.events] == ["deadline 150 ms passed; answering with fast"]


def test_a_dropped_connection_fails_fast_and_the_hedge_moves_on_without_waiting(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.script(SLOW, Fault.drop())
    loopback.script(FAST, Fault.ok())
    chosen = profile(loopback, {"hedge": ["slow", "fast"], "after_ms": 20_000})
    completion = run_and_linger(chosen, tmp_path, "drop me", linger_s=0)
    assert completion.model_id == f"loop:{FAST}"
    hedge = completion.trace.children[0]
    assert any(e.message.startswith("slow failed after") and "ConnectionFailed" in e.message for e in hedge.events)
    assert completion.trace.duration_ms < 20_000


def test_explain_shows_the_hedge_decision_end_to_end(tmp_path: Path, loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOP_KEY", ENV["LOOP_KEY"])
    loopback.script(SLOW, Fault.slow(SLOW_S))
    loopback.script(FAST, Fault.ok())
    path = tmp_path / "loop.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            providers:
              loop: {{kind: openai, base_url: "{loopback.openai_base_url}", key_env: LOOP_KEY}}
            models:
              slow: {{model: "loop:{SLOW}", price: {{input: 1, output: 2}}}}
              fast: {{model: "loop:{FAST}", price: {{input: 3, output: 4}}}}
            strategy:
              hedge: [slow, fast]
              after_ms: 100
            """
        )
    )
    result = CliRunner().invoke(app, ["ask", "--profile", str(path), "--explain", "--no-cache", "--no-stream", "Who wins?"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "echo: Who wins?"
    err = " ".join(result.stderr.split())
    assert "slow has not answered after 100 ms; starting fast" in err
    assert "cancelled slow: loop:fast-model answered first" in err
    assert "sk-loop-secret" not in result.stdout + result.stderr
