"""The one extractor against the MMLU-Pro harness, on the real output texts of the bundled sample.

The expectations are computed here, from the rules the data set's README gives for each model's
harness (``../shared/data/mmlu-pro-routing/README.md``, "Output texts"), not from mmo's extractor:

* Mistral-7B, Mixtral and GPT-4o: the first ``answer is \\(?([A-J])\\)?`` in the text as recorded;
* Gemini flash and pro, Jamba: that, then ``.*[aA]nswer:\\s*([A-J])``, then the last standalone
  letter, after removing ``**``;
* Llama-3.1 8B and 70B: the same three steps, and the stand-in letter G when all three fail.
"""

from __future__ import annotations

import gzip
import json
import math
import re
from collections.abc import Callable
from importlib.resources import files
from typing import Any

import pytest

from benchmarks.extractor_agreement import agreement, disagreement
from mmo.strategies.extract import extract

STEP_1 = re.compile(r"answer is \(?([A-J])\)?")
STEP_2 = re.compile(r".*[aA]nswer:\s*([A-J])")
STEP_2_ANYWHERE = re.compile(r"[aA]nswer:\s*[A-J]")  # STEP_2 can match only where this does
STEP_3 = re.compile(r"\b[A-J]\b")
STRICT = re.compile(r"answer is \(([A-J])\)")


def first_step(text: str) -> str | None:
    found = STEP_1.search(text)
    return found.group(1) if found else None


def three_steps(text: str) -> str | None:
    text = text.replace("**", "")
    if (letter := first_step(text)) is not None:
        return letter
    if STEP_2_ANYWHERE.search(text):  # skip STEP_2's quadratic search where it cannot match
        found = STEP_2.search(text)
        if found:
            return found.group(1)
    letters = STEP_3.findall(text)  # the last one: the harness's \b[A-J]\b(?!.*\b[A-J]\b)
    return letters[-1] if letters else None


def three_steps_else_g(text: str) -> str:
    return three_steps(text) or "G"


HARNESS: dict[str, Callable[[str], str | None]] = {
    "Mistral-7B-Instruct-v0.2": first_step,
    "Mixtral-8x7B-Instruct-v0.1": first_step,
    "gpt-4o-2024-05-13": first_step,
    "gemini-1.5-flash-002": three_steps,
    "gemini-1.5-pro-002": three_steps,
    "jamba-1.5-large": three_steps,
    "Llama-3.1-8B-Instruct": three_steps_else_g,
    "Llama-3.1-70B-Instruct": three_steps_else_g,
}


