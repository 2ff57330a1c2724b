from __future__ import annotations

from pathlib import Path

from mmo.runtime.runlog import AttemptRecord, RunLog, RunRecord, new_run_id, utc_iso
from mmo.runtime.tokens import TokenEstimator, estimate_tokens


def test_chars_over_four_rounded_up() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2
    assert estimate_tokens("x" * 400) == 100


def test_ratio_scales_the_estimate_without_float_noise() -> None:
    assert estimate_tokens("x" * 400, 1.13) == 113
    # 40 / 4 * 1.1 is 11.000000000000002 in floating point: still 11 tokens.
    assert estimate_tokens("x" * 40, 1.1) == 11
    assert estimate_tokens("x" * 41, 1.1) == 12
    assert estimate_tokens("x" * 400, 0.5) == 50


def test_estimator_uses_each_models_ratio_and_says_how() -> None:
    estimator = TokenEstimator({"openai:gpt-4o": 1.13}, {"openai:gpt-4o": 42})
    text = "x" * 400
    assert estimator.estimate(text, "openai:gpt-4o") == 113
    assert estimator.estimate(text, "anthropic:claude-sonnet-4-5") == 100
    assert estimator.estimate(text) == 100
    assert estimator.method("openai:gpt-4o") == "chars/4 x 1.13 learnt from 42 calls"
    assert estimator.method("anthropic:claude-sonnet-4-5") == "chars/4"
    assert estimator.method() == "chars/4"
    assert TokenEstimator({"m:x": 0.9}).method("m:x") == "chars/4 x 0.90"


def _record(log: RunLog, model_id: str, prompt_chars: int, input_tokens: int) -> None:
    run_id = new_run_id()
    log.record(
        RunRecord(run_id, utc_iso(), "ask", None, "model", "p", "a", model_id, "ok"),
        [AttemptRecord(run_id, 0, "model", model_id, "ok", input_tokens=input_tokens, prompt_chars=prompt_chars)],
    )


def test_from_runlog_learns_ratios_for_models_with_enough_calls(tmp_path: Path) -> None:
    with RunLog(tmp_path / "log.sqlite3") as log:
        for _ in range(4):
            _record(log, "openai:gpt-4o", prompt_chars=400, input_tokens=120)
        _record(log, "gemini:gemini-2.5-flash", prompt_chars=400, input_tokens=90)
        estimator = TokenEstimator.from_runlog(log, ["openai:gpt-4o", "gemini:gemini-2.5-flash", "openai:gpt-4o"])
    assert estimator.ratio("openai:gpt-4o") == 1.2
    assert estimator.estimate("x" * 400, "openai:gpt-4o") == 120
    assert estimator.method("openai:gpt-4o") == "chars/4 x 1.20 learnt from 4 calls"
    assert estimator.ratio("gemini:gemini-2.5-flash") is None
    assert estimator.method("gemini:gemini-2.5-flash") == "chars/4"
