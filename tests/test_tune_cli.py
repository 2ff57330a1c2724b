"""``mmo tune`` as a user meets it: a bench run in, a profile out that ``mmo ask --profile`` and
``mmo batch -P`` use, giving on every task exactly the answer and cost the tune simulated (the
bundled replay sample, through the real replay provider); no profile replaced without --force;
contradictory flags and a missing bench run are usage errors that say what to do."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mmo.app.bench.tune import TuneRequest, halves, tune
from mmo.app.bench.tune_data import TuneSet, load_tune_set
from mmo.app.bench.tune_objective import Objective
from mmo.app.bench.tune_profile import profile_data, write_profile
from mmo.app.bench.tune_search import search
from mmo.app.bench.tune_signals import Signals
from mmo.app.bench.tune_sim import Learned, Routed, SimNode, per_task
from mmo.app.settings import AppEnv
from mmo.cli.main import app
from mmo.core.paths import MmoPaths
from tests.support.bench_fixture import build_bench, science_or_not

BENCH_ID = "20261204-000000-sample"


def mmo(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def env() -> AppEnv:
    return AppEnv(dict(os.environ), Path.cwd(), MmoPaths.from_env(), notice=lambda _: None)


@pytest.fixture
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TuneSet:
    """The replay sample benched as the store's latest run, its categories in two groups."""
    monkeypatch.chdir(tmp_path)
    paths = MmoPaths.from_env()
    built = build_bench(paths.data_dir / "bench" / BENCH_ID, category=science_or_not, paths=paths)
    return load_tune_set(built)


def write_rows(path: Path, tune_set: TuneSet) -> list[str]:
    """Every task of the run as a batch row, with its id and category in the metadata."""
    ids = []
    with path.open("w", encoding="utf-8") as out:
        for task in (*tune_set.train.tasks, *tune_set.test.tasks):
            metadata = {"id": task.id, "category": task.category}
            out.write(json.dumps({"id": task.id, "prompt": task.request.last_user_text(), "metadata": metadata}) + "\n")
            ids.append(task.id)
    return ids


def simulated(tune_set: TuneSet, node: SimNode) -> dict[str, tuple[str | None, float]]:
    out = {}
    for view in (tune_set.train, tune_set.test):
        for task, result in zip(view.tasks, per_task(view, node.outcome(view, Signals(view))), strict=True):
            out[task.id] = result
    return out


def inlined(node: Any, directory: Path) -> Any:
    """A written strategy with each learned gate's model file (beside the profile) read back inline."""
    if isinstance(node, list):
        return [inlined(item, directory) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: inlined(value, directory) for key, value in node.items()}
    if isinstance(out.get("learned"), dict) and isinstance(out["learned"].get("model"), str):
        out["learned"] = {**out["learned"], "model": json.loads((directory / out["learned"]["model"]).read_text())}
    return out


def assert_batch_matches(profile: str, tune_set: TuneSet, node: SimNode, tmp_path: Path) -> None:
    rows = tmp_path / f"rows-{Path(profile).stem}.jsonl"
    write_rows(rows, tune_set)
    result = mmo("batch", str(rows), "-P", profile, "--no-cache")
    assert result.exit_code == 0, result.output
    expected = simulated(tune_set, node)
    lines = [json.loads(line) for line in rows.with_name(rows.stem + ".out.jsonl").read_text().splitlines()]
    assert len(lines) == len(expected) == 300
    for line in lines:
        model, cost = expected[line["id"]]
        assert line["status"] == "done" and line["model"] == model
        assert line["cost_usd"] == pytest.approx(cost, rel=1e-12, abs=1e-15)


