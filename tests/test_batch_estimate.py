"""The dry-run estimate: cheapest and dearest path per row, per model, with hand-computed numbers.

Built-in offline profiles use the replay provider, whose rows cost exactly what was recorded in
the bundled sample (mmo/data/mmlu_pro_sample.jsonl.gz); the figures below are copied from it:

    task            model                    input  output  cost_usd
    mmlu_pro-962    gemini-1.5-flash-002       477      88  6.2175e-05
                    gemini-1.5-pro-002         477       5  6.2125e-04
                    Llama-3.1-70B-Instruct     477      54  4.6728e-04
                    gpt-4o-2024-05-13          477     576  1.1025e-02
    mmlu_pro-4697   gemini-1.5-flash-002       455       5  3.5625e-05
                    gpt-4o-2024-05-13          455     462  9.205e-03

Profiles written here price their models explicitly, so chars/4 x price is easy to check by hand.
"""

from __future__ import annotations

import math
import textwrap
import tracemalloc
from pathlib import Path
from typing import Iterator

import pytest

from mmo.app.batch.estimate import BatchEstimate, ModelEstimate, estimate_batch, learnt_estimator
from mmo.app.session import AppEnv, ProfileChoice, Session, open_session, resolve_profile
from mmo.core.types import Request
from mmo.runtime.call_estimate import DEFAULT_OUTPUT_TOKENS
from mmo.runtime.tokens import TokenEstimator
from mmo.strategies.classifier import CLASSIFIER_INSTRUCTION

FLASH, PRO = "replay:gemini-1.5-flash-002", "replay:gemini-1.5-pro-002"
LLAMA, GPT4O = "replay:Llama-3.1-70B-Instruct", "replay:gpt-4o-2024-05-13"
COST_962 = {FLASH: 6.2175e-05, PRO: 6.2125e-04, LLAMA: 4.6728e-04, GPT4O: 1.1025e-02}
COST_4697 = {FLASH: 3.5625e-05, GPT4O: 9.205e-03}


def session_for(profile: str, tmp_path: Path) -> Session:
    env = AppEnv.from_process()
    env = AppEnv(env.environ, tmp_path, env.paths)
    return open_session(resolve_profile(ProfileChoice(profile), env), env, use_cache=False)


def estimate(profile: str, tmp_path: Path, requests: list[Request], tokens: TokenEstimator | None = None) -> BatchEstimate:
    session = session_for(profile, tmp_path)
    return estimate_batch(session, iter(requests), tokens or TokenEstimator())


def recorded(task_id: str, tmp_path: Path, *tags: str) -> Request:
    """The recorded question of a task, addressed by id as a batch row would be."""
    replay = session_for("demo", tmp_path).services.providers.get("replay")
    return Request.from_prompt(replay.prompt_for(task_id), metadata={"id": task_id}, tags=tags)  # type: ignore[attr-defined]


def by_model(result: BatchEstimate) -> dict[str, ModelEstimate]:
    return {m.model_id: m for m in result.models}


def write_profile(tmp_path: Path, strategy: str, *, defaults: str = "{max_tokens: 100}") -> str:
    """A profile over three priced models on a server that is never called (port 9, discard)."""
    path = tmp_path / "priced.yaml"
    body = f"""
        providers:
          loop: {{kind: openai, base_url: "http://127.0.0.1:9/v1", key: none}}
        models:
          cheap: {{model: "loop:cheap", price: {{input: 1, output: 2}}}}
          strong: {{model: "loop:strong", price: {{input: 10, output: 20}}}}
          checker: {{model: "loop:checker", price: {{input: 3, output: 3}}}}
        defaults: {defaults}
        """
    path.write_text(textwrap.dedent(body) + textwrap.dedent(strategy))
    return str(path)


PROMPT_100 = "y" * 400  # 100 tokens at chars/4
# With max_tokens 100: cheap = 100 x $1 + 100 x $2 per 1M tokens; strong = 100 x 10 + 100 x 20;
# checker = 100 x 3 + 100 x 3.
CHEAP, STRONG, CHECKER = 300e-6, 3000e-6, 600e-6


# --- built-in offline profiles ------------------------------------------------------------------


