"""The replay provider and the MMLU-Pro converter, on small synthetic files written here."""

from __future__ import annotations

import asyncio
import gzip
import importlib.util
import json
import re
from dataclasses import dataclass
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


def test_a_damaged_gzip_or_a_non_utf8_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    whole = gzip.compress("".join(json.dumps(task) + "\n" for task in TASKS * 50).encode())
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(whole[: len(whole) // 2])  # a download that stopped half-way
    with pytest.raises(ConfigError, match=r"cut.jsonl.gz: damaged gzip data after line \d+"):
        provider(cut).task_ids()
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(json.dumps(TASKS[0]).encode() + b"\n" + json.dumps(TASKS[1]).replace("Paris", "P\u00e2ris").encode("latin-1") + b"\n")
    with pytest.raises(ConfigError, match=r"latin.jsonl:2: not UTF-8 text \(byte 0xe2 at offset \d+ of the line\)"):
        provider(latin).task_ids()


def test_a_file_is_parsed_once_per_process_and_again_when_it_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_jsonl(tmp_path / "shared.jsonl.gz", TASKS)
    monkeypatch.chdir(tmp_path)
    first, second = provider(path), provider("shared.jsonl.gz")  # two spellings of one file
    assert first.replay_file() is second.replay_file()
    write_jsonl(path, TASKS[:2])
    assert provider(path).task_ids() == ["t-1", "t-2"]  # the new version, not the parse kept
    assert first.task_ids() == ["t-1", "t-2", "t-3", "t-4"]  # a provider keeps what it read
    assert provider("builtin:mmlu_pro_sample").replay_file() is provider("builtin:mmlu_pro_sample").replay_file()


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


Recorded = tuple[str, "str | None", bool]  # one model's (output text, pred, format_ok)


@dataclass(frozen=True)
class Question:
    """A question of the source data set and its models' recorded outputs."""

    qid: int
    category: str
    models: dict[str, Recorded]
    prompt: str | None = None

    @property
    def id(self) -> str:
        return f"mmlu_pro-{self.qid}"

    def row(self) -> dict[str, Any]:
        """The question as a row of mmlu_pro_routing.jsonl.gz."""
        return {
            "id": self.id, "question_id": self.qid, "task": f"mmlu_pro/{self.category}", "category": self.category,
            "src": "synthetic", "prompt": self.prompt or f"Question {self.qid}?\nOptions:\nA. x\nB. y\nAnswer: Let's think step by step.",
            "reference": "B",
            "models": {
                name: {"pred": pred, "correct": int(pred == "B"), "format_ok": ok, "output_chars": len(text),
                       "input_tokens_est": 20 + self.qid, "output_tokens_est": 10, "cost_usd_est": 2.5e-06}
                for name, (text, pred, ok) in self.models.items()
            },
        }


def question(qid: int, category: str, prompt: str | None = None, **models: Recorded) -> Question:
    return Question(qid, category, models, prompt)


def write_source(directory: Path, questions: list[Question], texts: dict[str, list[str]] | None = None, *, compress: bool = True) -> Path:
    """The source file and, in ``outputs/`` beside it, one text file per model (``texts`` replaces
    a model's texts; by default they are the questions' own)."""
    directory.mkdir(parents=True, exist_ok=True)
    src = write_jsonl(directory / ("src.jsonl.gz" if compress else "src.jsonl"), [q.row() for q in questions], compress=compress)
    by_model = {name: [q.models[name][0] for q in questions] for name in questions[0].models}
    by_model.update(texts or {})
    (directory / "outputs").mkdir(exist_ok=True)
    for name, model_texts in by_model.items():
        write_jsonl(directory / "outputs" / f"{name}.jsonl.gz", [{"id": q.id, "text": t} for q, t in zip(questions, model_texts, strict=False)])  # texts may be short on purpose
    return src


def read_gz_jsonl(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


STRICT_TEXT = " Four legs, so dogs. The answer is (B).\n\n"
LENIENT_TEXT = "**Reasoning:** both fit.\nAnswer: C"
NO_LETTER_TEXT = " The total is the sum of the negative of the negative of the"


def test_converter_writes_the_real_texts_and_the_recorded_fields(tmp_path: Path) -> None:
    src = write_source(tmp_path, [question(7, "math", strict=(STRICT_TEXT, "B", True), lenient=(LENIENT_TEXT, "C", False), none=(NO_LETTER_TEXT, None, False))])
    assert load_converter().main([str(src), str(tmp_path / "out.jsonl.gz")]) == 0
    [task] = read_gz_jsonl(tmp_path / "out.jsonl.gz")
    assert set(task) == {"id", "prompt", "reference", "category", "models"}
    assert (task["id"], task["reference"], task["category"]) == ("mmlu_pro-7", "B", "math")
    assert task["models"]["strict"] == {
        "text": STRICT_TEXT, "input_tokens": 27, "output_tokens": 10, "cost_usd": 2.5e-06, "pred": "B", "format_ok": True,
    }
    assert task["models"]["lenient"]["text"] == LENIENT_TEXT  # verbatim: never trimmed or cleaned
    assert (task["models"]["none"]["text"], task["models"]["none"]["pred"]) == (NO_LETTER_TEXT, None)


def test_converter_output_replays_the_real_text(tmp_path: Path) -> None:
    src = write_source(tmp_path, [question(1, "law", m=(STRICT_TEXT, "B", True))], compress=False)
    load_converter().main([str(src), str(tmp_path / "out.jsonl.gz")])
    answer = complete(provider(tmp_path / "out.jsonl.gz"), Request.from_prompt("x", metadata={"id": "mmlu_pro-1"}), "m")
    assert answer.text == STRICT_TEXT and answer.cost == Cost(2.5e-06, "recorded")


def test_converter_reads_the_texts_from_outputs_given(tmp_path: Path) -> None:
    src = write_source(tmp_path / "a", [question(1, "law", m=(STRICT_TEXT, "B", True))])
    (tmp_path / "a" / "outputs").rename(tmp_path / "elsewhere")
    assert load_converter().main([str(src), str(tmp_path / "out.jsonl.gz"), "--outputs", str(tmp_path / "elsewhere")]) == 0
    assert read_gz_jsonl(tmp_path / "out.jsonl.gz")[0]["models"]["m"]["text"] == STRICT_TEXT


@pytest.mark.parametrize(
    ("texts", "error"),
    [
        ([STRICT_TEXT], r"outputs/m.jsonl.gz:2: the file ends before task 'mmlu_pro-2'"),
        ([STRICT_TEXT, STRICT_TEXT + "!"], rf"outputs/m.jsonl.gz:2: the text of 'mmlu_pro-2' is not the {len(STRICT_TEXT)} characters the source recorded"),
        ([STRICT_TEXT, None], r"outputs/m.jsonl.gz:2: the text of 'mmlu_pro-2' is not the"),
    ],
)
def test_converter_refuses_texts_that_do_not_match_the_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], texts: list[str], error: str
) -> None:
    src = write_source(tmp_path, [question(i, "law", m=(STRICT_TEXT, "B", True)) for i in (1, 2)], {"m": texts})
    assert load_converter().main([str(src), str(tmp_path / "out.jsonl.gz")]) == 1
    assert re.search(error, capsys.readouterr().err)
    assert not (tmp_path / "out.jsonl.gz").exists()


def test_converter_needs_every_models_texts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_source(tmp_path, [question(1, "law", m=(STRICT_TEXT, "B", True), gone=(STRICT_TEXT, "B", True))])
    (tmp_path / "outputs" / "gone.jsonl.gz").unlink()
    assert load_converter().main([str(src), str(tmp_path / "out.jsonl.gz")]) == 1
    assert "outputs/gone.jsonl.gz: cannot read the output texts (No such file or directory)" in capsys.readouterr().err


def test_converter_refuses_texts_out_of_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_source(tmp_path, [question(i, "law", m=(STRICT_TEXT, "B", True)) for i in (1, 2)])
    write_jsonl(tmp_path / "outputs" / "m.jsonl.gz", [{"id": "mmlu_pro-2", "text": STRICT_TEXT}, {"id": "mmlu_pro-1", "text": STRICT_TEXT}])
    assert load_converter().main([str(src), str(tmp_path / "out.jsonl.gz")]) == 1
    assert "m.jsonl.gz:1: holds task 'mmlu_pro-2' where the source has 'mmlu_pro-1'" in capsys.readouterr().err


def test_converter_never_leaves_a_partial_file_over_a_good_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    converter = load_converter()
    out = tmp_path / "out.jsonl.gz"
    good = write_source(tmp_path / "good", [question(1, "law", m=(STRICT_TEXT, "B", True))])
    assert converter.main([str(good), str(out)]) == 0
    good_bytes = out.read_bytes()
    broken = tmp_path / "good" / "broken.jsonl"
    broken.write_text(json.dumps(question(1, "law", m=(STRICT_TEXT, "B", True)).row()) + "\n{truncated")
    assert converter.main([str(broken), str(out)]) == 1
    assert "broken.jsonl:2: not valid JSON" in capsys.readouterr().err
    assert out.read_bytes() == good_bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good", "out.jsonl.gz"]


def test_converter_sample_is_stratified_deterministic_and_unambiguous(tmp_path: Path) -> None:
    rows = [question(i, ["math", "law", "history"][i % 3], m=(f"text {i}", "B", True)) for i in range(60)]
    rows += [question(100, "math", prompt="twin", m=("a", "A", True)), question(101, "math", prompt="twin", m=("b", "B", True))]
    src = write_source(tmp_path, rows)
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