def test_tune_writes_a_profile_that_ask_and_batch_use_with_the_simulated_answers_and_costs(bench: TuneSet, tmp_path: Path) -> None:
    result = mmo("tune", "--name", "tuned", "--max-cost", "0.0006")
    assert result.exit_code == 0, result.output
    written = MmoPaths.from_env().profiles_dir / "tuned.yaml"
    text = written.read_text()
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert header[0].startswith("# Tuned by `mmo tune` on ") and f"from bench run {BENCH_ID} (data sha256 {bench.data_sha256[:16]})" in header[0]
    assert "train = tasks whose int(sha256(id), 16) is even (154), test = the others (146); chosen on train only" in header[1]
    assert "# Objective: the highest accuracy at no more than $0.0006 per task." in header
    assert any(line.startswith("# Train: ") for line in header) and any(line.startswith("# Test:  ") for line in header)
    assert "wrote " in result.output and "mmo ask --profile tuned" in result.output
    assert mmo("profiles", "validate", "tuned").exit_code == 0

    # The same tune, as a use case, to know the strategy it chose and what it simulated.
    outcome = asyncio.run(tune(TuneRequest(objective=Objective("max-cost", 0.0006)), env()))
    assert outcome.chosen is not None and outcome.profile["strategy"] == inlined(__import__("yaml").safe_load(text)["strategy"], written.parent)
    assert_batch_matches("tuned", bench, outcome.chosen.node, tmp_path)

    task = bench.test.tasks[0]
    asked = mmo("ask", "--profile", "tuned", "--meta", f"id={task.id}", "--meta", f"category={task.category}", "--json", task.request.last_user_text())
    assert asked.exit_code == 0, asked.output
    model, cost = simulated(bench, outcome.chosen.node)[task.id]
    answer = json.loads(asked.output)
    assert answer["completion"]["model_id"] == model and answer["cost_usd"] == pytest.approx(cost)


@pytest.mark.parametrize("kind", [Routed, Learned], ids=["category router", "learned router"])
def test_a_router_profile_runs_in_batch_as_simulated(bench: TuneSet, tmp_path: Path, kind: type) -> None:
    """A category router (reading the rows' metadata) and a learned router (its model in JSON
    beside the profile), written as tune writes them, run by ``mmo batch``."""
    fit, _ = halves(bench.train)
    node = next(c.node for c in search(fit) if isinstance(c.node, kind) and (kind is not Routed or c.kind == "category router"))
    path = tmp_path / "profiles" / "routed.yaml"
    written = write_profile(path, profile_data(node, bench, "routed", description="", replay=None, base=None), ["test"], force=False)
    assert (written.router is not None) == (kind is Learned)
    if written.router is not None:
        assert json.loads(written.router.read_text())["format"] == "mmo-learned-router"
        assert "learned_router: routed.router.json" in path.read_text()
    assert_batch_matches(str(path), bench, node, tmp_path)


def test_an_existing_profile_is_replaced_only_with_force(bench: TuneSet) -> None:
    assert mmo("tune", "--name", "mine", "--no-learned").exit_code == 0
    path = MmoPaths.from_env().profiles_dir / "mine.yaml"
    path.write_text("# my own edits\n" + path.read_text())
    again = mmo("tune", "--name", "mine", "--no-learned")
    assert again.exit_code == 2
    assert f"{path} already exists: choose another --name, or pass --force to replace it" in again.output
    assert path.read_text().startswith("# my own edits")
    forced = mmo("tune", "--name", "mine", "--no-learned", "--force")
    assert forced.exit_code == 0, forced.output
    assert path.read_text().startswith("# Tuned by `mmo tune`")