def test_demo_fallback_ranges_from_the_first_model_to_both(tmp_path: Path) -> None:
    result = estimate("demo", tmp_path, [recorded("mmlu_pro-962", tmp_path)])
    assert result.rows == 1
    assert result.low_usd == pytest.approx(COST_962[FLASH])
    assert result.high_usd == pytest.approx(COST_962[FLASH] + COST_962[PRO])
    models = by_model(result)
    assert list(models) == [FLASH, PRO]  # tree order
    assert (models[FLASH].input_tokens_low, models[FLASH].output_tokens_low) == (477, 88)
    assert (models[PRO].input_tokens_low, models[PRO].input_tokens_high, models[PRO].output_tokens_high) == (0, 477, 5)
    assert models[PRO].cost_low_usd == 0.0
    assert models[PRO].rows == 1 and models[PRO].price_source == "recorded"
    assert result.complete
    assert "recorded tokens and cost" in result.method


def test_cascade_ranges_from_the_first_tier_to_every_tier(tmp_path: Path) -> None:
    result = estimate("cascade", tmp_path, [recorded("mmlu_pro-962", tmp_path)])
    assert result.low_usd == pytest.approx(COST_962[FLASH])
    assert result.high_usd == pytest.approx(COST_962[FLASH] + COST_962[LLAMA] + COST_962[PRO])
    assert [m.model_id for m in result.models] == [FLASH, LLAMA, PRO]


def test_vote_always_asks_every_member(tmp_path: Path) -> None:
    result = estimate("vote", tmp_path, [recorded("mmlu_pro-962", tmp_path)])
    every = COST_962[FLASH] + COST_962[PRO] + COST_962[LLAMA]
    assert result.low_usd == pytest.approx(every)
    assert result.high_usd == pytest.approx(every)


def test_hedge_ranges_from_the_first_model_to_both(tmp_path: Path) -> None:
    result = estimate("hedge", tmp_path, [recorded("mmlu_pro-962", tmp_path)])
    assert result.low_usd == pytest.approx(COST_962[GPT4O])
    assert result.high_usd == pytest.approx(COST_962[GPT4O] + COST_962[PRO])


def test_router_rules_are_evaluated_offline(tmp_path: Path) -> None:
    rows = [
        recorded("mmlu_pro-962", tmp_path),  # 'plaintiff': rule 2, pro
        recorded("mmlu_pro-4697", tmp_path),  # no rule matches: the default, flash
        recorded("mmlu_pro-4697", tmp_path, "hard"),  # tag 'hard': rule 1, gpt-4o
    ]
    result = estimate("router", tmp_path, rows)
    total = COST_962[PRO] + COST_4697[FLASH] + COST_4697[GPT4O]
    assert result.low_usd == pytest.approx(total)
    assert result.high_usd == pytest.approx(total)  # nothing left to chance: no classifier
    models = by_model(result)
    assert {model_id: m.rows for model_id, m in models.items()} == {PRO: 1, FLASH: 1, GPT4O: 1}
    assert models[GPT4O].input_tokens_high == 455


def test_unrecorded_rows_have_unknown_prices_and_are_flagged(tmp_path: Path) -> None:
    unrecorded = Request.from_prompt("What is the capital of France?")  # 30 characters: 8 tokens
    result = estimate("demo", tmp_path, [recorded("mmlu_pro-962", tmp_path), unrecorded])
    assert result.rows == 2
    assert result.unknown_price_rows == 1
    assert not result.complete
    models = by_model(result)
    assert models[FLASH].cost_low_usd == pytest.approx(COST_962[FLASH])  # the known part
    assert models[FLASH].unknown_price_rows == 1 and not models[FLASH].price_known
    assert models[FLASH].price_source == "recorded; unknown for 1 row"
    # the demo sets no max_tokens: the unrecorded row counts the default output
    assert models[FLASH].input_tokens_low == 477 + 8
    assert models[FLASH].output_tokens_low == 88 + DEFAULT_OUTPUT_TOKENS
    assert str(DEFAULT_OUTPUT_TOKENS) in result.output_method
    assert result.low_usd == pytest.approx(COST_962[FLASH])  # the known part only


def test_a_model_priced_nowhere_has_no_cost_at_all(tmp_path: Path) -> None:
    path = tmp_path / "unpriced.yaml"
    path.write_text('providers:\n  loop: {kind: openai, base_url: "http://127.0.0.1:9/v1", key: none}\nstrategy: "loop:mystery-model"\n')
    result = estimate(str(path), tmp_path, [Request.from_prompt(PROMPT_100)] * 2)
    (mystery,) = result.models
    assert (mystery.cost_low_usd, mystery.cost_high_usd, mystery.price_source) == (None, None, "unknown")
    assert mystery.unknown_price_rows == result.unknown_price_rows == 2
    assert result.low_usd == result.high_usd == 0.0


