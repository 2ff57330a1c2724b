"""Strategies as ``mmo tune`` simulates them: each one both a profile's strategy spec (``spec``)
and what it would do on every task of a view (``outcome``), from the recorded answers.

An ``Outcome`` says, as sets of tasks (``tune_bits``), whose answer each task gets and which
models are called where (a model may be called at several places of a tree: a tier and an agree
gate); its figures are the right answers and the recorded costs of every call. The semantics are
those of the strategy code (``mmo.strategies``), which ``mmo tune`` then runs for real on the
chosen strategy (``tune_live``) to check them:

* ``Single``: the model answers.
* ``Cascade``: each tier but the last answers; its gates (``GateChoice``) run in the registry's
  order (the free ones first, then ``agree``, which asks its model only when every free gate
  passed and the answer has a value to compare); the first tier whose answer passes is
  returned, else the last tier's (``on_exhausted: last``). Only the last tier may be a strategy
  of its own (a nested cascade), so an outer gate never judges a nested one's answer.
* ``Routed``: a router's rules in order (the first whose conditions hold picks the branch), else
  the default branch.
* ``Learned``: a learned router (``mmo.strategies.learned_model``) picks one branch per prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Protocol, Sequence

from mmo.app.bench.tune_bits import mask_of, positions
from mmo.app.bench.tune_data import TuneView
from mmo.app.bench.tune_signals import Signals
from mmo.strategies.learned_gate import GateModel
from mmo.strategies.learned_model import LearnedModel, pick

Names = Mapping[str, str]  # model label -> its alias in the profile


@dataclass(frozen=True, slots=True)
class Outcome:
    answered: tuple[tuple[str, int], ...]  # (model, the tasks that get its answer): disjoint
    calls: tuple[tuple[str, int], ...]  # (model, the tasks where it is called), one per place

    def restrict(self, mask: int) -> Outcome:
        return Outcome(tuple((m, s & mask) for m, s in self.answered), tuple((m, s & mask) for m, s in self.calls))

    @staticmethod
    def join(parts: Sequence[Outcome]) -> Outcome:
        return Outcome(tuple(a for part in parts for a in part.answered), tuple(c for part in parts for c in part.calls))


@dataclass(frozen=True, slots=True)
class Figures:
    tasks: int
    correct: int
    cost_usd: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.tasks if self.tasks else 0.0

    @property
    def cost_per_task(self) -> float:
        return self.cost_usd / self.tasks if self.tasks else 0.0


def figures(view: TuneView, outcome: Outcome) -> Figures:
    right = sum((mask & view.right[model]).bit_count() for model, mask in outcome.answered)
    cost = sum(view.costs[model].sum(mask) for model, mask in outcome.calls)
    return Figures(view.size, right, cost)


def per_task(view: TuneView, outcome: Outcome) -> list[tuple[str | None, float]]:
    """Each task's answering model and cost, one task at a time (what a live run is compared with)."""
    answering: list[str | None] = [None] * view.size
    cost = [0.0] * view.size
    for model, mask in outcome.answered:
        for index in positions(mask):
            answering[index] = model
    for model, mask in outcome.calls:
        column = view.answers[model]
        for index in positions(mask):
            cost[index] += column[index].cost_usd
    return list(zip(answering, cost, strict=True))


class SimNode(Protocol):
    def outcome(self, view: TuneView, signals: Signals) -> Outcome: ...

    def spec(self, names: Names) -> Any:
        """The strategy as a profile writes it, models by their aliases."""
        ...

    def describe(self, names: Names | None = None) -> str:
        """One line for tables (models by their aliases when ``names`` gives them)."""
        ...

    def models(self) -> set[str]: ...


@dataclass(frozen=True, slots=True)
class Single:
    model: str

    def outcome(self, view: TuneView, signals: Signals) -> Outcome:
        return Outcome(((self.model, view.all),), ((self.model, view.all),))

    def spec(self, names: Names) -> Any:
        return names[self.model]

    def describe(self, names: Names | None = None) -> str:
        return _named(names, self.model)

    def models(self) -> set[str]:
        return {self.model}