def test_output_file_json_and_frontier(bench: TuneSet, tmp_path: Path) -> None:
    result = mmo("tune", "-o", "out/t.yaml", "--min-accuracy", "60", "--json", "--no-learned")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["bench"] == BENCH_ID and data["tasks"] == {"train": 154, "test": 146}
    assert data["chosen"]["train"]["tasks"] == 154 and data["chosen"]["test"]["tasks"] == 146
    assert data["simulation_differs"] == {"train": 0, "test": 0}
    assert Path(data["written"]["profile"]) == tmp_path / "out" / "t.yaml" and (tmp_path / "out" / "t.yaml").is_file()
    listed = mmo("tune", "--frontier", "--no-learned")
    assert listed.exit_code == 0, listed.output
    assert "the cost/accuracy frontier on the 87 train tasks that choose" in " ".join(listed.output.split()) and "wrote" not in listed.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-cost", "0.001", "--min-accuracy", "70"], "--max-cost and --min-accuracy ask for different things: give one objective"),
        (["--frontier", "--name", "x"], "--frontier chooses nothing to write"),
        (["--name", "x", "-o", "x.yaml"], "--name and -o both say where to write the profile: give one"),
        (["--name", "../evil"], "--name '../evil': a profile name is letters, digits"),
        (["-o", "x.txt"], "-o x.txt: a profile file ends in .yaml"),
        (["--min-accuracy", "120"], "is a percentage: at most 100"),
        (["--max-cost", "nan"], "must be a finite number above 0"),
        (["--beat", "demo"], "--beat demo: it calls replay:gemini-1.5-flash-002, replay:gemini-1.5-pro-002, which the bench run did not answer with"),
    ],
)
def test_contradictory_or_bad_flags_are_usage_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    paths = MmoPaths.from_env()
    build_bench(paths.data_dir / "bench" / BENCH_ID, models=["gpt-4o-2024-05-13", "Llama-3.1-8B-Instruct"], paths=paths)
    result = mmo("tune", *args, "--no-learned")
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_no_bench_run_yet_says_how_to_make_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = mmo("tune")
    assert result.exit_code == 2
    assert "no bench run yet" in result.output and "mmo bench TASKS --models" in result.output


def test_beat_finds_a_strategy_that_beats_a_profile_on_train_or_says_none_does(bench: TuneSet, tmp_path: Path) -> None:
    (tmp_path / "gpt4o.yaml").write_text(
        'providers: {replay: {kind: replay, path: "builtin:mmlu_pro_sample", key: none}}\nmodels: {gpt4o: replay:gpt-4o-2024-05-13}\nstrategy: gpt4o\n'
    )
    result = mmo("tune", "--beat", "gpt4o.yaml", "--json", "--no-learned")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    profile = next(b for b in data["baselines"] if b["name"] == "Profile gpt4o.yaml")
    assert data["chosen"]["selected"]["correct"] >= 0 and data["chosen"]["train"]["cost_usd"] < profile["train"]["cost_usd"]
    # The demo's flash answers right on 72 % of the train tasks it is compared on, at a price nothing beats.
    none = mmo("tune", "--beat", "demo", "--no-learned")
    assert none.exit_code == 2
    assert "no strategy beats profile demo on train (72.4% at $0.000042 per task) by more than chance" in " ".join(none.output.split())