# --- priced profiles: chars/4 x price -----------------------------------------------------------


def test_one_model_is_prompt_tokens_times_input_price_plus_max_tokens_times_output_price(tmp_path: Path) -> None:
    result = estimate(write_profile(tmp_path, "strategy: cheap\n"), tmp_path, [Request.from_prompt(PROMPT_100)] * 3)
    (cheap,) = result.models
    assert (cheap.rows, cheap.input_tokens_high, cheap.output_tokens_high) == (3, 300, 300)
    assert cheap.cost_low_usd == pytest.approx(3 * CHEAP)
    assert cheap.price_source == "profile"
    assert result.method == "chars/4 (no history)"
    assert result.output_method == "max_tokens"


def test_a_request_max_tokens_wins_over_the_profile(tmp_path: Path) -> None:
    from mmo.core.types import Params

    request = Request.from_prompt(PROMPT_100, params=Params(max_tokens=10))
    result = estimate(write_profile(tmp_path, "strategy: cheap\n"), tmp_path, [request])
    assert result.models[0].output_tokens_high == 10
    assert result.high_usd == pytest.approx((100 * 1 + 10 * 2) / 1e6)


def test_learnt_token_ratio_scales_prompt_tokens_and_is_named(tmp_path: Path) -> None:
    tokens = TokenEstimator({"loop:cheap": 1.5}, {"loop:cheap": 42})
    result = estimate(write_profile(tmp_path, "strategy: cheap\n"), tmp_path, [Request.from_prompt(PROMPT_100)], tokens)
    assert result.models[0].input_tokens_high == 150
    assert result.method == "chars/4 x 1.50 learnt from 42 calls of loop:cheap"


def test_cascade_gate_calls_count_except_on_the_last_tier(tmp_path: Path) -> None:
    strategy = """
        strategy:
          cascade: [cheap, strong]
          accept: {agree: {model: checker}}
        """
    result = estimate(write_profile(tmp_path, textwrap.dedent(strategy)), tmp_path, [Request.from_prompt(PROMPT_100)])
    # cheapest: cheap accepted after checker agreed; dearest: checker disagreed, strong answers
    # and, as the last tier with on_exhausted 'last', is not checked
    assert result.low_usd == pytest.approx(CHEAP + CHECKER)
    assert result.high_usd == pytest.approx(CHEAP + CHECKER + STRONG)


