"""``run_bench`` end to end on the bundled replay sample: models and a profile answer every task,
each answer is scored by its check and stored with the run's metadata, tasks and lockfile; a
bench stopped by its cost cap keeps what it paid for and ``--resume`` finishes it without asking
again what was answered."""

from __future__ import annotations

import asyncio
import gzip
import json
from importlib import resources
from pathlib import Path

import pytest

from mmo.app.bench.bench import BenchRequest, run_bench
from mmo.app.bench.results import read_results
from mmo.app.bench.store import find_bench, read_info, read_lock
from mmo.app.bench.tasks import task_from_json
from mmo.app.settings import AppEnv, ProfileChoice, RunSettings
from mmo.core.errors import ConfigError
from mmo.core.paths import MmoPaths
from mmo.strategies.extract import extract

SAMPLE = [json.loads(line) for line in gzip.decompress(resources.files("mmo").joinpath("data/mmlu_pro_sample.jsonl.gz").read_bytes()).decode().splitlines()]


def write_tasks(path: Path, count: int) -> list[dict]:
    rows = SAMPLE[:count]
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps({"defaults": {"check": "choice"}}) + "\n")
        for row in rows:
            out.write(json.dumps({"id": row["id"], "prompt": row["prompt"], "reference": row["reference"], "category": row["category"]}) + "\n")
    return rows


def env_in(tmp_path: Path) -> AppEnv:
    environ = {"MMO_HOME": str(tmp_path / "home")}
    return AppEnv(environ, tmp_path, MmoPaths.from_env(environ), notice=lambda _: None)


def request(tasks: Path, **extra: object) -> BenchRequest:
    base = {"models": ("flash", "pro"), "profiles": ("cascade-agree",), "settings": RunSettings(choice=ProfileChoice(profile="demo")), "concurrency": 4}
    return BenchRequest(tasks=str(tasks), **{**base, **extra})  # type: ignore[arg-type]


def test_every_target_answers_every_task_and_each_answer_is_scored_and_stored(tmp_path: Path) -> None:
    rows = write_tasks(tmp_path / "tasks.jsonl", 10)
    env = env_in(tmp_path)
    outcome = asyncio.run(run_bench(request(tmp_path / "tasks.jsonl"), env))
    assert outcome.stop is None and outcome.pending == 0 and not outcome.not_run

    bench = find_bench("latest", env.paths, tmp_path)
    assert bench.root == outcome.bench.root
    stored = list(read_results(bench.results_path))
    assert len(stored) == 30 and {r.target for r in stored} == {"flash", "pro", "profile:cascade-agree"}
    by_id = {row["id"]: row for row in rows}
    for result in stored:
        expected = extract(result.answer or "", "choice") == by_id[result.task_id]["reference"]
        assert result.correct is expected and result.cost_usd is not None and result.cost_usd > 0
    pro = [r for r in stored if r.target == "pro"]
    assert all(r.model_id == "replay:gemini-1.5-pro-002" and r.answer == by_id[r.task_id]["models"]["gemini-1.5-pro-002"]["text"] for r in pro)

    info = read_info(bench)
    assert info.task_count == 10 and [t.label for t in info.targets] == ["flash", "pro", "profile:cascade-agree"]
    tasks = [task_from_json(json.loads(line)) for line in bench.tasks_path.read_text().splitlines()]
    assert [t.id for t in tasks] == [row["id"] for row in rows] and tasks[0].category == rows[0]["category"]
    lock = read_lock(bench)
    assert lock["tasks_sha256"] == info.tasks_sha256
    assert lock["models"]["pro"]["resolved"] == ["gemini-1.5-pro-002"] and lock["models"]["pro"]["price_source"]
    assert len(lock["profiles"]["cascade-agree"]) == 64


def test_a_bench_stopped_by_its_cap_keeps_its_answers_and_resume_finishes_it_without_asking_again(tmp_path: Path) -> None:
    write_tasks(tmp_path / "tasks.jsonl", 20)
    env = env_in(tmp_path)
    first = asyncio.run(run_bench(request(tmp_path / "tasks.jsonl", models=("flash", "gpt4o"), profiles=(), max_cost_usd=0.01, allow_unknown_prices=True), env))
    assert first.stop is not None and first.stop.reason == "cost_cap"
    answered_before = {(r.target, r.task_id) for r in first.results}
    assert ("flash", SAMPLE[0]["id"]) in answered_before and len(answered_before) < 40

    again = asyncio.run(run_bench(request(tmp_path / "tasks.jsonl", models=("flash", "gpt4o"), profiles=(), resume=first.info.bench_id), env))
    assert again.stop is None and again.pending == 0 and len(again.results) == 40
    assert again.bench.root == first.bench.root
    flash_run = again.runs[0].report.progress
    assert flash_run.done == 0 and flash_run.finished_before == 20  # nothing asked twice
    assert {(r.target, r.task_id) for r in again.results} >= answered_before


