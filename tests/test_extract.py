"""The one answer extractor: choice letters as the MMLU-Pro harness reads them, numbers, JSON,
text and regular expressions. (Its agreement with the harness on the recorded MMLU-Pro texts is
in ``test_extractor_agreement.py``.)"""

from __future__ import annotations

import re

import pytest

from mmo.core.errors import ConfigError
from mmo.strategies.extract import RegexExtractSpec, extract, extractor, parse_json_answer, strict_choice

# ---- choice: the MMLU-Pro harness -------------------------------------------------------------


def harness_extract(text: str) -> str | None:
    """MMLU-Pro's evaluate_from_api.py, as published: the reference the extractor must match."""
    text = text.replace("**", "")
    match = re.search(r"answer is \(?([A-J])\)?", text)
    if match:
        return match.group(1)
    match = re.search(r".*[aA]nswer:\s*([A-J])", text)
    if match:
        return match.group(1)
    match = re.search(r"\b[A-J]\b(?!.*\b[A-J]\b)", text, re.DOTALL)
    return match.group(0) if match else None


TRICKY_CHOICES = [
    "Let's think step by step. The answer is (C).",
    "so the answer is B",
    "The answer is (C). Answer: D",
    "The answer is **(D)**, not A.",
    "Thinking... Answer: B then Answer: C\nAnswer: E",
    "intro line\nAnswer: Answer: B",
    "Answer:\n  G is right",
    "I think so",
    "I think it is C, maybe",
    "no capital letters here",
    "Options A and B are wrong; J fits.\nFinal thoughts only.",
    "answer: h (lowercase letters are not choices)",
    "",
    "The Answer is (B)",
    "x" * 5000 + "\nAnswer: F",
]


@pytest.mark.parametrize("text", TRICKY_CHOICES)
def test_choice_matches_the_mmlu_pro_harness(text: str) -> None:
    assert extract(text, "choice") == harness_extract(text)


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("The answer is (C). Answer: D", "C"),  # the strict form wins over a later Answer:
        ("The answer is **(D)**, not A.", "D"),  # bold removed first, as the harness does
        ("Thinking... Answer: B then Answer: C\nAnswer: E", "C"),  # first line with one, its last
        ("intro line\nAnswer: Answer: B", "B"),  # greedy: the last Answer: on that line
        ("I think it is C, maybe", "C"),  # last standalone letter
        ("I think so", "I"),  # ... which is lenient: the word "I" counts
        ("no capital letters here", None),
    ],
)
def test_choice_reads_in_harness_order(text: str, letter: str | None) -> None:
    assert extract(text, "choice") == letter


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("Let's think step by step. The answer is (C).", "C"),
        ("The answer is **(C)**.", "C"),
        ("so the answer is B", None),  # parentheses required
        ("Answer: C", None),
        ("I think it is C", None),
        ("The answer is (C), no wait, the answer is (D).", "C"),  # the first, like the harness
    ],
)
def test_strict_choice_needs_answer_is_in_parentheses(text: str, letter: str | None) -> None:
    assert strict_choice(text) == letter
    assert extract(text, "strict_choice") == letter


# ---- number -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("The total is 1,234.50 dollars.", "1234.5"),
        ("x = -3", "-3"),
        ("x = \u22123", "-3"),  # a Unicode minus
        ("pages 1-2", "2"),  # a range, not a negative number
        ("about .5 of it", "0.5"),
        ("1.5e3 metres", "1500"),
        ("2.5E-2", "0.025"),
        ("three quarters: 3/4", "0.75"),
        ("2/6", "1/3"),
        ("\\boxed{\\frac{1}{3}}", "1/3"),
        ("\\dfrac{-6}{4}", "-1.5"),
        ("costs $5, or 50%", "50"),
        ("2.50", "2.5"),
        ("-0", "0"),
        ("first 7, then 1,000,000", "1000000"),
        ("answers 1,2,3", "3"),
        ("H2O and v2", None),  # numbers inside words are not answers
        ("on 12/25/2024", "12"),  # a date is not a fraction
        ("1/0", None),
        ("nothing numeric", None),
        ("the answer is 42.", "42"),
    ],
)
def test_number_is_the_last_number_normalised(text: str, value: str | None) -> None:
    assert extract(text, "number") == value


def test_equal_numbers_written_differently_compare_equal() -> None:
    assert extract("0.50", "number") == extract("1/2", "number") == extract("5e-1", "number") == "0.5"


# ---- json -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"b": 1, "a": 2.0}', '{"a":2,"b":1}'),
        ('Here you go:\n```json\n{"a": [1, 2]}\n```\nAnything else?', '{"a":[1,2]}'),
        ('Sure! {"x": "é"} and then [1]', '{"x":"é"}'),
        ("prefix [1, 2] then {\"a\": 3}", "[1,2]"),
        ("42", "42"),
        ('"just a string"', '"just a string"'),
        ("no json here", None),
        ('{"a": NaN}', None),
        ("{broken", None),
    ],
)
def test_json_is_the_first_json_value_canonical(text: str, value: str | None) -> None:
    assert extract(text, "json") == value


def test_equal_json_objects_compare_equal() -> None:
    assert extract('{"a": 1, "b": [true, null]}', "json") == extract('```\n{ "b":[true,null], "a":1.0 }\n```', "json")


def test_parse_json_answer_wants_the_whole_answer() -> None:
    assert parse_json_answer('```json\n{"a": 1}\n```') == {"a": 1}
    assert parse_json_answer('  [1]\n') == [1]
    with pytest.raises(ValueError):
        parse_json_answer('Here: {"a": 1}')
    with pytest.raises(ValueError, match="NaN is not valid JSON"):
        parse_json_answer("NaN")


# ---- text and regex ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [("  Paris. ", "paris"), ('"New   York"\n', "new york"), ("ÉTÉ!", "été"), ("  ...  ", None)])
def test_text_is_whitespace_normalised_and_case_folded(text: str, value: str | None) -> None:
    assert extract(text, "text") == value


def test_regex_takes_the_first_group_that_matched() -> None:
    assert extract("x=7 y=9", RegexExtractSpec(regex=r"y=(\d)")) == "9"
    assert extract("abc", {"regex": "(x)|(b)"}) == "b"
    assert extract("Total: 12 EUR", {"regex": r"\d+ EUR"}) == "12 EUR"  # no group: the whole match
    assert extract("nothing", {"regex": r"(\d+)"}) is None


def test_bad_extractors_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown answer extractor 'letters'"):
        extractor("letters")
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        extractor(RegexExtractSpec(regex="(unclosed"))
