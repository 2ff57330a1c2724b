"""What the real gates, the one extractor and the router's rules make of a view's recorded answers
and prompts, computed once so the search can score thousands of strategies with set operations.

Nothing here re-implements a gate or a rule: each figure is what the strategy code returns when
handed the recorded answer (``Completion``) or the task's request. The extract gate's verdict,
the letter the agree gate compares (``mmo.strategies.extract``), the length, confidence and
log-probability the length, ``min_confidence`` and ``min_logprob`` gates report as their score,
and whether a router rule matches (``RequestFacts`` and the compiled rule, as a router runs it).
A threshold gate's verdict depends only on the figure it compares, so it is asked once per
distinct figure (on one answer that has it) and the verdict applies to every answer with it.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any, Callable, Hashable, Mapping, Sequence, cast

from mmo.app.bench.tune_bits import mask_of
from mmo.app.bench.tune_data import FORM, TuneView
from mmo.core.protocols import Node
from mmo.core.types import Completion
from mmo.runtime.tokens import TokenEstimator
from mmo.spec.extract import ExtractSpec
from mmo.strategies.extract import extractor
from mmo.strategies.gates.confidence import ConfidenceGate, split_confidence
from mmo.strategies.gates.extracted import ExtractGate
from mmo.strategies.gates.learned import probability
from mmo.strategies.gates.length import MaxLengthGate, MinLengthGate
from mmo.strategies.gates.logprob import LogprobGate
from mmo.strategies.gates.verdict import LocalGate
from mmo.strategies.learned_gate import GateModel
from mmo.strategies.learned_model import LearnedModel, request_features
from mmo.strategies.router_rules import RequestFacts, compile_rule
from mmo.strategies.router_when import WhenSpec

THRESHOLD_GATES: Mapping[str, Callable[[Any], LocalGate]] = {
    "max_length": MaxLengthGate,
    "min_length": MinLengthGate,
    "min_confidence": ConfidenceGate,
    "min_logprob": LogprobGate,
}


class Signals:
    """One view's gate and rule signals, each computed on first use and kept."""

    def __init__(self, view: TuneView) -> None:
        self.view = view
        self._extract = extractor(cast(ExtractSpec, view.how))
        self._keys: dict[tuple[str, bool], tuple[str | None, ...]] = {}
        self._masks: dict[Hashable, int] = {}
        self._figures: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._probabilities: tuple[Mapping[str, Any], list[tuple[float, ...]]] | None = None
        self._gates: dict[tuple[int, str, str | None], tuple[GateModel, tuple[float | None, ...]]] = {}

    # --- answers -------------------------------------------------------------------------

    def keys(self, label: str, cleaned: bool = False) -> tuple[str | None, ...]:
        """What the agree gate extracts from each answer (``cleaned``: without the confidence
        line a ``min_confidence`` gate removes first)."""
        if (label, cleaned) not in self._keys:
            texts = (a.text for a in self.view.answers[label])
            self._keys[label, cleaned] = tuple(self._extract(split_confidence(t)[0] if cleaned else t) for t in texts)
        return self._keys[label, cleaned]

    def has_key(self, label: str, cleaned: bool = False) -> int:
        return self._cached(("has", label, cleaned), lambda: mask_of(key is not None for key in self.keys(label, cleaned)))

    def agree(self, label: str, other: str, cleaned: bool = False) -> int:
        """Where ``other``'s answer gives the same value as ``label``'s (the agree gate passes)."""

        def compute() -> int:
            theirs = self.keys(other)
            return mask_of(mine is not None and mine == their for mine, their in zip(self.keys(label, cleaned), theirs, strict=True))

        return self._cached(("agree", label, other, cleaned), compute)

    @cached_property
    def form(self) -> str | None:
        """The extract gate that checks an answer's form, if the answers have one."""
        return FORM.get(self.view.how)

    def formed(self, label: str) -> int:
        """Where the extract gate (``extract: <form>``) passes."""
        assert self.form is not None
        gate = ExtractGate(self.form)
        return self._cached(("formed", label), lambda: mask_of(gate.verdict(self._completion(label, n)).passed for n in range(self.view.size)))

    def figures(self, gate: str, label: str) -> tuple[Any, ...]:
        """The figure a threshold gate compares, for each answer (``None`` where there is none)."""
        if (gate, label) not in self._figures:
            probe = THRESHOLD_GATES[gate](0)
            self._figures[gate, label] = tuple(probe.verdict(self._completion(label, n)).score for n in range(self.view.size))
        return self._figures[gate, label]

    def threshold(self, gate: str, label: str, value: Any) -> int:
        """Where ``gate: value`` passes on ``label``'s answers."""
        return self._cached(("threshold", gate, label, value), lambda: self._by_figure(gate, label, value))

    def _by_figure(self, gate: str, label: str, value: Any) -> int:
        judge = THRESHOLD_GATES[gate](value)
        verdicts: dict[Any, bool] = {}
        figures = self.figures(gate, label)
        for index, figure in enumerate(figures):
            if figure not in verdicts:
                verdicts[figure] = judge.verdict(self._completion(label, index)).passed
        return mask_of(verdicts[figure] for figure in figures)

    def gate_probabilities(self, model: GateModel, label: str, consult: str | None) -> tuple[float | None, ...]:
        """What a learned gate makes of each of ``label``'s answers (``None``: nothing to
        extract), ``consult``'s answer its second opinion: the gate's own ``probability``."""
        key = (id(model), label, consult)
        kept = self._gates.get(key)
        if kept is None or kept[0] is not model:
            answers, others = self.view.answers[label], self.view.answers[consult] if consult else None
            found = tuple(probability(model, task.request, answers[n].text, others[n].text if others else None) for n, task in enumerate(self.view.tasks))
            kept = self._gates[key] = (model, found)
        return kept[1]

    def learned(self, model: GateModel, label: str, consult: str | None, min_p: float) -> int:
        """Where a learned gate with ``min_p`` passes ``label``'s answers."""
        return mask_of(p is not None and p >= min_p for p in self.gate_probabilities(model, label, consult))

    def _completion(self, label: str, index: int) -> Completion:
        return self.view.completion(label, index)

    # --- prompts -------------------------------------------------------------------------

    @cached_property
    def facts(self) -> list[RequestFacts]:
        estimator = TokenEstimator()  # chars/4 for a prompt: what a router's rules count with
        return [RequestFacts(task.request, estimator, lambda target: None) for task in self.view.tasks]

    def rule(self, when: Mapping[str, Any]) -> int:
        """Where a router rule with these conditions matches."""

        def compute() -> int:
            compiled = compile_rule(1, WhenSpec.model_validate(when), cast(Node, None), _no_model)
            return mask_of(compiled.reasons(facts) is not None for facts in self.facts)

        return self._cached(("rule", json.dumps(when, sort_keys=True)), compute)

    def complexity(self) -> tuple[float, ...]:
        return tuple(facts.complexity().value for facts in self.facts)

    def prompt_tokens(self) -> tuple[int, ...]:
        return tuple(facts.prompt_tokens() for facts in self.facts)

    @cached_property
    def features(self) -> list[frozenset[str]]:
        """What the learned router reads of each prompt."""
        return [request_features(task.request.last_user_text()) for task in self.view.tasks]

    def probabilities(self, model: LearnedModel) -> list[tuple[float, ...]]:
        """Each prompt's branch probabilities under ``model`` (kept for models that share its
        weights: the same router at other prices of accuracy)."""
        kept = self._probabilities
        if kept is None or kept[0] is not model.weights:
            kept = self._probabilities = (model.weights, [model.probabilities(features) for features in self.features])
        return kept[1]

    def _cached(self, key: Hashable, compute: Callable[[], int]) -> int:
        if key not in self._masks:
            self._masks[key] = compute()
        return self._masks[key]


def _no_model(name: str) -> Any:
    raise AssertionError("tune's rules name no model")


def quantiles(values: Sequence[Any], count: int) -> list[Any]:
    """Up to ``count`` distinct values splitting ``values`` into equal parts (in order)."""
    ordered = sorted(v for v in values if v is not None)
    if not ordered:
        return []
    found = [ordered[min(len(ordered) - 1, len(ordered) * k // (count + 1))] for k in range(1, count + 1)]
    return list(dict.fromkeys(found))