def test_resume_refuses_other_targets_and_an_existing_output_dir(tmp_path: Path) -> None:
    write_tasks(tmp_path / "tasks.jsonl", 3)
    env = env_in(tmp_path)
    done = asyncio.run(run_bench(request(tmp_path / "tasks.jsonl", profiles=(), output_dir="kept"), env))
    assert done.bench.root == tmp_path / "kept"
    with pytest.raises(ConfigError, match="other tasks or targets"):
        asyncio.run(run_bench(request(tmp_path / "tasks.jsonl", models=("flash",), profiles=(), resume=str(tmp_path / "kept")), env))
    with pytest.raises(ConfigError, match="already holds a bench run"):
        asyncio.run(run_bench(request(tmp_path / "tasks.jsonl", profiles=(), output_dir="kept"), env))


def test_naming_nothing_or_a_target_twice_is_a_usage_error(tmp_path: Path) -> None:
    write_tasks(tmp_path / "tasks.jsonl", 1)
    with pytest.raises(ConfigError, match="nothing to bench"):
        asyncio.run(run_bench(request(tmp_path / "tasks.jsonl", models=(), profiles=()), env_in(tmp_path)))
    with pytest.raises(ConfigError, match="named twice"):
        asyncio.run(run_bench(request(tmp_path / "tasks.jsonl", models=("flash", "flash"), profiles=()), env_in(tmp_path)))


JUDGED_PROFILE = """\
providers:
  lab: {base_url: "http://127.0.0.1:9/v1", key: none}   # replaced by a scripted fake
models:
  grader: {model: "lab:grader", price: {input: 1, output: 2}}
  answerer: {model: "lab:answerer", price: {input: 1, output: 2}}
strategy: answerer
"""


def judged_bench(tmp_path: Path, tasks: int, **extra: object) -> tuple[object, object]:
    from mmo.core.types import Usage
    from mmo.providers.fake import FakeProvider, FakeReply

    (tmp_path / "lab.yaml").write_text(JUDGED_PROFILE)
    path = tmp_path / "judged.jsonl"
    check = {"kind": "judge", "model": "grader", "rubric": "Is the city right?"}
    path.write_text("".join(json.dumps({"id": f"q{i}", "prompt": f"Capital number {i}?", "reference": "Paris", "check": check}) + "\n" for i in range(tasks)))
    fake = (
        FakeProvider("lab")
        .script("answerer", default=FakeReply("Paris.", usage=Usage(1000, 100)))
        .script("grader", default=FakeReply("It names Paris.\nScore: 9", usage=Usage(2000, 50)))
    )
    settings = RunSettings(choice=ProfileChoice(profile=str(tmp_path / "lab.yaml")), params={"max_tokens": 100}, read_cache=False, write_cache=False)
    bench = BenchRequest(tasks=str(path), models=("answerer",), settings=settings, concurrency=2, **extra)  # type: ignore[arg-type]
    return asyncio.run(run_bench(bench, env_in(tmp_path), providers={"lab": fake})), fake


def test_a_judge_check_scores_through_its_model_and_its_cost_is_kept_apart(tmp_path: Path) -> None:
    outcome, fake = judged_bench(tmp_path, 3)
    results = outcome.results  # type: ignore[attr-defined]
    assert len(results) == 3 and all(r.correct is True and r.score == pytest.approx(0.9) for r in results)
    assert all(r.cost_usd == pytest.approx((1000 * 1 + 100 * 2) / 1e6) for r in results)  # the answer's own cost
    assert all(r.judge_cost_usd == pytest.approx((2000 * 1 + 50 * 2) / 1e6) for r in results)  # the judge's, apart
    assert len(fake.calls_to("grader")) == 3  # type: ignore[attr-defined]


def test_the_cost_cap_holds_the_judges_too_and_keeps_the_answers_it_paid_for(tmp_path: Path) -> None:
    # Three answers cost $0.0036; three judgements would cost $0.0063 more: a $0.006 cap stops them.
    outcome, fake = judged_bench(tmp_path, 3, max_cost_usd=0.006)
    results = outcome.results  # type: ignore[attr-defined]
    assert len(results) == 3 and all(r.answer == "Paris." for r in results)
    judged = [r for r in results if r.correct is not None]
    assert len(judged) == len(fake.calls_to("grader")) < 3  # type: ignore[attr-defined]
    assert sum(r.cost_usd + (r.judge_cost_usd or 0) for r in results) <= 0.006 + 1e-9
    assert all(r.error and "not judged" in r.error for r in results if r.correct is None)


def test_an_unknown_model_or_profile_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    write_tasks(tmp_path / "tasks.jsonl", 2)
    env = env_in(tmp_path)
    with pytest.raises(ConfigError, match="nosuch"):
        asyncio.run(run_bench(request(tmp_path / "tasks.jsonl", models=("flash", "nosuch"), profiles=()), env))
    with pytest.raises(ConfigError, match="nosuchprofile"):
        asyncio.run(run_bench(request(tmp_path / "tasks.jsonl", models=("flash",), profiles=("nosuchprofile",)), env))
    assert not (env.paths.data_dir / "bench").exists()  # no empty run left in the store
