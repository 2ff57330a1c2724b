"""The replay provider and the MMLU-Pro converter, on small synthetic files written here."""

from __future__ import annotations

import asyncio
import gzip
import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mmo.catalog.endpoints import ProviderSettings
from mmo.core.errors import BadRequest, ConfigError, ModelNotFound
from mmo.core.types import Completion, Cost, Request, Usage
from mmo.providers.replay import DEFAULT_LATENCY, LATENCY_MODELS, ReplayProvider

CONVERTER = Path(__file__).resolve().parents[1] / "benchmarks" / "convert_mmlu_pro.py"
FLASH = "gemini-1.5-flash-002"
GPT4O = "gpt-4o-2024-05-13"

TASKS: list[dict[str, Any]] = [
    {
        "id": "t-1",
        "prompt": "Question: What is 2+2?\nOptions:\nA. 3\nB. 4\nAnswer: Let's think step by step.",
        "reference": "B",
        "category": "math",
        "models": {
            FLASH: {"text": "Two and two make four. The answer is (B).", "input_tokens": 30, "output_tokens": 12, "cost_usd": 4.5e-06},
            GPT4O: {"text": "Adding gives 4. The answer is (B).", "input_tokens": 30, "output_tokens": 10, "cost_usd": 0.0003, "latency_ms": 900, "ttft_ms": 250},
        },
    },
    {
        "id": "t-2",
        "prompt": "Question: Capital of France?\nOptions:\nA. Paris\nB. Rome\nAnswer: Let's think step by step.",
        "reference": "A",
        "category": "geography",
        "models": {FLASH: {"text": "Paris. The answer is (A).", "input_tokens": 25, "output_tokens": 8}},
    },
    {"id": "t-3", "prompt": "Same words twice", "models": {FLASH: {"text": "one", "input_tokens": 1, "output_tokens": 1}}},
    {"id": "t-4", "prompt": "Same words twice", "models": {FLASH: {"text": "two", "input_tokens": 1, "output_tokens": 1}}},
]


def write_jsonl(path: Path, rows: list[dict[str, Any]], *, compress: bool = True) -> Path:
    data = "".join(json.dumps(row) + "\n" for row in rows).encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def provider(path: Path | str, **options: Any) -> ReplayProvider:
    settings = ProviderSettings("replay", "replay", needs_key=False, options={"path": str(path), **options})
    return ReplayProvider(settings)


@pytest.fixture
def replay(tmp_path: Path) -> ReplayProvider:
    return provider(write_jsonl(tmp_path / "tasks.jsonl.gz", TASKS))


def complete(p: ReplayProvider, request: Request, model: str) -> Completion:
    return asyncio.run(p.complete(request, model))


def test_finds_a_task_by_metadata_id_whatever_the_prompt(replay: ReplayProvider) -> None:
    answer = complete(replay, Request.from_prompt("anything", metadata={"id": "t-2"}), FLASH)
    assert answer.text == "Paris. The answer is (A)."
    assert answer.model_id == f"replay:{FLASH}"
    assert answer.finish_reason == "stop"


def test_finds_a_task_by_the_exact_last_user_message(replay: ReplayProvider) -> None:
    answer = complete(replay, Request.from_prompt(TASKS[0]["prompt"], system="be brief"), FLASH)
    assert answer.text == "Two and two make four. The answer is (B)."
    piped = complete(replay, Request.from_prompt(TASKS[0]["prompt"] + "\n"), FLASH)  # echo adds a newline
    assert piped.text == answer.text


def test_an_unknown_id_falls_back_to_the_prompt(replay: ReplayProvider) -> None:
    answer = complete(replay, Request.from_prompt(TASKS[1]["prompt"], metadata={"id": "row-7"}), FLASH)
    assert answer.text == "Paris. The answer is (A)."


def test_an_unknown_prompt_says_how_to_address_tasks(replay: ReplayProvider) -> None:
    with pytest.raises(BadRequest) as caught:
        complete(replay, Request.from_prompt("What is 2+2?"), FLASH)
    message = str(caught.value)
    assert "--meta id=" in message and "t-1, t-2" in message and "4 tasks" in message
    assert caught.value.provider == "replay" and caught.value.model == FLASH
    assert not caught.value.failover  # every replay target would reject it the same way


