"""The dry-run estimate: the best, expected and worst path per row, per model, with hand-computed
numbers, each node kind estimating itself through the tree that runs.

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

import asyncio
import math
import textwrap
import tracemalloc
from pathlib import Path
from typing import Iterable, Iterator

import pytest

from mmo.app.batch.estimate import BatchEstimate, BatchTotals, ModelEstimate, estimate_rows
from mmo.app.batch.input import InputRow
from mmo.app.engine import Engine, open_engine
from mmo.app.settings import AppEnv, ProfileChoice, RunSettings
from mmo.core.protocols import leaf_targets
from mmo.core.types import Request
from mmo.runtime.call_estimate import DEFAULT_EXPECTED_OUTPUT_TOKENS, DEFAULT_OUTPUT_TOKENS
from mmo.runtime.estimator import TreeEstimator
from mmo.runtime.spend import Budgets, RunCap
from mmo.runtime.tokens import TokenEstimator
from mmo.strategies.classifier import CLASSIFIER_INSTRUCTION

FLASH, PRO = "replay:gemini-1.5-flash-002", "replay:gemini-1.5-pro-002"
LLAMA, GPT4O = "replay:Llama-3.1-70B-Instruct", "replay:gpt-4o-2024-05-13"
COST_962 = {FLASH: 6.2175e-05, PRO: 6.2125e-04, LLAMA: 4.6728e-04, GPT4O: 1.1025e-02}
COST_4697 = {FLASH: 3.5625e-05, GPT4O: 9.205e-03}


def engine_for(profile: str, tmp_path: Path) -> Engine:
    env = AppEnv.from_process()
    env = AppEnv(env.environ, tmp_path, env.paths)
    return open_engine(RunSettings(choice=ProfileChoice(profile), read_cache=False, write_cache=False), env, log_runs=False)


def estimate_with(engine: Engine, requests: Iterable[Request], *, run_cap: RunCap | None = None) -> BatchEstimate:
    """What ``mmo batch --dry-run`` does with these rows."""
    budgets = Budgets(per_request_usd=engine.resolved.profile.budget.per_request_usd)
    order = list(dict.fromkeys(t.id for t in leaf_targets(engine.root)))
    rows = (InputRow(n, n, request) for n, request in enumerate(requests, 1))
    result = estimate_rows(engine, rows, TreeEstimator(engine.services), BatchTotals(budgets, run_cap), order)
    asyncio.run(engine.aclose())
    return result


def estimate(profile: str, tmp_path: Path, requests: list[Request], tokens: TokenEstimator | None = None, **kw: object) -> BatchEstimate:
    engine = engine_for(profile, tmp_path)
    engine.services.tokens = tokens or TokenEstimator()
    return estimate_with(engine, iter(requests), **kw)  # type: ignore[arg-type]


def recorded(task_id: str, tmp_path: Path, *tags: str) -> Request:
    """The recorded question of a task, addressed by id as a batch row would be."""
    from mmo.app.demo import demo_task

    return Request.from_prompt(demo_task(task_id).prompt, metadata={"id": task_id}, tags=tags)


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
    assert result.cost_usd.best == pytest.approx(COST_962[FLASH])
    assert result.cost_usd.worst == pytest.approx(COST_962[FLASH] + COST_962[PRO])
    models = by_model(result)
    assert list(models) == [FLASH, PRO]  # tree order
    assert (models[FLASH].input_tokens.best, models[FLASH].output_tokens.best) == (477, 88)
    assert (models[PRO].input_tokens.best, models[PRO].input_tokens.worst, models[PRO].output_tokens.worst) == (0, 477, 5)
    assert models[PRO].cost_usd.best == 0.0
    assert models[PRO].rows == 1 and models[PRO].price_source == "recorded"
    assert result.complete
    assert "recorded tokens and cost" in result.method


def test_cascade_ranges_from_the_first_tier_to_every_tier(tmp_path: Path) -> None:
    result = estimate("cascade", tmp_path, [recorded("mmlu_pro-962", tmp_path)])
    assert result.cost_usd.best == pytest.approx(COST_962[FLASH])
    assert result.cost_usd.worst == pytest.approx(COST_962[FLASH] + COST_962[LLAMA] + COST_962[PRO])
    assert [m.model_id for m in result.models] == [FLASH, LLAMA, PRO]


def test_vote_always_asks_every_member(tmp_path: Path) -> None:
    result = estimate("vote", tmp_path, [recorded("mmlu_pro-962", tmp_path)])
    every = COST_962[FLASH] + COST_962[PRO] + COST_962[LLAMA]
    assert result.cost_usd.best == pytest.approx(every)
    assert result.cost_usd.worst == pytest.approx(every)


def test_hedge_ranges_from_the_first_model_to_both(tmp_path: Path) -> None:
    result = estimate("hedge", tmp_path, [recorded("mmlu_pro-962", tmp_path)])
    assert result.cost_usd.best == pytest.approx(COST_962[GPT4O])
    assert result.cost_usd.worst == pytest.approx(COST_962[GPT4O] + COST_962[PRO])


def test_router_rules_are_evaluated_offline(tmp_path: Path) -> None:
    rows = [
        recorded("mmlu_pro-962", tmp_path),  # 'plaintiff': rule 2, pro
        recorded("mmlu_pro-4697", tmp_path),  # no rule matches: the default, flash
        recorded("mmlu_pro-4697", tmp_path, "hard"),  # tag 'hard': rule 1, gpt-4o
    ]
    result = estimate("router", tmp_path, rows)
    total = COST_962[PRO] + COST_4697[FLASH] + COST_4697[GPT4O]
    assert result.cost_usd.best == pytest.approx(total)
    assert result.cost_usd.worst == pytest.approx(total)  # nothing left to chance: no classifier
    models = by_model(result)
    assert {model_id: m.rows for model_id, m in models.items()} == {PRO: 1, FLASH: 1, GPT4O: 1}
    assert models[GPT4O].input_tokens.worst == 455


def test_unrecorded_rows_have_unknown_prices_and_are_flagged(tmp_path: Path) -> None:
    unrecorded = Request.from_prompt("What is the capital of France?")  # 30 characters: 8 tokens
    result = estimate("demo", tmp_path, [recorded("mmlu_pro-962", tmp_path), unrecorded])
    assert result.rows == 2
    assert result.unknown_price_rows == 1
    assert not result.complete
    models = by_model(result)
    assert models[FLASH].cost_usd.best == pytest.approx(COST_962[FLASH])  # the known part
    assert models[FLASH].unknown_price_rows == 1 and not models[FLASH].price_known
    assert models[FLASH].price_source == "recorded; unknown for 1 row"
    # the demo sets no max_tokens: the unrecorded row's worst case counts the default maximum, its
    # expected answer the default expected length (flash has no answers in the run log)
    assert models[FLASH].input_tokens.best == 477 + 8
    assert models[FLASH].output_tokens.best == 88 + DEFAULT_EXPECTED_OUTPUT_TOKENS
    assert models[FLASH].output_tokens.worst == 88 + DEFAULT_OUTPUT_TOKENS
    assert str(DEFAULT_OUTPUT_TOKENS) in result.output_method
    assert result.cost_usd.best == pytest.approx(COST_962[FLASH])  # the known part only


def test_a_model_priced_nowhere_has_no_cost_at_all(tmp_path: Path) -> None:
    path = tmp_path / "unpriced.yaml"
    path.write_text('providers:\n  loop: {kind: openai, base_url: "http://127.0.0.1:9/v1", key: none}\nstrategy: "loop:mystery-model"\n')
    result = estimate(str(path), tmp_path, [Request.from_prompt(PROMPT_100)] * 2)
    (mystery,) = result.models
    assert (mystery.cost_usd, mystery.price_source) == (None, "unknown")
    assert mystery.unknown_price_rows == result.unknown_price_rows == 2
    assert result.cost_usd.best == result.cost_usd.worst == 0.0


# --- priced profiles: chars/4 x price -----------------------------------------------------------


def test_one_model_is_prompt_tokens_times_input_price_plus_max_tokens_times_output_price(tmp_path: Path) -> None:
    result = estimate(write_profile(tmp_path, "strategy: cheap\n"), tmp_path, [Request.from_prompt(PROMPT_100)] * 3)
    (cheap,) = result.models
    assert (cheap.rows, cheap.input_tokens.worst, cheap.output_tokens.worst) == (3, 300, 300)
    assert cheap.cost_usd.best == pytest.approx(3 * CHEAP)
    assert cheap.price_source == "profile"
    assert result.method == "chars/4 (no history)"
    # max_tokens (100) is below the default expected length: the expected answer is max_tokens long
    assert result.output_method == "worst: max_tokens; best and expected: 256 tokens, the default (no answers in the run log yet), at most max_tokens"


def test_a_request_max_tokens_wins_over_the_profile(tmp_path: Path) -> None:
    from mmo.core.types import Params

    request = Request.from_prompt(PROMPT_100, params=Params(max_tokens=10))
    result = estimate(write_profile(tmp_path, "strategy: cheap\n"), tmp_path, [request])
    assert result.models[0].output_tokens.worst == 10
    assert result.cost_usd.worst == pytest.approx((100 * 1 + 10 * 2) / 1e6)


def test_learnt_token_ratio_scales_prompt_tokens_and_is_named(tmp_path: Path) -> None:
    tokens = TokenEstimator({"loop:cheap": 1.5}, {"loop:cheap": 42})
    result = estimate(write_profile(tmp_path, "strategy: cheap\n"), tmp_path, [Request.from_prompt(PROMPT_100)], tokens)
    assert result.models[0].input_tokens.worst == 150
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
    assert result.cost_usd.best == pytest.approx(CHEAP + CHECKER)
    assert result.cost_usd.worst == pytest.approx(CHEAP + CHECKER + STRONG)


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
    assert result.cost_usd.best == pytest.approx(classifier + CHEAP + STRONG)  # the urgent row: rule, strong
    assert result.cost_usd.worst == pytest.approx(classifier + STRONG + STRONG)
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
    assert models["loop:strong"].input_tokens.worst == 100  # the draft, at its max_tokens
    assert result.cost_usd.best == result.cost_usd.worst == pytest.approx(CHEAP + STRONG)


def test_pipeline_repair_may_ask_a_step_twice(tmp_path: Path) -> None:
    strategy = """
        strategy:
          pipeline:
            - {name: draft, run: cheap, check: {min_length: 10}, on_fail: repair}
        """
    result = estimate(write_profile(tmp_path, textwrap.dedent(strategy)), tmp_path, [Request.from_prompt(PROMPT_100)])
    cheap = result.models[0]
    assert cheap.input_tokens.best == 100
    assert cheap.input_tokens.worst > 100 + 100 + 100  # the repair request carries the first answer
    assert cheap.output_tokens.worst == 200


def test_ensemble_judge_reads_every_answer(tmp_path: Path) -> None:
    strategy = """
        strategy:
          ensemble: [cheap, strong]
          combine: judge
          judge: checker
        """
    result = estimate(write_profile(tmp_path, textwrap.dedent(strategy)), tmp_path, [Request.from_prompt(PROMPT_100)])
    judge = by_model(result)["loop:checker"]
    assert judge.input_tokens.best > 100 + 100 + 100  # question and both answers
    assert result.cost_usd.best > CHEAP + STRONG


def test_slo_ranges_from_the_primary_to_both(tmp_path: Path) -> None:
    strategy = """
        strategy:
          slo: strong
          within_ms: 500
          otherwise: cheap
        """
    result = estimate(write_profile(tmp_path, textwrap.dedent(strategy)), tmp_path, [Request.from_prompt(PROMPT_100)])
    assert result.cost_usd.best == pytest.approx(STRONG)
    assert result.cost_usd.worst == pytest.approx(STRONG + CHEAP)


def test_a_local_model_costs_a_known_zero(tmp_path: Path) -> None:
    path = tmp_path / "local.yaml"
    path.write_text('models:\n  mine: {model: "ollama:llama3.1:8b", local: true}\ndefaults: {max_tokens: 50}\nstrategy: mine\n')
    result = estimate(str(path), tmp_path, [Request.from_prompt(PROMPT_100)])
    assert result.models[0].cost_usd.worst == 0.0 and result.models[0].price_source == "local"
    assert result.complete


# --- history and streaming ----------------------------------------------------------------------


def test_without_history_prompt_tokens_are_plain_chars_over_four(tmp_path: Path) -> None:
    engine = engine_for(write_profile(tmp_path, "strategy: cheap\n"), tmp_path)
    assert engine.services.tokens.ratio("loop:cheap") is None and engine.services.tokens.typical_output("loop:cheap") is None
    asyncio.run(engine.aclose())


def test_requests_are_streamed_not_held(tmp_path: Path) -> None:
    engine = engine_for(write_profile(tmp_path, "strategy: {fallback: [cheap, strong]}\n"), tmp_path)
    consumed = 0

    def rows(count: int) -> Iterator[Request]:
        nonlocal consumed
        for n in range(count):
            consumed += 1
            yield Request.from_prompt(f"row {n}: " + "z" * 2000)

    tracemalloc.start()
    try:
        result = estimate_with(engine, rows(5000))
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
    engine = engine_for("demo", tmp_path)
    ratio = engine.services.tokens.ratio(FLASH)
    assert ratio is not None
    unrecorded = Request.from_prompt("z" * 400)  # not in the recording: estimated, 100 tokens at chars/4
    result = estimate_with(engine, iter([unrecorded]))
    assert by_model(result)[FLASH].input_tokens.best == math.ceil(round(100 * ratio, 6))
    assert result.method.startswith(f"chars/4 x {ratio:.2f} learnt from 3 calls of {FLASH}")


def test_personal_data_goes_to_the_local_model_and_skips_the_classifier(tmp_path: Path) -> None:
    rows = [Request.from_prompt("Email jane.doe@example.com about her invoice"), Request.from_prompt("Write a haiku about autumn")]
    result = estimate("private", tmp_path, rows)
    models = by_model(result)
    assert models["gemini:gemini-2.5-flash-lite"].rows == 1  # the classifier saw only the second row
    assert models["ollama:llama3.1:8b"].rows == 2 and models["ollama:llama3.1:8b"].cost_usd.worst == 0.0
    assert models["ollama:llama3.1:8b"].input_tokens.best == 11  # the first row: 44 characters, local only


# --- expected, typical answers, caps ------------------------------------------------------------


def test_expected_takes_each_classifier_branch_equally_likely(tmp_path: Path) -> None:
    strategy = """
        strategy:
          classify: {model: checker, labels: {simple: cheap, hard: strong}}
          default: cheap
        """
    result = estimate(write_profile(tmp_path, textwrap.dedent(strategy)), tmp_path, [Request.from_prompt(PROMPT_100)])
    classifier = by_model(result)["loop:checker"].cost_usd
    assert classifier is not None
    # each label equally likely: half a call of each labelled branch
    assert result.cost_usd.expected == pytest.approx(classifier.expected + (CHEAP + STRONG) / 2)
    assert by_model(result)["loop:strong"].calls.expected == pytest.approx(0.5)
    assert result.cost_usd.best < result.cost_usd.expected < result.cost_usd.worst


def test_a_typical_answer_length_from_history_makes_best_and_expected_cheaper_than_worst(tmp_path: Path) -> None:
    tokens = TokenEstimator(outputs={"loop:cheap": 20})
    result = estimate(write_profile(tmp_path, "strategy: cheap\n"), tmp_path, [Request.from_prompt(PROMPT_100)], tokens)
    (cheap,) = result.models
    assert (cheap.output_tokens.best, cheap.output_tokens.expected, cheap.output_tokens.worst) == (20, 20, 100)
    assert result.cost_usd.expected == pytest.approx((100 * 1 + 20 * 2) / 1e6)
    assert result.cost_usd.worst == pytest.approx(CHEAP)
    assert "best and expected: 20 tokens, the mean of its recent answers in the run log" in result.output_method


def test_max_cost_coverage_counts_rows_in_input_order(tmp_path: Path) -> None:
    rows = [Request.from_prompt(PROMPT_100)] * 10
    profile = write_profile(tmp_path, "strategy: {fallback: [cheap, strong]}\n")
    # per row: best/expected = cheap ($0.0003), worst = cheap then strong ($0.0033)
    result = estimate(profile, tmp_path, rows, run_cap=RunCap(0.01))
    assert result.max_cost is not None
    assert result.max_cost.rows_at_worst == 3  # 3 x 0.0033 = 0.0099
    assert result.max_cost.rows_expected == 10
    assert estimate(profile, tmp_path, rows, run_cap=RunCap(1.0)).max_cost.rows_at_worst == 10  # type: ignore[union-attr]


def test_rows_whose_worst_case_passes_the_per_request_budget_are_counted(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, "strategy: {fallback: [cheap, strong]}\nbudget: {per_request_usd: 0.001}\n")
    result = estimate(profile, tmp_path, [Request.from_prompt(PROMPT_100), Request.from_prompt("short")])
    assert result.request_budget_usd == 0.001
    assert result.rows_over_request_budget == 2  # strong alone may cost $0.003


def test_a_node_from_outside_mmo_estimates_itself_through_the_same_estimator(tmp_path: Path) -> None:
    from mmo.core.estimate import CostRange, sequence

    class TwiceNode:
        """A strategy a library user wrote: asks its child twice."""

        kind, label = "twice", "twice"

        def __init__(self, child: object) -> None:
            self.child = child

        def children(self) -> tuple[object, ...]:
            return (self.child,)

        def estimate(self, request: Request, est: object) -> CostRange:
            one = est.range(self.child, request)  # type: ignore[attr-defined]
            return sequence([one, one])

    engine = engine_for(write_profile(tmp_path, "strategy: cheap\n"), tmp_path)
    engine.root = TwiceNode(engine.root)  # type: ignore[assignment]
    result = estimate_with(engine, iter([Request.from_prompt(PROMPT_100)]))
    assert result.cost_usd.best == pytest.approx(2 * CHEAP)


def test_a_node_that_does_not_estimate_itself_is_counted_as_first_or_every_child_with_a_note(tmp_path: Path) -> None:
    class Opaque:
        kind, label = "opaque", "opaque"

        def __init__(self, *children: object) -> None:
            self._children = children

        def children(self) -> tuple[object, ...]:
            return self._children

    engine = engine_for(write_profile(tmp_path, "strategy: {fallback: [cheap, strong]}\n"), tmp_path)
    fallback = engine.root
    engine.root = Opaque(*fallback.children())  # type: ignore[assignment]
    result = estimate_with(engine, iter([Request.from_prompt(PROMPT_100)]))
    assert result.cost_usd.best == pytest.approx(CHEAP) and result.cost_usd.worst == pytest.approx(CHEAP + STRONG)
    assert any("no estimate from strategy kind 'opaque'" in note for note in result.notes)


def test_dry_run_prints_best_expected_and_worst_and_what_the_cap_covers(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mmo.cli.main import app

    profile = write_profile(tmp_path, "strategy: {fallback: [cheap, strong]}\n")
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(f'{{"prompt": "{PROMPT_100}"}}\n' for _ in range(10)))
    result = CliRunner().invoke(app, ["batch", str(data), "-P", profile, "--dry-run", "--max-cost", "0.01"])
    assert result.exit_code == 0, result.stderr
    total = next(line for line in result.stderr.splitlines() if line.startswith("total"))
    assert total.split()[-3:] == ["$0.003000", "$0.003000", "$0.0330"]  # best, expected, worst
    assert "at worst it stops the run after 3 of 10 rows" in result.stderr


def test_calls_that_would_not_fit_a_profiles_context_window_are_counted(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, "strategy: {fallback: [cheap, strong]}\n")
    text = Path(profile).read_text().replace('cheap: {model: "loop:cheap", price: {input: 1, output: 2}}', 'cheap: {model: "loop:cheap", price: {input: 1, output: 2}, context_window: 150}')
    Path(profile).write_text(text)
    result = estimate(profile, tmp_path, [Request.from_prompt(PROMPT_100), Request.from_prompt("short")])
    # 100 prompt + 100 max_tokens passes the 150-token window; "short" (2 + 100) fits
    assert any(note.startswith("1 call to loop:cheap would not fit its 150-token context window (profile)") for note in result.notes), result.notes
    assert not any("loop:strong" in note for note in result.notes)