def test_router_classifier_costs_its_call_plus_the_cheapest_or_dearest_branch(tmp_path: Path) -> None:
    strategy = """
        strategy:
          rules:
            - {when: {keywords: [urgent]}, use: strong}
          classify: {model: checker, labels: {simple: cheap, hard: strong}}
          default: cheap
        """
    profile = write_profile(tmp_path, textwrap.dedent(strategy))
    result = estimate(profile, tmp_path, [Request.from_prompt(PROMPT_100), Request.from_prompt("urgent " + PROMPT_100[7:])])
    system = CLASSIFIER_INSTRUCTION.format(labels="simple, hard")
    classifier_in = -(-(len(system) + 1 + 400) // 4)  # ceil: system and prompt joined by a newline
    classifier = (classifier_in * 3 + 16 * 3) / 1e6  # max_tokens 16 for a classifier
    assert result.low_usd == pytest.approx(classifier + CHEAP + STRONG)  # the urgent row: rule, strong
    assert result.high_usd == pytest.approx(classifier + STRONG + STRONG)
    models = by_model(result)
    assert (models["loop:checker"].rows, models["loop:cheap"].rows, models["loop:strong"].rows) == (1, 1, 2)


def test_pipeline_counts_every_step_with_earlier_answers_at_their_max_tokens(tmp_path: Path) -> None:
    strategy = """
        strategy:
          pipeline:
            - {name: draft, run: cheap}
            - {name: polish, run: strong, prompt: "{draft}"}
        """
    result = estimate(write_profile(tmp_path, textwrap.dedent(strategy)), tmp_path, [Request.from_prompt(PROMPT_100)])
    models = by_model(result)
    assert models["loop:strong"].input_tokens_high == 100  # the draft, at its max_tokens
    assert result.low_usd == result.high_usd == pytest.approx(CHEAP + STRONG)


def test_pipeline_repair_may_ask_a_step_twice(tmp_path: Path) -> None:
    strategy = """
        strategy:
          pipeline:
            - {name: draft, run: cheap, check: {min_length: 10}, on_fail: repair}
        """
    result = estimate(write_profile(tmp_path, textwrap.dedent(strategy)), tmp_path, [Request.from_prompt(PROMPT_100)])
    cheap = result.models[0]
    assert cheap.input_tokens_low == 100
    assert cheap.input_tokens_high > 100 + 100 + 100  # the repair request carries the first answer
    assert cheap.output_tokens_high == 200


def test_ensemble_judge_reads_every_answer(tmp_path: Path) -> None:
    strategy = """
        strategy:
          ensemble: [cheap, strong]
          combine: judge
          judge: checker
        """
    result = estimate(write_profile(tmp_path, textwrap.dedent(strategy)), tmp_path, [Request.from_prompt(PROMPT_100)])
    judge = by_model(result)["loop:checker"]
    assert judge.input_tokens_low > 100 + 100 + 100  # question and both answers
    assert result.low_usd > CHEAP + STRONG


def test_slo_ranges_from_the_primary_to_both(tmp_path: Path) -> None:
    strategy = """
        strategy:
          slo: strong
          within_ms: 500
          otherwise: cheap
        """
    result = estimate(write_profile(tmp_path, textwrap.dedent(strategy)), tmp_path, [Request.from_prompt(PROMPT_100)])
    assert result.low_usd == pytest.approx(STRONG)
    assert result.high_usd == pytest.approx(STRONG + CHEAP)


def test_a_local_model_costs_a_known_zero(tmp_path: Path) -> None:
    path = tmp_path / "local.yaml"
    path.write_text('models:\n  mine: {model: "ollama:llama3.1:8b", local: true}\ndefaults: {max_tokens: 50}\nstrategy: mine\n')
    result = estimate(str(path), tmp_path, [Request.from_prompt(PROMPT_100)])
    assert result.models[0].cost_high_usd == 0.0 and result.models[0].price_source == "local"
    assert result.complete


# --- history and streaming ----------------------------------------------------------------------


def test_learnt_estimator_without_history_is_plain_chars_over_four(tmp_path: Path) -> None:
    session = session_for(write_profile(tmp_path, "strategy: cheap\n"), tmp_path)
    assert learnt_estimator(session).ratio("loop:cheap") is None


def test_requests_are_streamed_not_held(tmp_path: Path) -> None:
    session = session_for(write_profile(tmp_path, "strategy: {fallback: [cheap, strong]}\n"), tmp_path)
    consumed = 0

    def rows(count: int) -> Iterator[Request]:
        nonlocal consumed
        for n in range(count):
            consumed += 1
            yield Request.from_prompt(f"row {n}: " + "z" * 2000)

    tracemalloc.start()
    try:
        result = estimate_batch(session, rows(5000), TokenEstimator())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert consumed == result.rows == 5000
    assert peak < 2_000_000  # 5,000 rows of 2 KB held at once would be 10 MB


def test_a_ratio_learnt_from_the_run_log_is_used_and_named(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mmo.cli.main import app

    for task in ("mmlu_pro-135", "mmlu_pro-153", "mmlu_pro-228"):  # three recorded calls of flash
        result = CliRunner().invoke(app, ["ask", "--profile", "demo", "--meta", f"id={task}", "--json", "MMLU-Pro question"])
        assert result.exit_code == 0, result.stderr
    session = session_for("demo", tmp_path)
    tokens = learnt_estimator(session)
    ratio = tokens.ratio(FLASH)
    assert ratio is not None
    unrecorded = Request.from_prompt("z" * 400)  # not in the recording: estimated, 100 tokens at chars/4
    result = estimate_batch(session, iter([unrecorded]), tokens)
    assert by_model(result)[FLASH].input_tokens_low == math.ceil(round(100 * ratio, 6))
    assert result.method.startswith(f"chars/4 x {ratio:.2f} learnt from 3 calls of {FLASH}")


def test_personal_data_goes_to_the_local_model_and_skips_the_classifier(tmp_path: Path) -> None:
    rows = [Request.from_prompt("Email jane.doe@example.com about her invoice"), Request.from_prompt("Write a haiku about autumn")]
    result = estimate("private", tmp_path, rows)
    models = by_model(result)
    assert models["gemini:gemini-2.5-flash-lite"].rows == 1  # the classifier saw only the second row
    assert models["ollama:llama3.1:8b"].rows == 2 and models["ollama:llama3.1:8b"].cost_high_usd == 0.0
    assert models["ollama:llama3.1:8b"].input_tokens_low == 11  # the first row: 44 characters, local only
