"""The complexity score: ordering on realistic prompts, and each feature doing what it says."""

from __future__ import annotations

import pytest

from mmo.runtime.tokens import estimate_tokens
from mmo.strategies.complexity import (
    LENGTH_SATURATION_TOKENS,
    WEIGHTS,
    ComplexityScore,
    length_feature,
    multi_step_feature,
    score_complexity,
)


def score(text: str) -> ComplexityScore:
    return score_complexity(text, estimate_tokens(text))


GREETING = "Hi there!"
FACTUAL = "What is the capital of Australia?"
EXPLAIN = "Explain why the sky is blue to a ten-year-old, in at most 100 words."
MATH_TASK = (
    "Solve the system 2x + 3y = 7 and x - y = 1 step by step. First eliminate x, then substitute back. "
    "What are x and y? Is the solution unique? Finally, check it with $\\frac{7 - 3y}{2}$."
)
CODE_TASK = """Implement a Python function that parses ISO dates, then write unit tests for it.

```python
def parse(text: str) -> date:
    ...
```

1. Handle time zones.
2. Reject invalid months.
3. Do not use third-party libraries. The answer must be in exactly one code block.
What edge cases matter? Which ones would you test first?"""


def test_realistic_prompts_are_ordered_by_how_demanding_they_are() -> None:
    values = [score(text).value for text in (GREETING, FACTUAL, EXPLAIN, MATH_TASK)]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert score(GREETING).value == 0.0
    assert score(FACTUAL).value < 0.1
    assert score(MATH_TASK).value > 0.35 and score(CODE_TASK).value > 0.35


def test_each_feature_fires_on_its_own_cue() -> None:
    assert score(CODE_TASK).components["code"] == 1.0  # a fenced block
    assert score("def area(r): return 3.14 * r * r;").components["code"] > 0
    assert score(MATH_TASK).components["math"] > 0.5
    assert score("Evaluate \\int_0^1 x^2 dx").components["math"] > 0
    assert score("Do it step by step.").components["multi_step"] > 0
    assert score("Answer in JSON, at most 3 sentences, and do not mention prices.").components["constraints"] == pytest.approx(0.8)  # four constraints
    assert score("Why? How? When? Where?").components["questions"] == 1.0
    assert score("Why is that?").components["questions"] == 0.0  # one question is the normal case
    for plain in (GREETING, FACTUAL):
        assert {name for name, value in score(plain).components.items() if value} <= {"length"}


def test_numbered_steps_count_but_lettered_answer_options_do_not() -> None:
    steps = "Plan the migration:\n1. Back up the data\n2. Run the script\n3. Verify the counts"
    options = "Which is largest?\nA. 4\nB. 7\nC. 2\nD. 9"
    assert multi_step_feature(steps) == pytest.approx(0.45)
    assert multi_step_feature(options) == 0.0


def test_length_is_logarithmic_between_a_floor_and_a_ceiling() -> None:
    assert length_feature(3) == 0.0
    assert 0 < length_feature(50) < length_feature(500) < length_feature(1500) < 1.0
    assert length_feature(LENGTH_SATURATION_TOKENS) == pytest.approx(1.0)
    assert length_feature(LENGTH_SATURATION_TOKENS * 10) == 1.0


def test_the_value_is_the_weighted_sum_of_the_components_clamped_to_one() -> None:
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)
    result = score(CODE_TASK)
    assert result.value == pytest.approx(sum(WEIGHTS[n] * v for n, v in result.components.items()), abs=0.01)
    everything = (CODE_TASK + MATH_TASK) * 40
    assert 0.9 < score(everything).value <= 1.0


def test_describe_lists_every_component_for_the_trace() -> None:
    text = score("Solve x^2 = 4 step by step.").describe()
    assert text.startswith("0.") and "(length" in text
    for name in WEIGHTS:
        assert name in text