@pytest.fixture(scope="module")
def sample() -> list[dict[str, Any]]:
    with gzip.open(files("mmo").joinpath("data", "mmlu_pro_sample.jsonl.gz").open("rb"), "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def recordings(sample: list[dict[str, Any]], model: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    return [(name, rec) for task in sample for name, rec in task["models"].items() if model in (None, name)]


def test_the_sample_holds_real_texts_of_the_eight_models(sample: list[dict[str, Any]]) -> None:
    assert len(sample) == 300 and {len(task["models"]) for task in sample} == {8}
    assert set(HARNESS) == {name for name, _ in recordings(sample)}
    # The estimated output tokens were counted from the real text (4 characters a token).
    assert all(rec["output_tokens"] == math.ceil(len(rec["text"]) / 4) for _, rec in recordings(sample))
    assert not any("Recorded output text not available" in rec["text"] for _, rec in recordings(sample))


def test_each_recorded_pred_is_what_that_models_harness_reads_in_the_text(sample: list[dict[str, Any]]) -> None:
    mismatches = [(name, rec["pred"]) for name, rec in recordings(sample) if HARNESS[name](rec["text"]) != rec["pred"]]
    assert mismatches == []


def test_format_ok_is_the_harness_first_step_on_the_text_as_recorded(sample: list[dict[str, Any]]) -> None:
    assert all(rec["format_ok"] == (first_step(rec["text"]) is not None) for _, rec in recordings(sample))


def test_the_extractor_reads_as_the_three_step_harness(sample: list[dict[str, Any]]) -> None:
    assert all(extract(rec["text"], "choice") == three_steps(rec["text"]) for _, rec in recordings(sample))


@pytest.mark.parametrize("model", ["gemini-1.5-flash-002", "gemini-1.5-pro-002", "jamba-1.5-large"])
def test_where_the_harness_rule_is_the_extractors_they_agree_on_every_answer(sample: list[dict[str, Any]], model: str) -> None:
    assert all(extract(rec["text"], "choice") == rec["pred"] for _, rec in recordings(sample, model))
    assert agreement(sample)[model].agree == 300


@pytest.mark.parametrize("model", ["Llama-3.1-8B-Instruct", "Llama-3.1-70B-Instruct"])
def test_llama_disagrees_only_on_its_stand_in_g_which_mmo_scores_unanswered(sample: list[dict[str, Any]], model: str) -> None:
    stand_ins = [rec for _, rec in recordings(sample, model) if three_steps(rec["text"]) is None]
    assert stand_ins and all(rec["pred"] == "G" and extract(rec["text"], "choice") is None for rec in stand_ins)
    others = [rec for _, rec in recordings(sample, model) if three_steps(rec["text"]) is not None]
    assert all(extract(rec["text"], "choice") == rec["pred"] for rec in others)
    counts = agreement(sample)[model]
    assert (counts.agree, counts.reasons["stand-in G"], counts.rows) == (len(others), len(stand_ins), 300)


@pytest.mark.parametrize("model", ["Mistral-7B-Instruct-v0.2", "Mixtral-8x7B-Instruct-v0.1", "gpt-4o-2024-05-13"])
def test_first_step_models_disagree_exactly_where_the_lenient_steps_or_bold_find_more(sample: list[dict[str, Any]], model: str) -> None:
    ours = recordings(sample, model)
    differ = [rec for _, rec in ours if three_steps(rec["text"]) != first_step(rec["text"])]
    assert all(extract(rec["text"], "choice") != rec["pred"] for rec in differ)
    assert all(extract(rec["text"], "choice") == rec["pred"] for _, rec in ours if rec not in differ)
    bold = [rec for rec in differ if first_step(rec["text"]) != first_step(rec["text"].replace("**", ""))]
    counts = agreement(sample)[model]
    assert (counts.agree, counts.reasons["bold"], counts.reasons["steps 2-3"], counts.reasons["other"]) == (
        300 - len(differ), len(bold), len(differ) - len(bold), 0,
    )
    assert differ  # the sample holds the case
    assert bool(bold) == (model == "gpt-4o-2024-05-13")  # only GPT-4o's harness kept the bold marks


def test_strict_choice_is_not_format_ok_parentheses_are_required(sample: list[dict[str, Any]]) -> None:
    for _, rec in recordings(sample):
        strict = extract(rec["text"], "strict_choice")
        assert strict == (STRICT.search(rec["text"].replace("**", "")) or [None, None])[1]
        if strict is not None and "**" not in rec["text"]:
            assert rec["format_ok"]  # parentheses present: the harness's first step passed too
    unbracketed = [rec for _, rec in recordings(sample, "gpt-4o-2024-05-13") if rec["format_ok"] and extract(rec["text"], "strict_choice") is None]
    assert unbracketed and all(re.search(r"answer is [A-J]\b", rec["text"]) for rec in unbracketed[:5])


@pytest.mark.parametrize(
    ("text", "pred", "reason"),
    [
        ("The answer is (C).", "C", None),
        ("No letter here at all", "G", "stand-in G"),
        ("The answer is **(E) Inseparability**.", None, "bold"),
        ("the answer is **C** ... the answer is (I)", "I", "bold"),
        ("I would pick B.\nAnswer: B", None, "steps 2-3"),
        ("The answer is (C).", "D", "other"),
    ],
)
def test_each_disagreement_is_named_for_its_cause(text: str, pred: str | None, reason: str | None) -> None:
    assert disagreement(text, pred, extract(text, "choice")) == reason