def test_an_unknown_id_and_prompt_names_the_id_tried(replay: ReplayProvider) -> None:
    with pytest.raises(BadRequest, match="no task with id 'nope'"):
        complete(replay, Request.from_prompt("?", metadata={"id": "nope"}), FLASH)


def test_a_prompt_recorded_twice_is_ambiguous_not_guessed(replay: ReplayProvider) -> None:
    with pytest.raises(BadRequest, match=r"several tasks \(t-3, t-4\)"):
        complete(replay, Request.from_prompt("Same words twice"), FLASH)
    assert complete(replay, Request.from_prompt("Same words twice", metadata={"id": "t-4"}), FLASH).text == "two"


def test_an_unknown_model_lists_the_models_of_the_file(replay: ReplayProvider) -> None:
    with pytest.raises(ModelNotFound) as caught:
        complete(replay, Request.from_prompt("x", metadata={"id": "t-1"}), "gpt-4o")
    assert f"it has: {FLASH}, {GPT4O}" in str(caught.value)
    assert f"Did you mean '{GPT4O}'" in str(caught.value)


def test_a_model_missing_from_one_task_names_that_task(replay: ReplayProvider) -> None:
    with pytest.raises(ModelNotFound, match=rf"task 't-2' has no recordings for model '{GPT4O}'; it has: {FLASH}\."):
        complete(replay, Request.from_prompt("x", metadata={"id": "t-2"}), GPT4O)


def test_recorded_tokens_and_cost_are_the_truth(replay: ReplayProvider) -> None:
    answer = complete(replay, Request.from_prompt("x", metadata={"id": "t-1"}), FLASH)
    assert answer.usage == Usage(input_tokens=30, output_tokens=12)
    assert answer.cost == Cost(4.5e-06, "recorded")
    unpriced = complete(replay, Request.from_prompt("x", metadata={"id": "t-2"}), FLASH)
    assert unpriced.cost.usd is None  # no recorded cost: unknown, never 0


def test_latency_is_simulated_and_flagged_when_not_recorded(replay: ReplayProvider) -> None:
    answer = complete(replay, Request.from_prompt("x", metadata={"id": "t-1"}), FLASH)
    shape = LATENCY_MODELS[FLASH]
    assert answer.latency_simulated is True
    assert answer.ttft_ms == shape.ttft_ms
    assert answer.latency_ms == pytest.approx(shape.ttft_ms + 12 / shape.tokens_per_second * 1000)


def test_recorded_latency_is_used_as_is(replay: ReplayProvider) -> None:
    answer = complete(replay, Request.from_prompt("x", metadata={"id": "t-1"}), GPT4O)
    assert (answer.latency_ms, answer.ttft_ms, answer.latency_simulated) == (900, 250, False)


def test_models_without_a_latency_model_get_the_default(tmp_path: Path) -> None:
    rows = [{"id": "q", "prompt": "p", "models": {"my-model": {"text": "t", "input_tokens": 1, "output_tokens": 30}}}]
    answer = complete(provider(write_jsonl(tmp_path / "own.jsonl", rows, compress=False)), Request.from_prompt("p"), "my-model")
    assert answer.latency_ms == pytest.approx(DEFAULT_LATENCY.total_ms(30))
    assert answer.latency_simulated


def test_streaming_reassembles_the_text_and_ends_with_the_completion(replay: ReplayProvider) -> None:
    request = Request.from_prompt("x", metadata={"id": "t-1"})

    async def collect() -> list[Any]:
        return [delta async for delta in replay.stream(request, FLASH)]

    deltas = asyncio.run(collect())
    text_deltas, final = deltas[:-1], deltas[-1]
    assert len(text_deltas) > 3 and all(d.final is None for d in text_deltas)
    assert "".join(d.text for d in text_deltas) == "Two and two make four. The answer is (B)."
    assert final.text == "" and final.final == complete(replay, request, FLASH)