@pytest.mark.parametrize(
    ("file", "line", "message"),
    [
        ("results.jsonl", '{"task_id": "x", "target": "replay:m", "answer": "A", "correct": true, "cost_usd": "free"}', "results.jsonl:2: not a stored result (TypeError: cost_usd is 'free', not a finite number)"),
        ("results.jsonl", '{"task_id": "x", "target": "replay:m", "answer": 5, "correct": true}', "results.jsonl:2: not a stored result (TypeError: answer is 5)"),
        ("results.jsonl", '{"task_id": "x", "target": ' + "[" * 50_000, "results.jsonl:2: not a stored result"),
        ("tasks.jsonl", "not json", "tasks.jsonl:2: not JSON"),
        ("tasks.jsonl", '{"id": "q", "prompt": "a task set line, not a stored task"}', "tasks.jsonl:2: not a task as mmo bench stores it (KeyError"),
        ("tasks.jsonl", '{"id": "q", "messages": [{"role": "robot", "content": "hi"}]}', "tasks.jsonl:2: not a stored task (each message needs a role"),
        ("tasks.jsonl", '["a list"]', "tasks.jsonl:2: not a stored task (a JSON object)"),
    ],
)
def test_a_damaged_bench_file_is_a_usage_error_naming_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, file: str, line: str, message: str) -> None:
    monkeypatch.chdir(tmp_path)
    paths = MmoPaths.from_env()
    bench = build_bench(paths.data_dir / "bench" / BENCH_ID, limit=100, paths=paths)
    path = bench.root / file
    first = path.read_text().splitlines()[0]
    path.write_text(first + "\n" + line + "\n" + path.read_text().split("\n", 1)[1])
    result = mmo("tune", "--no-learned")
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_the_same_bench_run_gives_the_same_choice_in_every_process(bench: TuneSet, tmp_path: Path) -> None:
    """Python orders sets of words differently in each process (PYTHONHASHSEED): the learned
    router's training and the search must not."""
    import subprocess
    import sys

    chosen = []
    for seed in ("1", "2"):
        environ = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-m", "mmo", "tune", "--max-cost", "0.0004", "--json"], capture_output=True, text=True, env=environ, check=False)
        assert done.returncode == 0, done.stderr
        data = json.loads(done.stdout)
        chosen.append((data["chosen"], data["frontier"]))
    assert chosen[0] == chosen[1]


def test_a_bench_file_that_is_a_fifo_is_refused_instead_of_waited_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    paths = MmoPaths.from_env()
    bench = build_bench(paths.data_dir / "bench" / BENCH_ID, limit=100, paths=paths)
    bench.results_path.unlink()
    os.mkfifo(bench.results_path)  # nothing ever writes to it: reading it would block forever
    result = mmo("tune", "--no-learned")
    assert result.exit_code == 2
    assert f"{bench.results_path}: not a regular file" in " ".join(result.output.split())


def test_a_profile_that_cannot_be_written_is_a_usage_error_naming_where(bench: TuneSet, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file, not a directory\n")
    result = mmo("tune", "-o", "taken/tuned.yaml", "--no-learned")
    assert result.exit_code == 2, result.output
    assert f"cannot write the profile {tmp_path / 'taken' / 'tuned.yaml'}" in " ".join(result.output.split())


def test_replay_data_names_what_the_written_profiles_replay_provider_reads(bench: TuneSet) -> None:
    import yaml

    assert mmo("tune", "--name", "full", "--replay-data", "mmlu_pro", "--no-learned").exit_code == 0
    written = yaml.safe_load((MmoPaths.from_env().profiles_dir / "full.yaml").read_text())
    assert written["providers"]["replay"] == {"kind": "replay", "path": "builtin:mmlu_pro", "key": "none"}
    unknown = mmo("tune", "--name", "x", "--replay-data", "mmlu_pr", "--no-learned")
    assert unknown.exit_code == 2 and "unknown replay data 'mmlu_pr'" in unknown.output and "Did you mean 'mmlu_pro'?" in unknown.output


def test_the_written_replay_provider_reads_the_data_the_bench_answered_from(bench: TuneSet) -> None:
    """A bench of the full set's tasks against the demo profile (whose replay provider names the
    sample, `--replay-data mmlu_pro` overriding it): the tuned profile reads the full set, keeping
    the rest of the demo's declaration."""
    import yaml

    info_path = bench.bench.info_path
    info = json.loads(info_path.read_text())
    info["tasks_path"], info["notes"]["base_profile"] = "builtin:mmlu_pro", "demo"
    info_path.write_text(json.dumps(info))
    assert mmo("tune", "--name", "full", "--no-learned").exit_code == 0
    written = yaml.safe_load((MmoPaths.from_env().profiles_dir / "full.yaml").read_text())
    assert written["providers"] == {"replay": {"kind": "replay", "path": "builtin:mmlu_pro", "key": "none"}}
    task = bench.test.tasks[0]
    assert mmo("ask", "--profile", "full", "--meta", f"id={task.id}", task.request.last_user_text()).exit_code == 0
