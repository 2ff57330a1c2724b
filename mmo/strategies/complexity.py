"""How demanding a prompt looks, as a score in [0, 1], from features anyone can check by eye.

Each feature is scored in [0, 1]; the score is their weighted sum (the weights add up to 1),
clamped to [0, 1]:

=============  ======  ============================================================================
feature        weight  scored from
=============  ======  ============================================================================
length         0.20    estimated tokens on a log scale: 0 up to 4 tokens, 1 from 2,000 tokens
questions      0.10    question marks beyond the first: 0 for one question, 1 for four or more
code           0.20    a fenced block (```) counts 1; code syntax (``def f(``, ``=>``, ``#include``,
                       ``SELECT ... FROM``...) 0.3 each; words like "implement", "debug" 0.2 each
math           0.20    LaTeX (``\\frac``, ``$...$``) 0.4 each; equations and arithmetic 0.2 each;
                       symbols (∑ ∫ √ ≤ ...) 0.2 each; words like "solve", "integral" 0.15 each
multi_step     0.20    "step by step", "first ... then", "finally"... 0.25 each; numbered or
                       bulleted items 0.15 each (lettered multiple-choice options do not count)
constraints    0.10    "must", "do not", "at most", "exactly", "in JSON", "200 words"... 0.2 each
=============  ======  ============================================================================

Words are counted whole (``"code"`` is not found in ``"decode"``); phrases such as "step by
step" or "at most" are counted in the lower-cased text.

A greeting scores 0, a one-line factual question about 0.03, and a multi-part task with code or
equations 0.4 and up; on the MMLU-Pro sample the median is about 0.19. The score is a routing
heuristic, not a measure of difficulty: ``mmo ask --explain`` shows every component, so a
threshold can be tuned against real prompts.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

LENGTH_WEIGHT = 0.20
QUESTIONS_WEIGHT = 0.10
CODE_WEIGHT = 0.20
MATH_WEIGHT = 0.20
MULTI_STEP_WEIGHT = 0.20
CONSTRAINTS_WEIGHT = 0.10

WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "length": LENGTH_WEIGHT,
        "questions": QUESTIONS_WEIGHT,
        "code": CODE_WEIGHT,
        "math": MATH_WEIGHT,
        "multi_step": MULTI_STEP_WEIGHT,
        "constraints": CONSTRAINTS_WEIGHT,
    }
)

LENGTH_FLOOR_TOKENS = 4
LENGTH_SATURATION_TOKENS = 2000
EXTRA_QUESTIONS_SATURATION = 3


@dataclass(frozen=True, slots=True)
class ComplexityScore:
    """The score and each feature's own score in [0, 1] (before weighting), for the trace."""

    value: float
    components: Mapping[str, float]

    def describe(self) -> str:
        """``"0.42 (length 0.31, questions 0, code 0, ...)"``."""
        parts = ", ".join(f"{name} {_short(score)}" for name, score in self.components.items())
        return f"{self.value:.2f} ({parts})"


def score_complexity(text: str, tokens: int) -> ComplexityScore:
    """Score ``text`` whose estimated length is ``tokens`` (from the one token estimator)."""
    prompt = PromptText.of(text)
    components = {
        "length": length_feature(tokens),
        "questions": questions_feature(text),
        "code": code_feature(prompt),
        "math": math_feature(prompt),
        "multi_step": multi_step_feature(prompt),
        "constraints": constraints_feature(prompt),
    }
    value = sum(WEIGHTS[name] * score for name, score in components.items())
    rounded = {name: round(score, 3) for name, score in components.items()}
    return ComplexityScore(round(min(1.0, max(0.0, value)), 3), MappingProxyType(rounded))


@dataclass(frozen=True, slots=True)
class PromptText:
    """The text, lower-cased, and how often each word occurs: computed once for every feature,
    since counting words in a table is far cheaper than one case-insensitive regex per list."""

    text: str
    lowered: str
    words: Counter[str]

    @classmethod
    def of(cls, text: str) -> PromptText:
        lowered = text.lower()
        return cls(text, lowered, Counter(_WORD.findall(lowered)))

    def count_words(self, words: frozenset[str]) -> int:
        return sum(self.words[word] for word in words if word in self.words)

    def count_phrases(self, phrases: tuple[str, ...]) -> int:
        return sum(self.lowered.count(phrase) for phrase in phrases)


_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def length_feature(tokens: int) -> float:
    if tokens <= LENGTH_FLOOR_TOKENS:
        return 0.0
    return min(1.0, math.log(tokens / LENGTH_FLOOR_TOKENS) / math.log(LENGTH_SATURATION_TOKENS / LENGTH_FLOOR_TOKENS))


def questions_feature(text: str) -> float:
    extra = max(0, text.count("?") - 1)
    return min(1.0, extra / EXTRA_QUESTIONS_SATURATION)


