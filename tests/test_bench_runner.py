"""A bench target runs as a batch of the task set: a model against the base profile's providers,
a profile with its own strategy; its output lines come back as answers by task id, with what the
lockfile needs (the model that answered, where its price came from)."""

from __future__ import annotations

import asyncio
import gzip
import json
from importlib import resources
from pathlib import Path

import pytest

from mmo.app.bench.results import Target
from mmo.app.bench.runner import BenchPlan, batch_run_id, run_target, target_slug, task_row, write_inputs
from mmo.app.bench.tasks import Task
from mmo.app.settings import AppEnv, ProfileChoice, RunSettings
from mmo.core.paths import MmoPaths
from mmo.core.types import Message


def sample_tasks(count: int) -> list[Task]:
    raw = resources.files("mmo").joinpath("data/mmlu_pro_sample.jsonl.gz").read_bytes()
    rows = [json.loads(line) for line in gzip.decompress(raw).decode("utf-8").splitlines()[:count]]
    return [Task(id=r["id"], messages=(Message("user", r["prompt"]),), reference=r["reference"], category=r["category"]) for r in rows]


def env_in(tmp_path: Path) -> AppEnv:
    return AppEnv({"MMO_HOME": str(tmp_path / "home")}, tmp_path, MmoPaths.from_env({"MMO_HOME": str(tmp_path / "home")}), notice=lambda _: None)


def plan_for(tmp_path: Path, tasks: list[Task], *targets: Target, max_cost: float | None = None) -> BenchPlan:
    return BenchPlan(
        bench_id="b1",
        directory=tmp_path / "bench",
        tasks=tasks,
        targets=targets,
        settings=RunSettings(choice=ProfileChoice(profile="demo")),
        concurrency=4,
        max_cost_usd=max_cost,
        allow_unknown_prices=True,  # replay models have no list price; their recorded costs count once spent
    )


def test_a_model_and_a_profile_answer_every_task_with_their_recorded_answers(tmp_path: Path) -> None:
    tasks = sample_tasks(12)
    model, profile = Target("model", "pro"), Target("profile", "cascade-agree")
    plan = plan_for(tmp_path, tasks, model, profile)
    write_inputs(plan)
    env = env_in(tmp_path)
    by_model = asyncio.run(run_target(plan, model, env))
    by_profile = asyncio.run(run_target(plan, profile, env))

    recorded = {t["id"]: t["models"] for t in map(json.loads, gzip.decompress(resources.files("mmo").joinpath("data/mmlu_pro_sample.jsonl.gz").read_bytes()).decode().splitlines())}
    assert set(by_model.answers) == {t.id for t in tasks} == set(by_profile.answers)
    for task in tasks:
        answer = by_model.answers[task.id]
        pro = recorded[task.id]["gemini-1.5-pro-002"]
        assert answer.answer == pro["text"] and answer.model_id == "replay:gemini-1.5-pro-002"
        assert answer.cost_usd == pytest.approx(pro["cost_usd"]) and answer.price_source
        assert answer.error_class is None
    # The cascade's answers come from flash or pro, and cost at least flash's recording.
    for task in tasks:
        answer = by_profile.answers[task.id]
        assert answer.model_id in ("replay:gemini-1.5-flash-002", "replay:gemini-1.5-pro-002")
        assert answer.cost_usd >= recorded[task.id]["gemini-1.5-flash-002"]["cost_usd"] - 1e-12
        assert "flash" in answer.route


def test_a_second_run_of_a_finished_target_calls_nothing_and_reads_the_same_answers(tmp_path: Path) -> None:
    tasks = sample_tasks(5)
    target = Target("model", "flash")
    plan = plan_for(tmp_path, tasks, target)
    write_inputs(plan)
    env = env_in(tmp_path)
    first = asyncio.run(run_target(plan, target, env))
    again = asyncio.run(run_target(plan, target, env))
    assert again.answers == first.answers
    assert again.report.progress.finished_before == len(tasks) and again.report.progress.done == 0


def test_the_cap_left_by_earlier_targets_limits_a_target(tmp_path: Path) -> None:
    tasks = sample_tasks(20)
    target = Target("model", "gpt4o")
    plan = plan_for(tmp_path, tasks, target, max_cost=0.01)
    write_inputs(plan)
    run = asyncio.run(run_target(plan, target, env_in(tmp_path), spent_by_others=0.0099))
    assert run.report.stop is not None and run.report.stop.reason == "cost_cap"
    assert len(run.answers) < len(tasks)


def test_rows_carry_the_task_and_its_id_for_the_replay_provider() -> None:
    task = Task(id="x-1", messages=(Message("user", "hi"),), system="be brief", params={"temperature": 0.0}, tags=("a",))
    assert task_row(task) == {
        "id": "x-1",
        "messages": [{"role": "user", "content": "hi"}],
        "metadata": {"id": "x-1"},
        "system": "be brief",
        "params": {"temperature": 0.0},
        "tags": ["a"],
    }


def test_target_names_become_safe_file_and_run_names() -> None:
    target = Target("model", "replay:gpt-4o/../../etc")
    assert "/" not in target_slug(target) and ":" not in target_slug(target)
    assert batch_run_id("20261204-000000-x", target).startswith("bench-20261204-000000-x-model-replay_gpt-4o")
