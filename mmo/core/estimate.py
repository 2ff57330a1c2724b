"""What a strategy may spend on one request, before anything is called: plain values that every
node kind builds for itself (``Node.estimate``) and ``mmo batch --dry-run`` adds up.

A ``CostRange`` holds three ``Path``s through a node:

* ``best``: the cheapest way the node can answer (the first fallback child answers, the first
  cascade tier passes), each model writing its typical answer length;
* ``expected``: the likely way: first choices succeed, and where the choice is not known before
  the call (an intent classifier's label) each branch equally likely; typical answer lengths;
* ``worst``: the dearest way (every fallback child fails over, every cascade tier is rejected),
  each model writing up to its ``max_tokens``.

A ``Path`` is the calls it makes; a call's ``share`` is its weight in an expected mix (a branch
taken one time in three counts a third of its calls). ``answer_tokens`` is the length of the
answer the path ends with, which a later call may read (a judge grades it, a pipeline step
continues it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Iterable, Sequence


@dataclass(frozen=True, slots=True)
class CallCost:
    """One model call of a path. ``usd`` is ``None`` when the model's price is unknown."""

    model_id: str
    input_tokens: int
    output_tokens: int
    usd: float | None
    source: str
    share: float = 1.0


@dataclass(frozen=True, slots=True)
class Path:
    calls: tuple[CallCost, ...] = ()
    answer_tokens: float = 0.0

    def then(self, other: Path) -> Path:
        """This path, then ``other``: the answer is ``other``'s."""
        return Path(self.calls + other.calls, other.answer_tokens)

    def beside(self, other: Path) -> Path:
        """Both paths' calls (members running side by side); the answer stays this path's."""
        return Path(self.calls + other.calls, self.answer_tokens)

    def scaled(self, share: float) -> Path:
        calls = tuple(replace(call, share=call.share * share) for call in self.calls)
        return Path(calls, self.answer_tokens * share)

    @property
    def usd(self) -> float:
        """Known dollars, weighted by share (unknown prices count nothing)."""
        return sum(call.usd * call.share for call in self.calls if call.usd is not None)

    @property
    def tokens(self) -> float:
        return sum((call.input_tokens + call.output_tokens) * call.share for call in self.calls)

    def cost_key(self) -> tuple[float, float]:
        """What "cheaper" means: known dollars first, then tokens (which decide among unknown prices)."""
        return (self.usd, self.tokens)


@dataclass(frozen=True, slots=True)
class CostRange:
    best: Path
    expected: Path
    worst: Path

    @classmethod
    def of(cls, path: Path) -> CostRange:
        return cls(path, path, path)

    def then(self, other: CostRange) -> CostRange:
        """This node's spending, then ``other``'s."""
        return CostRange(self.best.then(other.best), self.expected.then(other.expected), self.worst.then(other.worst))

    def beside(self, other: CostRange) -> CostRange:
        """Both nodes' spending at once; the answer stays this one's."""
        return CostRange(self.best.beside(other.best), self.expected.beside(other.expected), self.worst.beside(other.worst))

    def or_else(self, other: CostRange) -> CostRange:
        """This node answers (best, expected), or it fails and ``other`` answers too (worst)."""
        return CostRange(self.best, self.expected, self.worst.then(other.worst))


NOTHING = CostRange.of(Path())


def sequence(ranges: Iterable[CostRange]) -> CostRange:
    """Every range, one after the other."""
    out = NOTHING
    for item in ranges:
        out = out.then(item)
    return out


def one_of(ranges: Sequence[CostRange]) -> CostRange:
    """Exactly one of ``ranges`` runs and which one is not known in advance: the cheapest best,
    an equal mix for expected, the dearest worst."""
    if not ranges:
        return NOTHING
    best = min((r.best for r in ranges), key=Path.cost_key)
    worst = max((r.worst for r in ranges), key=Path.cost_key)
    share = 1.0 / len(ranges)
    mixed = Path()
    for item in ranges:
        part = item.expected.scaled(share)
        mixed = Path(mixed.calls + part.calls, mixed.answer_tokens + part.answer_tokens)
    return CostRange(best, mixed, worst)


def by_answer(answer: CostRange, spend: Callable[[float], CostRange]) -> CostRange:
    """What follows an answer (a judge reading it), scenario by scenario: ``spend`` gets each
    scenario's answer length and its range's matching scenario is kept."""
    lengths = (answer.best.answer_tokens, answer.expected.answer_tokens, answer.worst.answer_tokens)
    if lengths[0] == lengths[1] == lengths[2]:
        return spend(lengths[0])
    return CostRange(spend(lengths[0]).best, spend(lengths[1]).expected, spend(lengths[2]).worst)


def first_or_every(ranges: Sequence[CostRange]) -> CostRange:
    """Alternatives in order: the first answers (best, expected), or each one is tried (worst)."""
    if not ranges:
        return NOTHING
    worst = Path()
    for item in ranges:
        worst = worst.then(item.worst)
    return CostRange(ranges[0].best, ranges[0].expected, worst)
