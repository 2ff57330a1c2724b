"""``mmo tune`` as a use case: every kind of strategy it simulates gives, run live through the run API
on the recorded answers, exactly the simulated answer and cost on every task; the choice never
depends on the test split; objectives and their margins; what cannot be tuned on is left out and
counted; the learned router's training (bench runs made from the bundled replay sample)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from mmo.app.bench.results import BenchDir, TaskResult, read_results, write_results
from mmo.app.bench.tune import TuneRequest, halves, tune
from mmo.app.bench.tune_data import TuneView, load_tune_set
from mmo.app.bench.tune_learn import train_router
from mmo.app.bench.tune_live import mismatches, run_live
from mmo.app.bench.tune_objective import Objective, as_accurate, choose
from mmo.app.bench.tune_profile import profile_data
from mmo.app.bench.tune_search import Candidate, search
from mmo.app.bench.tune_signals import Signals
from mmo.app.bench.tune_sim import Cascade, Figures, Learned, Routed, Single, per_task
from mmo.app.settings import AppEnv
from mmo.config.schema import Profile
from mmo.core.errors import ConfigError
from mmo.core.paths import MmoPaths
from tests.support.bench_fixture import build_bench, science_or_not


def env_in(tmp_path: Path) -> AppEnv:
    home = {"MMO_HOME": str(tmp_path / "home")}
    return AppEnv(home, tmp_path, MmoPaths.from_env(home), notice=lambda _: None)


def kind_of(candidate: Candidate) -> str:
    node = candidate.node
    if isinstance(node, Cascade) and not isinstance(node.tiers[-1], Single):
        return "nested cascade"
    if isinstance(node, Cascade) and len(node.tiers) == 3:
        return "three tiers"
    if isinstance(node, Cascade) and node.gate.agree is not None:
        return "cascade with agree"
    return candidate.kind


def with_confidence(task_id: str, model: str, text: str) -> str:
    """A confidence line on most answers (what `min_confidence` reads), higher for some models."""
    if task_id.endswith(("3", "7")):
        return text
    return f"{text}\nConfidence: {0.9 if 'gpt' in model or 'pro' in model else 0.4}"


@pytest.mark.parametrize("rewrite", [None, with_confidence], ids=["recorded", "with confidence lines"])
def test_every_kind_of_strategy_simulated_gives_exactly_the_live_answer_and_cost_on_every_task(tmp_path: Path, rewrite: Any) -> None:
    tune_set = load_tune_set(build_bench(tmp_path / "bench", rewrite=rewrite, category=science_or_not))
    fit, _ = halves(tune_set.train)
    found = search(fit)
    wanted = {"single", "cascade with agree", "nested cascade", "three tiers", "complexity router", "length router", "category router", "learned router", "learned gate"}
    picked: dict[str, Candidate] = {}
    for candidate in found:
        picked.setdefault(kind_of(candidate), candidate)
    picked["learned gate consulting"] = next(c for c in found if isinstance(c.node, Cascade) and c.node.gate.learned and c.node.gate.learned.consult)
    if rewrite is not None:  # the confidence gate removes the line every other gate then reads
        picked["confidence"] = next(c for c in found if isinstance(c.node, Cascade) and c.node.gate.cleans and c.node.gate.agree)
    assert wanted <= set(picked)
    env = env_in(tmp_path)
    for kind, candidate in picked.items():
        profile = Profile.model_validate(profile_data(candidate.node, tune_set, "t", description="", replay=None, base=None))
        for view in (tune_set.train, tune_set.test):
            live = asyncio.run(run_live(profile, view, env))
            simulated = per_task(view, candidate.node.outcome(view, Signals(view)))
            assert live.errors == 0 and mismatches(live, simulated) == [], kind
            assert [t.model for t in live.tasks] == [m for m, _ in simulated], kind
            assert live.figures.correct == sum(view.answers[m][n].correct for n, (m, _) in enumerate(simulated)), kind


def test_the_choice_never_depends_on_the_test_split(tmp_path: Path) -> None:
    """Every test-split answer rewritten (wrong, and of other lengths): the same strategy is chosen,
    with the same train figures; only the test figures change."""
    original = build_bench(tmp_path / "a")
    test_ids = {t.id for t in load_tune_set(original).test.tasks}

    def spoil(task_id: str, model: str, text: str) -> str:
        return f"I am not sure, maybe (A) or (B)? {text[::-1]}" if task_id in test_ids else text

    spoiled = build_bench(tmp_path / "b", rewrite=spoil)
    env = env_in(tmp_path)
    for objective in (Objective(), Objective("max-cost", 0.0005)):
        first = asyncio.run(tune(TuneRequest(str(original.root), objective=objective), env))
        second = asyncio.run(tune(TuneRequest(str(spoiled.root), objective=objective), env))
        assert first.profile["strategy"] == second.profile["strategy"]
        assert first.measured is not None and second.measured is not None
        assert first.measured.train == second.measured.train
        assert first.measured.test != second.measured.test


def test_the_objectives_choose_on_train_figures_with_a_margin_against_luck() -> None:
    def candidate(name: str, right: set[int], cost: float, kind: str = "cascade") -> Candidate:
        figures = Figures(100, len(right), cost)
        return Candidate(Single(name), kind, figures, figures, sum(1 << n for n in right))

    best = candidate("best", set(range(70)), 1.0, "single")
    lucky = candidate("lucky", set(range(65)) | set(range(70, 75)), 0.1)  # as many right, 5 won and 5 lost
    worse = candidate("worse", set(range(69)), 0.05)
    better = candidate("better", set(range(70)) | set(range(70, 80)), 0.2)  # 10 more, none lost
    cheap = candidate("cheap", set(range(50)), 0.01, "single")
    pool = [best, lucky, worse, better, cheap]
    assert not as_accurate(lucky.right, best.right) and not as_accurate(worse.right, best.right)
    assert choose(pool, Objective()).node == Single("better")  # the cheapest that surely matches the best single
    assert choose(pool, Objective("max-cost", 0.0015)).node == Single("lucky")  # most accurate within $0.0015 a task
    assert choose(pool, Objective("min-accuracy", 0.6)).node == Single("worse")  # 69 % less one standard error: still above 60 %
    with pytest.raises(ConfigError, match=r"no strategy costs at most \$1e-05 per task on train; the cheapest, cheap, costs \$0.000100"):
        choose(pool, Objective("max-cost", 0.00001))
    with pytest.raises(ConfigError, match=r"no strategy reaches 90.0% on train; the most accurate, better, reaches 80.0%"):
        choose(pool, Objective("min-accuracy", 0.9))
    baseline = (best.select, best.right)
    assert choose(pool, Objective("beat", profile="p"), baseline=baseline).node == Single("better")
    assert choose([best, lucky, worse, cheap], Objective("beat", profile="p"), baseline=baseline).node == Single("lucky")  # as accurate for less
    with pytest.raises(ConfigError, match="no strategy beats profile p"):
        choose([best, worse, cheap], Objective("beat", profile="p"), baseline=baseline)


def test_tasks_and_models_without_usable_answers_are_left_out_and_counted(tmp_path: Path) -> None:
    bench = build_bench(tmp_path / "bench", limit=60)
    rows = list(read_results(bench.results_path))
    flaky, broken = "replay:jamba-1.5-large", "replay:Mistral-7B-Instruct-v0.2"
    ids = sorted({r.task_id for r in rows})

    def spoil(result: TaskResult) -> TaskResult:
        if result.target == flaky and result.task_id in ids[:3]:
            return TaskResult(result.task_id, flaky, None, None, error_class="Timeout", error="timed out")
        if result.target == broken and result.task_id in ids[:40]:
            return TaskResult(result.task_id, broken, result.answer, result.correct, cost_usd=None)  # unknown cost
        return result

    write_results(bench.results_path, map(spoil, rows))
    tune_set = load_tune_set(bench)
    assert broken not in tune_set.labels and flaky in tune_set.labels
    assert tune_set.left_out == {"models with no usable answer to half of the tasks": 1, "tasks a tuned model has no answer, cost or verdict for": 3}
    assert tune_set.train.size + tune_set.test.size == 57


def test_models_named_that_the_bench_did_not_run_are_an_error_naming_what_it_ran(tmp_path: Path) -> None:
    bench = build_bench(tmp_path / "bench", limit=10, models=["gemini-1.5-flash-002", "gemini-1.5-pro-002"])
    with pytest.raises(ConfigError, match="--models: replay:gpt-4o not benchmarked in .*; it has replay:gemini-1.5-flash-002, replay:gemini-1.5-pro-002"):
        load_tune_set(bench, ["replay:gpt-4o"])


def test_too_few_tasks_to_fit_and_choose_is_an_error_saying_so(tmp_path: Path) -> None:
    tune_set = load_tune_set(build_bench(tmp_path / "bench", limit=30))
    with pytest.raises(ConfigError, match="tune needs at least 20 in each; bench more tasks"):
        halves(tune_set.train)


def test_the_learned_router_learns_which_branch_each_word_predicts_and_scores_out_of_fold() -> None:
    words = [frozenset({"alpha", "common"}) if n % 2 else frozenset({"beta", "common"}) for n in range(200)]
    first_right = [n % 2 == 1 for n in range(200)]  # branch 1 is right on "alpha" prompts
    second_right = [n % 2 == 0 for n in range(200)]
    training = train_router(words, [first_right, second_right], ["one", "two"], [0.001, 0.001])
    model = training.model
    assert model.choose("alpha and common").index == 0 and model.choose("beta, common").index == 1
    assert model.probabilities(frozenset({"alpha"}))[0] > 0.9 > 0.1 > model.probabilities(frozenset({"alpha"}))[1]
    # Out of fold, a word seen only in one prompt cannot be learnt from that prompt.
    unique = [frozenset({f"w{n}"}) for n in range(50)]
    lonely = train_router(unique, [[True] * 25 + [False] * 25, [False] * 25 + [True] * 25], ["one", "two"], [0.0, 0.0], min_count=1)
    assert all(abs(p[0] - 0.5) < 0.05 for p in lonely.out_of_fold)
    assert lonely.model.probabilities(frozenset({"w0"}))[0] > 0.5  # the final model, trained on every prompt, has seen it


def test_a_learned_router_is_scored_on_prompts_it_was_not_trained_on(tmp_path: Path) -> None:
    tune_set = load_tune_set(build_bench(tmp_path / "bench"))
    fit, _ = halves(tune_set.train)
    learned = [c for c in search(fit) if isinstance(c.node, Learned)]
    assert learned
    assert all(candidate.select.tasks == candidate.fitted.tasks == fit.size for candidate in learned)
    # Out of fold, not its in-sample figures (which flatter a router that has seen the prompts).
    assert any(candidate.select.correct < candidate.fitted.correct for candidate in learned)


def test_a_category_router_reads_the_category_from_the_request_metadata(tmp_path: Path) -> None:
    tune_set = load_tune_set(build_bench(tmp_path / "bench"))
    view: TuneView = tune_set.train
    flash, pro = Single("replay:gemini-1.5-flash-002"), Single("replay:gemini-1.5-pro-002")
    router = Routed((({"metadata": {"category": "law"}}, pro),), flash, "category router")
    outcome = router.outcome(view, Signals(view))
    law = {n for n, task in enumerate(view.tasks) if task.category == "law"}  # the recorded categories
    assert law and {n for n, (model, _) in enumerate(per_task(view, outcome)) if model == pro.model} == law
    assert router.spec({pro.model: "pro", flash.model: "flash"}) == {"rules": [{"when": {"metadata": {"category": "law"}}, "use": "pro"}], "default": "flash"}


def test_a_bench_run_is_found_by_id_latest_or_directory(tmp_path: Path) -> None:
    env = env_in(tmp_path)
    bench = build_bench(env.paths.data_dir / "bench" / "20261204-000000-sample", limit=120, paths=env.paths)
    for reference in ("latest", "20261204-000000-sample", str(bench.root), str(bench.results_path)):
        outcome = asyncio.run(tune(TuneRequest(reference, objective=Objective("frontier"), learned=False), env))
        assert outcome.tune_set.bench_id == "20261204-000000-sample"
    with pytest.raises(ConfigError, match="no bench run 'nope'"):
        asyncio.run(tune(TuneRequest("nope"), env))
    assert isinstance(bench, BenchDir)