def test_sleeping_replay_still_answers(tmp_path: Path) -> None:
    fast = provider(write_jsonl(tmp_path / "t.jsonl.gz", TASKS), sleep=True, speed=1e6)
    assert complete(fast, Request.from_prompt("x", metadata={"id": "t-1"}), FLASH).latency_simulated
    with pytest.raises(ConfigError, match="speed must be above 0"):
        provider(tmp_path / "t.jsonl.gz", speed=0)


def test_the_file_is_read_lazily_and_only_once(tmp_path: Path) -> None:
    path = tmp_path / "later.jsonl.gz"
    late = provider(path)  # no file yet: nothing is read at construction
    write_jsonl(path, TASKS)
    assert late.task_ids() == ["t-1", "t-2", "t-3", "t-4"]
    path.unlink()
    assert complete(late, Request.from_prompt("x", metadata={"id": "t-2"}), FLASH).text.startswith("Paris")


def test_missing_and_malformed_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read replay file"):
        provider(tmp_path / "missing.jsonl").task_ids()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(TASKS[0]) + "\n{not json\n")
    with pytest.raises(ConfigError, match=r"bad.jsonl:2: not valid JSON"):
        provider(bad).task_ids()
    bad.write_text(json.dumps(TASKS[0]) + "\n" + "[" * 100_000 + "]" * 100_000 + "\n")  # a RecursionError in json
    with pytest.raises(ConfigError, match=r"bad.jsonl:2: nested too deeply"):
        provider(bad).task_ids()
    with pytest.raises(ConfigError, match="unknown built-in replay file 'builtin:nope'"):
        provider("builtin:nope").task_ids()


def test_helpers_for_the_demo_and_identity(replay: ReplayProvider, tmp_path: Path) -> None:
    assert replay.prompt_for("t-2") == TASKS[1]["prompt"]
    with pytest.raises(BadRequest, match="no task with id 'zzz'"):
        replay.prompt_for("zzz")
    assert replay.identity() == {"kind": "replay", "path": str((tmp_path / "tasks.jsonl.gz").resolve()), "cacheable": False}


def test_the_builtin_sample_loads_from_the_package() -> None:
    sample = provider("builtin:mmlu_pro_sample")
    ids = sample.task_ids()
    assert len(ids) == 300 and len(set(ids)) == 300
    assert len(sample.models()) == 8
    categories = {task.category for task in sample.replay_file().tasks.values()}
    assert len(categories) == 14
    answer = complete(sample, Request.from_prompt(sample.prompt_for(ids[0])), GPT4O)
    assert answer.cost.source == "recorded" and answer.usage.output_tokens > 0
    assert sample.identity()["path"] == "builtin:mmlu_pro_sample"


# --- the converter ---------------------------------------------------------------------------


