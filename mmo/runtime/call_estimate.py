"""The worst case of one model call, in tokens: what rate limits reserve and budgets price.

Input tokens come from the one token estimator (images and tools counted: ``input_tokens``); output tokens are the request's ``max_tokens``
(the most the model may write), or ``DEFAULT_OUTPUT_TOKENS`` when no ``max_tokens`` is set
anywhere (request, model, profile defaults). Set ``defaults: {max_tokens: ...}`` in a profile to
make reservations and cost estimates tight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mmo.core.types import ModelRef, Request
from mmo.runtime.input_tokens import request_input_tokens

if TYPE_CHECKING:
    from mmo.runtime.tokens import TokenEstimator

DEFAULT_OUTPUT_TOKENS = 4096
# What a dry run expects a model to write when the run log has none of its answers yet: a
# paragraph or two, as most answers are (the worst case still counts max_tokens).
DEFAULT_EXPECTED_OUTPUT_TOKENS = 256


@dataclass(frozen=True, slots=True)
class CallEstimate:
    input_tokens: int
    output_tokens: int
    output_assumed: bool  # True when no max_tokens was set and DEFAULT_OUTPUT_TOKENS stands in

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def describe(self) -> str:
        """``"171 prompt + 1000 output tokens (max_tokens)"``, for notes and refusals."""
        source = "the default, as no max_tokens is set" if self.output_assumed else "max_tokens"
        return f"{self.input_tokens} prompt + {self.output_tokens} output tokens ({source})"


def estimate_call(request: Request, ref: ModelRef, tokens: TokenEstimator, kind: str = "") -> CallEstimate:
    """``request`` must already carry the target's merged parameters (as guards receive it);
    ``kind`` is the wire kind of the model's provider (how its images count)."""
    max_tokens = request.params.max_tokens
    return CallEstimate(
        input_tokens=request_input_tokens(request, ref, tokens, kind),
        output_tokens=max_tokens if max_tokens is not None else DEFAULT_OUTPUT_TOKENS,
        output_assumed=max_tokens is None,
    )
