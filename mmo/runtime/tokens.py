"""The one token estimator: characters / 4, corrected per model by what the run log observed.

Router rules (``tokens_over``), batch dry runs and context-window checks all count tokens through
this module, so they agree with each other. The correction is a ratio of real input tokens (as the
provider billed them) to the chars/4 guess for the same prompts; see ``RunLog.token_ratio``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Iterable, Mapping, Protocol

CHARS_PER_TOKEN = 4


def estimate_tokens(text: str, ratio: float | None = None) -> int:
    """``ceil(chars / 4)``, times ``ratio`` when one is given."""
    guess = len(text) / CHARS_PER_TOKEN
    if ratio is not None:
        guess *= ratio
    # Rounding first keeps float noise (40 / 4 * 1.1 = 11.000000000000002) from adding a token.
    return math.ceil(round(guess, 6))


@dataclass(frozen=True, slots=True)
class TokenRatio:
    """Observed input tokens per chars/4 estimate for one model, and how many calls it rests on."""

    ratio: float
    samples: int


@dataclass(frozen=True, slots=True)
class OutputSample:
    """A model's typical answer length (mean output tokens per call) and how many calls it rests on."""

    tokens: int
    calls: int


class History(Protocol):
    """What ``TokenEstimator.from_runlog`` needs from a run log."""

    def token_ratio_sample(self, model_id: str) -> TokenRatio | None: ...

    def typical_output_sample(self, model_id: str) -> OutputSample | None: ...


class TokenEstimator:
    """Estimates tokens for a model, using its learnt ratio when there is one, and knows each
    model's typical answer length when the run log has seen enough of its answers."""

    __slots__ = ("_ratios", "_samples", "_outputs", "_output_calls", "_asked")

    def __init__(
        self,
        ratios: Mapping[str, float] | None = None,
        samples: Mapping[str, int] | None = None,
        outputs: Mapping[str, int] | None = None,
        output_calls: Mapping[str, int] | None = None,
        *,
        asked: Iterable[str] = (),
    ) -> None:
        self._asked = frozenset(asked)
        self._ratios: Mapping[str, float] = MappingProxyType(dict(ratios or {}))
        self._samples: Mapping[str, int] = MappingProxyType(dict(samples or {}))
        self._outputs: Mapping[str, int] = MappingProxyType(dict(outputs or {}))
        self._output_calls: Mapping[str, int] = MappingProxyType(dict(output_calls or {}))

    @classmethod
    def from_runlog(cls, runlog: History, model_ids: Iterable[str]) -> TokenEstimator:
        """Ratios and typical answer lengths for ``model_ids`` as observed in the run log (models
        with too few calls keep chars/4 and have no typical length)."""
        ratios: dict[str, float] = {}
        samples: dict[str, int] = {}
        outputs: dict[str, int] = {}
        output_calls: dict[str, int] = {}
        asked = list(dict.fromkeys(model_ids))
        for model_id in asked:
            observed = runlog.token_ratio_sample(model_id)
            if observed is not None:
                ratios[model_id] = observed.ratio
                samples[model_id] = observed.samples
            typical = runlog.typical_output_sample(model_id)
            if typical is not None:
                outputs[model_id] = typical.tokens
                output_calls[model_id] = typical.calls
        return cls(ratios, samples, outputs, output_calls, asked=asked)

    def knows(self, model_id: str) -> bool:
        """Whether the run log was asked about this model (it may have had nothing to say)."""
        return model_id in self._asked

    def with_history(self, runlog: History, model_ids: Iterable[str]) -> TokenEstimator:
        """This estimator and what the run log says about ``model_ids`` too (models a batch row
        names, which the profile's tree does not hold)."""
        learnt = TokenEstimator.from_runlog(runlog, [m for m in model_ids if m not in self._asked])
        return TokenEstimator(
            {**self._ratios, **learnt._ratios},
            {**self._samples, **learnt._samples},
            {**self._outputs, **learnt._outputs},
            {**self._output_calls, **learnt._output_calls},
            asked=(*self._asked, *learnt._asked),
        )

    def typical_output(self, model_id: str) -> int | None:
        """The model's mean answer length over its recent calls, or ``None`` without history."""
        return self._outputs.get(model_id)

    def typical_output_calls(self, model_id: str) -> int | None:
        """How many recent calls ``typical_output`` rests on (``None``: not known)."""
        return self._output_calls.get(model_id)

    def ratio(self, model_id: str | None = None) -> float | None:
        return self._ratios.get(model_id) if model_id is not None else None

    def estimate(self, text: str, model_id: str | None = None) -> int:
        return estimate_tokens(text, self.ratio(model_id))

    def method(self, model_id: str | None = None) -> str:
        """How ``estimate`` counts for this model, for dry runs and ``--explain``."""
        ratio = self.ratio(model_id)
        if ratio is None:
            return f"chars/{CHARS_PER_TOKEN}"
        learnt = self._samples.get(model_id) if model_id is not None else None
        suffix = f" learnt from {learnt} calls" if learnt else ""
        return f"chars/{CHARS_PER_TOKEN} x {ratio:.2f}{suffix}"