@dataclass(frozen=True, slots=True)
class LearnedUse:
    """A learned gate: its model, the least probability that passes, the model it consults."""

    model: GateModel
    min_p: float
    consult: str | None = None

    def spec(self, names: Names) -> dict[str, Any]:
        return {"model": self.model.to_json(), "min_p": self.min_p} | ({"consult": names[self.consult]} if self.consult else {})

    def describe(self, names: Names | None = None) -> str:
        return f"learned p >= {self.min_p:.3g}" + (f" consulting {_named(names, self.consult)}" if self.consult else "")


@dataclass(frozen=True, slots=True)
class GateChoice:
    """A cascade's ``accept:``: the free gates, then optionally ``agree`` or a learned gate."""

    form: str | None = None  # extract: the answer's form (strict_choice for letters)
    thresholds: tuple[tuple[str, Any], ...] = ()  # (max_length | min_length | min_confidence | min_logprob, value)
    agree: str | None = None  # the model asked for a second opinion
    how: str = "choice"  # how agree compares the two answers
    learned: LearnedUse | None = None  # never with agree: the two would each ask a model

    @property
    def cleans(self) -> bool:
        """A ``min_confidence`` gate removes the confidence line every other gate reads."""
        return any(gate == "min_confidence" for gate, _ in self.thresholds)

    def free_pass(self, signals: Signals, model: str) -> int:
        passed = signals.view.all
        if self.form is not None:
            assert self.form == signals.form, "a view's form gate is its answers' own"
            passed &= signals.formed(model)
        for gate, value in self.thresholds:
            passed &= signals.threshold(gate, model, value)
        return passed

    def spec(self, names: Names) -> dict[str, Any]:
        accept: dict[str, Any] = {}
        if self.form is not None:
            accept["extract"] = self.form
        accept.update(self.thresholds)
        if self.agree is not None:
            accept["agree"] = {"model": names[self.agree], "extract": self.how}
        if self.learned is not None:
            accept["learned"] = self.learned.spec(names)
        return accept

    def describe(self, names: Names | None = None) -> str:
        parts = ([self.form] if self.form else []) + [f"{gate} {value:g}" for gate, value in self.thresholds]
        if self.agree is not None:
            parts.append(f"agree {_named(names, self.agree)}")
        if self.learned is not None:
            parts.append(self.learned.describe(names))
        return " & ".join(parts)


@dataclass(frozen=True, slots=True)
class Cascade:
    tiers: tuple[SimNode, ...]
    gate: GateChoice

    def outcome(self, view: TuneView, signals: Signals) -> Outcome:
        remaining = view.all
        parts: list[Outcome] = []
        for tier in self.tiers[:-1]:
            assert isinstance(tier, Single), "only the last tier of a simulated cascade may be a strategy"
            parts.append(Outcome((), ((tier.model, remaining),)))
            accepted = remaining & self.gate.free_pass(signals, tier.model)
            if self.gate.agree is not None:
                accepted &= signals.has_key(tier.model, self.gate.cleans)
                parts.append(Outcome((), ((self.gate.agree, accepted),)))
                accepted &= signals.agree(tier.model, self.gate.agree, self.gate.cleans)
            if self.gate.learned is not None:
                accepted = self._learned(parts, signals, tier.model, accepted)
            parts.append(Outcome(((tier.model, accepted),), ()))
            remaining &= ~accepted
        parts.append(self.tiers[-1].outcome(view, signals).restrict(remaining))
        return Outcome.join(parts)

    def _learned(self, parts: list[Outcome], signals: Signals, model: str, accepted: int) -> int:
        """A learned gate fails an answer with nothing to extract at once; else it consults its
        model (when it has one) and passes where the probability reaches ``min_p``."""
        use = self.gate.learned
        assert use is not None and self.gate.agree is None and not self.gate.cleans, "a learned gate reads the answer as recorded, alone"
        accepted &= signals.has_key(model)
        if use.consult is not None:
            parts.append(Outcome((), ((use.consult, accepted),)))
        return accepted & signals.learned(use.model, model, use.consult, use.min_p)

    def spec(self, names: Names) -> Any:
        return {"cascade": [tier.spec(names) for tier in self.tiers], "accept": self.gate.spec(names), "on_exhausted": "last"}

    def describe(self, names: Names | None = None) -> str:
        gate = f" [{self.gate.describe(names)}]"
        return " > ".join(tier.describe(names) + (gate if n < len(self.tiers) - 1 else "") for n, tier in enumerate(self.tiers))

    def models(self) -> set[str]:
        found = set().union(*(t.models() for t in self.tiers))
        consulted = {self.gate.learned.consult} if self.gate.learned and self.gate.learned.consult else set()
        return found | ({self.gate.agree} if self.gate.agree else set()) | consulted