_CODE_FENCE = re.compile(r"^[ \t]*(?:```|~~~)", re.MULTILINE)
_CODE_SYNTAX = re.compile(
    r"def \w+\(|class \w+[:(]|function\s*\w*\s*\(|=>|#include\b|^[ \t]*(?:import \w|from \w+ import\b)|"
    r"SELECT\b[^;]{0,200}?\bFROM\b|console\.log\(|print\(|[{};][ \t]*$",
    re.MULTILINE,
)
_CODE_WORDS = frozenset(
    {"implement", "refactor", "debug", "function", "compile", "regex", "script", "code", "exception", "api",
     "endpoint", "python", "javascript", "typescript", "rust", "sql", "bash"}
)  # fmt: skip
_CODE_PHRASES = ("stack trace", "unit test")


def code_feature(prompt: PromptText | str) -> float:
    prompt = _as_prompt(prompt)
    fenced = 1.0 if _CODE_FENCE.search(prompt.text) else 0.0
    syntax = len(_CODE_SYNTAX.findall(prompt.text))
    words = prompt.count_words(_CODE_WORDS) + prompt.count_phrases(_CODE_PHRASES)
    return min(1.0, fenced + 0.3 * syntax + 0.2 * words)


_LATEX = re.compile(r"\\(?:frac|int|sum|prod|sqrt|lim|begin\{(?:equation|align)|cdot|times|le|ge|neq|infty|partial)\b|\$[^$\n]{1,200}\$")
# Operator first: the regex engine looks for a rare character instead of trying every letter.
_RELATION = re.compile(r"(?<=[A-Za-z0-9)])\s?[=<>≤≥^]\s?[-\w(]")
_ARITHMETIC = re.compile(r"(?<=\d)\s?[+\-*/×÷]\s?\(?\d")
_MATH_SYMBOLS = re.compile(r"[∑∫√π≤≥≠∞±∂∈∀∃≈]")
_MATH_WORDS = frozenset(
    {"solve", "equation", "integral", "integrate", "derivative", "differentiate", "prove", "proof", "theorem",
     "probability", "matrix", "polynomial", "calculate", "compute", "logarithm", "eigenvalue", "eigenvalues",
     "limit", "series", "variance"}
)  # fmt: skip


def math_feature(prompt: PromptText | str) -> float:
    prompt = _as_prompt(prompt)
    latex = len(_LATEX.findall(prompt.text))
    equations = len(_RELATION.findall(prompt.text)) + len(_ARITHMETIC.findall(prompt.text))
    symbols = len(_MATH_SYMBOLS.findall(prompt.text))
    words = prompt.count_words(_MATH_WORDS)
    return min(1.0, 0.4 * latex + 0.2 * equations + 0.2 * symbols + 0.15 * words)


_STEP_WORDS = frozenset({"finally", "steps"})
_STEP_PHRASES = ("step by step", "step-by-step", "after that", "and then", "next,", "in order to")
_FIRST_THEN = re.compile(r"\bfirst\b[^.?!]{0,200}\bthen\b")
_LIST_ITEM = re.compile(r"^[ \t]*(?:\d{1,2}[.)]|\((?:[ivx]{1,4}|\d{1,2})\)|[-*•])[ \t]+\S", re.MULTILINE)


def multi_step_feature(prompt: PromptText | str) -> float:
    prompt = _as_prompt(prompt)
    cues = prompt.count_words(_STEP_WORDS) + prompt.count_phrases(_STEP_PHRASES)
    if "first" in prompt.words and "then" in prompt.words:
        cues += len(_FIRST_THEN.findall(prompt.lowered))
    return min(1.0, 0.25 * cues + 0.15 * len(_LIST_ITEM.findall(prompt.text)))


_CONSTRAINT_WORDS = frozenset({"must", "never", "without", "exactly", "only"})
_CONSTRAINT_PHRASES = (
    "do not", "don't", "at least", "at most", "no more than", "no less than",
    "in json", "in yaml", "in csv", "in markdown", "in a table",
)  # fmt: skip
_SIZE_LIMIT = re.compile(r"\b\d+ (?:words|sentences|bullets|paragraphs|characters)\b")


def constraints_feature(prompt: PromptText | str) -> float:
    prompt = _as_prompt(prompt)
    count = prompt.count_words(_CONSTRAINT_WORDS) + prompt.count_phrases(_CONSTRAINT_PHRASES)
    count += len(_SIZE_LIMIT.findall(prompt.lowered))
    return min(1.0, 0.2 * count)


def _as_prompt(prompt: PromptText | str) -> PromptText:
    return prompt if isinstance(prompt, PromptText) else PromptText.of(prompt)


def _short(score: float) -> str:
    return f"{score:.2f}".rstrip("0").rstrip(".") if score else "0"