def load_converter() -> ModuleType:
    spec = importlib.util.spec_from_file_location("convert_mmlu_pro", CONVERTER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def source_row(qid: int, category: str, prompt: str | None = None, **models: tuple[str | None, bool]) -> dict[str, Any]:
    """A row shaped like mmlu_pro_routing.jsonl.gz; models map to (pred, format_ok)."""
    return {
        "id": f"mmlu_pro-{qid}", "question_id": qid, "task": f"mmlu_pro/{category}", "category": category,
        "src": "synthetic", "prompt": prompt or f"Question {qid}?\nOptions:\nA. x\nB. y\nAnswer: Let's think step by step.",
        "reference": "B",
        "models": {
            name: {"pred": pred, "correct": int(pred == "B"), "format_ok": ok, "output_chars": 40,
                   "input_tokens_est": 20 + qid, "output_tokens_est": 10, "cost_usd_est": 2.5e-06}
            for name, (pred, ok) in models.items()
        },
    }


def read_gz_jsonl(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


STRICT = re.compile(r"answer is \(?([A-J])\)?")  # the MMLU-Pro harness's first regex
FALLBACK = re.compile(r".*[aA]nswer:\s*([A-J])")  # its second
LAST_LETTER = re.compile(r"\b[A-J]\b(?!.*\b[A-J]\b)", re.DOTALL)  # its last resort


def test_converter_writes_the_texts_the_original_scorer_saw(tmp_path: Path) -> None:
    src = tmp_path / "src.jsonl.gz"
    row = source_row(7, "math", strict=("B", True), lenient=("C", False), none=(None, False))
    write_jsonl(src, [row])
    assert load_converter().main([str(src), str(tmp_path / "out.jsonl.gz")]) == 0
    [task] = read_gz_jsonl(tmp_path / "out.jsonl.gz")
    assert set(task) == {"id", "prompt", "reference", "category", "models"}
    assert (task["id"], task["reference"], task["category"]) == ("mmlu_pro-7", "B", "math")
    models = task["models"]
    assert models["strict"] == {
        "text": "(Recorded output text not available; the original run answered B.) The answer is (B).",
        "input_tokens": 27, "output_tokens": 10, "cost_usd": 2.5e-06,
    }
    assert models["lenient"]["text"] == (
        "(Recorded output text not available; the original output did not state its choice in the expected "
        "format; the evaluation harness's fallback parser read it from the text.) Answer: C"
    )
    assert models["none"]["text"] == (
        "(Recorded output text not available; the original output gave no choice that the evaluation harness could parse.)"
    )
    assert STRICT.search(models["strict"]["text"]).group(1) == "B"
    assert not STRICT.search(models["lenient"]["text"]) and FALLBACK.search(models["lenient"]["text"]).group(1) == "C"
    none_text = models["none"]["text"]
    assert not STRICT.search(none_text) and not FALLBACK.search(none_text) and not LAST_LETTER.search(none_text)


def test_converter_output_replays(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "src.jsonl", [source_row(1, "law", m=("A", True))], compress=False)
    load_converter().main([str(src), str(tmp_path / "out.jsonl.gz")])
    answer = complete(provider(tmp_path / "out.jsonl.gz"), Request.from_prompt("x", metadata={"id": "mmlu_pro-1"}), "m")
    assert answer.text.endswith("The answer is (A).") and answer.cost == Cost(2.5e-06, "recorded")


def test_converter_never_leaves_a_partial_file_over_a_good_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    converter = load_converter()
    out = tmp_path / "out.jsonl.gz"
    converter.main([str(write_jsonl(tmp_path / "good.jsonl", [source_row(1, "law", m=("A", True))])), str(out)])
    good = out.read_bytes()
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(source_row(2, "law", m=("B", True))) + "\n{truncated")
    assert converter.main([str(broken), str(out)]) == 1
    assert "broken.jsonl:2: not valid JSON" in capsys.readouterr().err
    assert out.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.jsonl", "good.jsonl", "out.jsonl.gz"]


def test_converter_sample_is_stratified_deterministic_and_unambiguous(tmp_path: Path) -> None:
    rows = [source_row(i, ["math", "law", "history"][i % 3], m=("B", True)) for i in range(60)]
    rows += [source_row(100, "math", prompt="twin", m=("A", True)), source_row(101, "math", prompt="twin", m=("B", True))]
    src = write_jsonl(tmp_path / "src.jsonl.gz", rows)
    converter = load_converter()
    for name in ("a", "b"):
        assert converter.main([str(src), str(tmp_path / f"{name}.jsonl.gz"), "--sample", "9", "--seed", "3"]) == 0
    assert (tmp_path / "a.jsonl.gz").read_bytes() == (tmp_path / "b.jsonl.gz").read_bytes()
    sample = read_gz_jsonl(tmp_path / "a.jsonl.gz")
    assert sorted(t["category"] for t in sample) == ["history"] * 3 + ["law"] * 3 + ["math"] * 3
    assert "twin" not in {t["prompt"] for t in sample}
    ids = [int(t["id"].split("-")[1]) for t in sample]
    assert ids == sorted(ids)  # source order is kept
    assert converter.main([str(src), str(tmp_path / "c.jsonl.gz"), "--sample", "9", "--seed", "4"]) == 0
    assert read_gz_jsonl(tmp_path / "c.jsonl.gz") != sample