@dataclass(frozen=True, slots=True)
class Routed:
    """A router: ``rules`` are (conditions as a profile writes them, branch), in order."""

    rules: tuple[tuple[Mapping[str, Any], SimNode], ...]
    default: SimNode
    label: str = "router"

    def outcome(self, view: TuneView, signals: Signals) -> Outcome:
        remaining = view.all
        parts: list[Outcome] = []
        for when, branch in self.rules:
            matched = remaining & signals.rule(when)
            parts.append(branch.outcome(view, signals).restrict(matched))
            remaining &= ~matched
        parts.append(self.default.outcome(view, signals).restrict(remaining))
        return Outcome.join(parts)

    def spec(self, names: Names) -> Any:
        return {"rules": [{"when": dict(when), "use": branch.spec(names)} for when, branch in self.rules], "default": self.default.spec(names)}

    def describe(self, names: Names | None = None) -> str:
        rules = "; ".join(f"{_when(when)}: {branch.describe(names)}" for when, branch in self.rules)
        return f"{self.label}({rules}; else {self.default.describe(names)})"

    def models(self) -> set[str]:
        return set().union(self.default.models(), *(branch.models() for _, branch in self.rules))


@dataclass(frozen=True, slots=True)
class Learned:
    """A learned router: ``model`` picks one of ``branches`` (named as in the model) per prompt."""

    model: LearnedModel
    branches: tuple[SimNode, ...]

    def choices(self, view: TuneView, signals: Signals) -> Sequence[int]:
        model = self.model
        return [pick(p, model.cost_usd, model.cost_weight).index for p in signals.probabilities(model)]

    def outcome(self, view: TuneView, signals: Signals) -> Outcome:
        chosen = self.choices(view, signals)
        parts = []
        for index, branch in enumerate(self.branches):
            mask = mask_of(c == index for c in chosen)
            parts.append(branch.outcome(view, signals).restrict(mask))
        return Outcome.join(parts)

    def spec(self, names: Names) -> Any:
        branches = {name: branch.spec(names) for name, branch in zip(self.model.branches, self.branches, strict=True)}
        return {"learned_router": self.model.to_json(), "branches": branches}

    def describe(self, names: Names | None = None) -> str:
        branches = " | ".join(b.describe(names) for b in self.branches)
        return f"learned router({branches}; price of accuracy {self.model.cost_weight:g}/USD)"

    def models(self) -> set[str]:
        return set().union(*(b.models() for b in self.branches))


def _when(when: Mapping[str, Any]) -> str:
    def value(v: Any) -> str:
        if isinstance(v, Mapping):
            return ", ".join(f"{k}={x}" for k, x in v.items())
        return ", ".join(map(str, v)) if isinstance(v, list) else f"{v:g}" if isinstance(v, float) else str(v)

    return ", ".join(f"{key} {value(v)}" for key, v in when.items())


def _named(names: Names | None, label: str) -> str:
    return names.get(label, label) if names else label
