"""The search: strategies over the benchmarked models, fitted on one view (half of the train split)
from the recorded answers only, then checked on another (the other half, ``validate``).

What is tried, in this order (each stage builds on the best of the previous ones):

1. every model alone;
2. two-tier cascades ``A > B``: every ordered pair, with every gate set on A: its answer's form
   (``extract: strict_choice`` for letters), a length limit (``max_length`` at five quantiles of
   A's answer lengths), self-rated confidence or mean log-probability (``min_confidence``,
   ``min_logprob`` at four quantiles, where the answers carry them), and agreement with a third
   model (``agree``: a sequential vote, the third model asked only when the first two disagree),
   alone or together;
3. three-tier cascades, from the best two-tier ones (``PREFIXES`` of them, the best at each of a
   range of prices of accuracy): the last tier becomes a cascade of its own with its own gates,
   or a third tier under the same gates;
4. cascades whose first tier is judged by a learned gate (``learned_gates``, trained by
   ``mmo.app.bench.tune_gate``): for the cheaper models of the single-model frontier, alone and
   consulting a second model, at ``GATE_QUANTILES`` thresholds, escalating to another model or
   to one of the best two-tier cascades that asks neither;
5. routers over a pool of the best so far (the cost/accuracy frontier, at most ``POOL``): one
   rule on complexity or prompt tokens (at four quantiles) or on a tag; and per-category choices
   (one rule per category of at least ``MIN_GROUP`` tasks, each choosing, among at most
   ``CATEGORY_POOL`` frontier members, the best accuracy at a price of accuracy; the other
   categories go to the default), scored out of fold;
6. learned routers over a few of the frontier's members (``mmo.app.bench.tune_learn``), one per
   price of accuracy, scored out of fold.

A model is asked at most once per request: a cascade never asks a model that already answered or
agreed (a second call would cost again, and a real model need not answer the same twice).

Each is a ``Candidate``: the strategy (``tune_sim``), its figures where it was fitted, and the
figures an objective compares (``select``: out of fold where a stage chooses per fold; after
``validate``, the figures on the tasks that chose).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

from mmo.app.bench.tune_bits import mask_of
from mmo.app.bench.tune_data import TuneView
from mmo.app.bench.tune_gate import train_gate
from mmo.app.bench.tune_learn import train_router
from mmo.app.bench.tune_profile import aliases
from mmo.app.bench.tune_signals import Signals, quantiles
from mmo.app.bench.tune_sim import Cascade, Figures, GateChoice, Learned, LearnedUse, Outcome, Routed, SimNode, Single, figures, per_task
from mmo.strategies.learned_model import pick

PREFIXES = 16
SHORTLIST = 400
POOL = 10
CATEGORY_POOL = 16
LEARNED_BRANCHES = 6
MIN_GROUP = 20
LENGTH_QUANTILES = 5
SCORE_QUANTILES = 4
RULE_QUANTILES = 4
GATE_FIRSTS = 2
GATE_CONSULTS = 2
GATE_QUANTILES = 24
GATE_NESTED = 6
RECORDED_SHARE = 0.5  # a gate on confidence or logprobs is tried when at least this share of answers has one


@dataclass(frozen=True, slots=True)
class Candidate:
    node: SimNode
    kind: str
    fitted: Figures  # simulated on the view it was fitted on
    select: Figures  # what objectives compare: ``fitted``, out of fold for a router that chose per fold, or (after ``validate``) on other tasks
    right: int  # the tasks ``select`` counts right, for paired comparisons

    def value(self, price: float) -> float:
        """Accuracy minus ``price`` (accuracy per USD) times cost per task."""
        return self.select.accuracy - price * self.select.cost_per_task


@dataclass(frozen=True, slots=True)
class SearchOptions:
    learned: bool = True
    gates: bool = True
    routers: bool = True
    three_tiers: bool = True


def search(view: TuneView, options: SearchOptions = SearchOptions(), progress: Callable[[str], None] | None = None) -> list[Candidate]:
    """Every candidate strategy, scored on ``view``."""
    signals = Signals(view)
    say = progress or (lambda _: None)
    found = [_scored(view, signals, Single(m), "single") for m in view.labels]
    say(f"{len(view.labels)} models")
    found += two_tier(view, signals)
    say(f"{len(found)} strategies after two-tier cascades")
    if options.three_tiers:
        found += three_tier(view, signals, found)
        say(f"{len(found)} after three-tier cascades")
    if options.learned and options.gates:
        found += learned_gates(view, signals, found)
        say(f"{len(found)} after cascades with learned gates")
    if options.routers:
        found += routers(view, signals, pool(found, POOL), pool(found, CATEGORY_POOL))
        say(f"{len(found)} after routers")
    if options.learned:
        found += learned(view, signals, pool(found, LEARNED_BRANCHES))
        say(f"{len(found)} after learned routers")
    return found


def validate(candidates: Sequence[Candidate], view: TuneView, limit: int = SHORTLIST) -> list[Candidate]:
    """The short-list scored afresh on ``view`` (tasks none of them was fitted on): every model
    alone, and the candidates closest to the fitted frontier (within one standard error of its
    accuracy at their cost), at most ``limit``. Their ``select`` figures become ``view``'s."""
    signals = Signals(view)
    listed = _shortlist(candidates, limit)
    return [Candidate(c.node, c.kind, c.fitted, *_checked(view, signals, c.node)) for c in listed]


def _checked(view: TuneView, signals: Signals, node: SimNode) -> tuple[Figures, int]:
    outcome = node.outcome(view, signals)
    return figures(view, outcome), right_of(view, outcome)


def _shortlist(candidates: Sequence[Candidate], limit: int) -> list[Candidate]:
    """Every single model, and for each kind of strategy its members closest to that kind's own
    frontier: kinds are listed apart because their fitted figures are not alike (a router scored
    out of fold looks worse than a cascade scored on the tasks it was fitted to)."""
    kinds = sorted({c.kind for c in candidates} - {"single"})
    listed = [order for order, c in enumerate(candidates) if c.kind == "single"]
    for kind in kinds:
        members = [(order, c) for order, c in enumerate(candidates) if c.kind == kind]
        listed += _closest(members, max(1, limit // max(1, len(kinds))))
    return [candidates[order] for order in listed]


def _closest(members: Sequence[tuple[int, Candidate]], limit: int) -> list[int]:
    front = frontier([c for _, c in members])
    gaps = []
    for order, c in members:
        best = max((f.select.accuracy for f in front if f.select.cost_per_task <= c.select.cost_per_task), default=0.0)
        slack = math.sqrt(max(best * (1 - best), 1e-9) / max(c.select.tasks, 1))
        if c.select.accuracy >= best - slack:
            gaps.append((best - c.select.accuracy, c.select.cost_usd, order))
    return [order for *_, order in sorted(gaps)[:limit]]


def _scored(view: TuneView, signals: Signals, node: SimNode, kind: str) -> Candidate:
    outcome = node.outcome(view, signals)
    result = figures(view, outcome)
    return Candidate(node, kind, result, result, right_of(view, outcome))


def right_of(view: TuneView, outcome: Outcome) -> int:
    right = 0
    for model, mask in outcome.answered:
        right |= mask & view.right[model]
    return right


def frontier(candidates: Iterable[Candidate]) -> list[Candidate]:
    """The candidates no other beats on both accuracy and cost (``select`` figures), cheapest first."""
    ordered = sorted(candidates, key=lambda c: (c.select.cost_per_task, -c.select.accuracy))
    kept: list[Candidate] = []
    for candidate in ordered:
        if not kept or candidate.select.accuracy > kept[-1].select.accuracy:
            kept.append(candidate)
    return kept


def prices(candidates: Sequence[Candidate]) -> list[float]:
    """Prices of accuracy (accuracy per USD per task) at which each frontier point is the best:
    the slopes between neighbours, and 0 (accuracy at any price)."""
    front = frontier(candidates)
    slopes = [0.0]
    for cheaper, dearer in itertools.pairwise(front):
        gained = dearer.select.accuracy - cheaper.select.accuracy
        spent = dearer.select.cost_per_task - cheaper.select.cost_per_task
        if spent > 0:
            slopes.append(gained / spent)
    return sorted(set(slopes))


def pool(candidates: Sequence[Candidate], size: int) -> list[Candidate]:
    """At most ``size`` frontier members, spread from the cheapest to the most accurate."""
    front = frontier(candidates)
    if len(front) <= size:
        return front
    step = (len(front) - 1) / (size - 1)
    return [front[round(k * step)] for k in range(size)]


# --- cascades --------------------------------------------------------------------------------


def gate_choices(signals: Signals, model: str, others: Sequence[str]) -> Iterator[GateChoice]:
    """Every gate set tried on ``model``'s answers; ``others`` may be asked to agree."""
    forms = [None, signals.form] if signals.form else [None]
    agree: list[str | None] = [None, *others]
    for form, threshold, second in itertools.product(forms, _thresholds(signals, model), agree):
        if form is None and threshold is None and second is None:
            continue  # no gate: the first tier would always answer
        yield GateChoice(form, (threshold,) if threshold else (), second, signals.view.how)


def _thresholds(signals: Signals, model: str) -> list[tuple[str, float] | None]:
    found: list[tuple[str, float] | None] = [None]
    found += [("max_length", length) for length in quantiles(signals.figures("max_length", model), LENGTH_QUANTILES)]
    for gate in ("min_confidence", "min_logprob"):
        values = signals.figures(gate, model)
        if sum(v is not None for v in values) >= RECORDED_SHARE * len(values):
            found += [(gate, value) for value in quantiles(values, SCORE_QUANTILES)]
    return found


@dataclass(frozen=True, slots=True)
class _Screened:
    """One tier under one gate set, on the tasks that reach it: what it keeps and spends."""

    gate: GateChoice
    accepted: int
    right: int  # the accepted answers that are right
    cost: float


def _screen(view: TuneView, signals: Signals, model: str, gate: GateChoice, reaching: int) -> _Screened:
    outcome = Cascade((Single(model), _Nothing()), gate).outcome(view, signals).restrict(reaching)
    accepted = next(mask for m, mask in outcome.answered if m == model)
    return _Screened(gate, accepted, accepted & view.right[model], figures(view, outcome).cost_usd)


class _Nothing:
    """A last tier that answers nothing and costs nothing: what a tier passes on, screened alone."""

    def outcome(self, view: TuneView, signals: Signals) -> Outcome:
        return Outcome((), ())

    def spec(self, names: object) -> None:
        return None

    def describe(self, names: object = None) -> str:
        return "-"

    def models(self) -> set[str]:
        return set()


def two_tier(view: TuneView, signals: Signals) -> list[Candidate]:
    found = []
    for first in view.labels:
        others = [m for m in view.labels if m != first]
        for gate in gate_choices(signals, first, others):
            screened = _screen(view, signals, first, gate, view.all)
            rest = view.all & ~screened.accepted
            for last in others:
                if last == gate.agree:
                    continue  # a model is asked once per request: the same answer twice costs twice
                right = screened.right | (rest & view.right[last])
                result = Figures(view.size, right.bit_count(), screened.cost + view.costs[last].sum(rest))
                found.append(Candidate(Cascade((Single(first), Single(last)), gate), "cascade", result, result, right))
    return found


def three_tier(view: TuneView, signals: Signals, found: Sequence[Candidate]) -> list[Candidate]:
    cascades = [c for c in found if isinstance(c.node, Cascade) and len(c.node.tiers) == 2]
    out = []
    for prefix in _best_at_each_price(cascades, PREFIXES):
        assert isinstance(prefix.node, Cascade)
        first, middle = prefix.node.tiers
        assert isinstance(first, Single) and isinstance(middle, Single)
        head = Cascade((first, _Nothing()), prefix.node.gate).outcome(view, signals)
        reaching = view.all & ~next(mask for m, mask in head.answered if m == first.model)
        head_figures, head_right = figures(view, head), right_of(view, head)
        asked = {first.model, middle.model, prefix.node.gate.agree}  # a model is asked once per request
        for last in (m for m in view.labels if m not in asked):
            if prefix.node.gate.agree is None:  # the same gates on two tiers would ask the agreeing model twice
                out.append(_scored(view, signals, Cascade((first, middle, Single(last)), prefix.node.gate), "cascade"))
            others = [m for m in view.labels if m not in asked and m != last]
            for gate in gate_choices(signals, middle.model, others):
                screened = _screen(view, signals, middle.model, gate, reaching)
                rest = reaching & ~screened.accepted
                right = head_right | screened.right | (rest & view.right[last])
                cost = head_figures.cost_usd + screened.cost + view.costs[last].sum(rest)
                result = Figures(view.size, right.bit_count(), cost)
                node = Cascade((first, Cascade((middle, Single(last)), gate)), prefix.node.gate)
                out.append(Candidate(node, "cascade", result, result, right))
    return out


def _best_at_each_price(candidates: Sequence[Candidate], count: int) -> list[Candidate]:
    """Up to ``count`` candidates: the best few at each price of accuracy along the frontier."""
    chosen: dict[int, Candidate] = {}
    levels = prices(candidates)
    per_level = max(1, count // max(1, len(levels)))
    for price in levels:
        for candidate in sorted(candidates, key=lambda c: -c.value(price))[:per_level]:
            chosen.setdefault(id(candidate), candidate)
    ranked = sorted(chosen.values(), key=lambda c: (c.select.cost_per_task, -c.select.accuracy))
    return ranked[:count]


# --- learned gates ---------------------------------------------------------------------------


def learned_gates(view: TuneView, signals: Signals, found: Sequence[Candidate]) -> list[Candidate]:
    """Cascades whose first tier is judged by a learned gate (``tune_gate``), with and without a
    second opinion, at ``GATE_QUANTILES`` thresholds, escalating to another model or to one of
    the best two-tier cascades that asks neither model."""
    if view.size < 50 or len(view.labels) < 2:
        return []
    singles = [c for c in found if c.kind == "single"]
    firsts = [c.node for c in frontier(singles)][:-1][:GATE_FIRSTS]
    cascades = [c for c in found if isinstance(c.node, Cascade) and len(c.node.tiers) == 2]
    out = []
    for first in firsts:
        assert isinstance(first, Single)
        for consult in _consults(singles, first.model):
            model = train_gate(view, first.model, consult)
            asked = {first.model, consult}
            lasts: list[SimNode] = [Single(m) for m in view.labels if m not in asked]
            lasts += [c.node for c in _best_at_each_price([c for c in cascades if not c.node.models() & asked], GATE_NESTED)]
            tails = [(last, last.outcome(view, signals)) for last in lasts]
            values = [p for p in signals.gate_probabilities(model, first.model, consult) if p is not None]
            for threshold in quantiles([round(p, 4) for p in values], GATE_QUANTILES):
                gate = GateChoice(how=view.how, learned=LearnedUse(model, threshold, consult))
                screened = _screen(view, signals, first.model, gate, view.all)
                rest = view.all & ~screened.accepted
                for last, outcome in tails:
                    part = outcome.restrict(rest)
                    right = screened.right | right_of(view, part)
                    result = Figures(view.size, right.bit_count(), screened.cost + figures(view, part).cost_usd)
                    out.append(Candidate(Cascade((first, last), gate), "learned gate", result, result, right))
    return out


def _consults(singles: Sequence[Candidate], first: str) -> list[str | None]:
    """No second opinion; the ``GATE_CONSULTS`` most accurate other models cheaper than the most
    accurate one; and the cheapest other model."""
    others = [c for c in singles if isinstance(c.node, Single) and c.node.model != first]
    if not others:
        return [None]
    dearest = max(others, key=lambda c: (c.select.accuracy, -c.select.cost_usd))
    cheaper = sorted((c for c in others if c.select.cost_usd < dearest.select.cost_usd), key=lambda c: -c.select.accuracy)
    chosen = [c.node.model for c in cheaper[:GATE_CONSULTS] if isinstance(c.node, Single)]
    cheapest = min(others, key=lambda c: c.select.cost_usd).node
    assert isinstance(cheapest, Single)
    return [None, *dict.fromkeys([*chosen, cheapest.model])]


# --- routers ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Branch:
    """A pool member's outcome on the view, to score it on any subset of the tasks."""

    candidate: Candidate
    outcome: Outcome
    right: int

    def on(self, view: TuneView, mask: int) -> tuple[int, float]:
        part = self.outcome.restrict(mask)
        return (self.right & mask).bit_count(), sum(view.costs[m].sum(s) for m, s in part.calls)


def _branches(view: TuneView, signals: Signals, members: Sequence[Candidate]) -> list[_Branch]:
    out = []
    for member in members:
        outcome = member.node.outcome(view, signals)
        right = 0
        for model, mask in outcome.answered:
            right |= mask & view.right[model]
        out.append(_Branch(member, outcome, right))
    return out


def routers(view: TuneView, signals: Signals, members: Sequence[Candidate], category_members: Sequence[Candidate]) -> list[Candidate]:
    branches = _branches(view, signals, members)
    out = []
    for when, kind in _single_rules(view, signals):
        matched = signals.rule(when)
        if not matched or matched == view.all:
            continue
        for then, otherwise in itertools.permutations(branches, 2):
            right_a, cost_a = then.on(view, matched)
            right_b, cost_b = otherwise.on(view, view.all & ~matched)
            result = Figures(view.size, right_a + right_b, cost_a + cost_b)
            node = Routed(((when, then.candidate.node),), otherwise.candidate.node, kind)
            out.append(Candidate(node, kind, result, result, (then.right & matched) | (otherwise.right & ~matched)))
    wider = _branches(view, signals, category_members)
    out += per_category(view, signals, wider, prices([b.candidate for b in wider]))
    return out


def _single_rules(view: TuneView, signals: Signals) -> Iterator[tuple[dict[str, object], str]]:
    for value in quantiles(signals.complexity(), RULE_QUANTILES):
        yield {"complexity_over": value}, "complexity router"
    for tokens in quantiles(signals.prompt_tokens(), RULE_QUANTILES):
        yield {"tokens_over": tokens}, "length router"
    counts: dict[str, int] = {}
    for task in view.tasks:
        for tag in task.tags:
            counts[tag] = counts.get(tag, 0) + 1
    for tag, count in sorted(counts.items()):
        if MIN_GROUP <= count < view.size:
            yield {"tags": [tag]}, "tag router"


def per_category(view: TuneView, signals: Signals, branches: Sequence[_Branch], levels: Sequence[float], folds: int = 5) -> list[Candidate]:
    """Category routers, one per price of accuracy. Each is scored out of fold too (the choice
    for a category made on the other folds' tasks, scored on this fold's), since choosing among
    many strategies for each of many small categories flatters the in-sample figures."""
    groups = {c: m for c, m in sorted(view.categories().items()) if m.bit_count() >= MIN_GROUP}
    if len(groups) < 2:
        return []
    rest = view.all
    for mask in groups.values():
        rest &= ~mask
    # The default answers the other categories' tasks; with none, it is chosen on all tasks
    # (for requests of a category the bench did not have), and scores nothing.
    parts: dict[str | None, int] = {**{c: signals.rule(_category_rule(c)) for c in groups}, None: rest or view.all}
    fold_masks = [mask_of(n % folds == f for n in range(view.size)) for f in range(folds)]
    scores = {part: [[b.on(view, mask & fm) for fm in fold_masks] for b in branches] for part, mask in parts.items()}
    scored = {part: options for part, options in scores.items() if part is not None or rest}
    out: dict[str, Candidate] = {}
    for price in levels:
        choices = {part: _best(_totals(options), price) for part, options in scores.items()}
        node = _category_router(branches, choices)
        candidate = _scored(view, signals, node, "category router")
        picked = {(part, fold): _held_out_choice(options, fold, price) for part, options in scored.items() for fold in range(folds)}
        held_out = Figures(view.size, sum(scored[p][n][f][0] for (p, f), n in picked.items()), sum(scored[p][n][f][1] for (p, f), n in picked.items()))
        right = 0
        for (part, fold), n in picked.items():
            right |= branches[n].right & parts[part] & fold_masks[fold]
        out.setdefault(node.describe(), Candidate(node, candidate.kind, candidate.fitted, held_out, right))
    return list(out.values())


def _category_rule(category: str) -> dict[str, object]:
    return {"metadata": {"category": category}}


def _totals(per_fold: Sequence[Sequence[tuple[int, float]]]) -> list[tuple[int, float]]:
    return [(sum(r for r, _ in folds), sum(c for _, c in folds)) for folds in per_fold]


def _best(options: Sequence[tuple[int, float]], price: float) -> int:
    """The option with the most right answers less ``price`` times its cost; the cheaper on a tie."""
    return max(range(len(options)), key=lambda n: (options[n][0] - price * options[n][1], -options[n][1]))


def _held_out_choice(per_branch: Sequence[Sequence[tuple[int, float]]], fold: int, price: float) -> int:
    """The branch chosen for a category on every fold but ``fold`` (to be scored on ``fold``)."""
    totals = _totals(per_branch)
    return _best([(r - per_branch[n][fold][0], c - per_branch[n][fold][1]) for n, (r, c) in enumerate(totals)], price)


def _category_router(branches: Sequence[_Branch], choices: dict[str | None, int]) -> SimNode:
    default = choices.pop(None)
    kept = tuple((_category_rule(c), branches[n].candidate.node) for c, n in choices.items() if c is not None and n != default)
    if not kept:
        return branches[default].candidate.node
    return Routed(kept, branches[default].candidate.node, "category router")


# --- learned routers -------------------------------------------------------------------------


def learned(view: TuneView, signals: Signals, members: Sequence[Candidate]) -> list[Candidate]:
    if len(members) < 2 or view.size < 50:
        return []
    branches = _branches(view, signals, members)
    costs = [per_task(view, b.outcome) for b in branches]
    right = [[bool(b.right >> n & 1) for n in range(view.size)] for b in branches]
    aliased = aliases(view.model_ids)
    names = [f"b{n + 1}-{_slug(b.candidate.node.describe(aliased))}" for n, b in enumerate(branches)]
    mean_cost = [b.candidate.fitted.cost_per_task for b in branches]
    training = train_router(signals.features, right, names, mean_cost, trained={"tasks": view.size, "split": "train, the half strategies are fitted on"})
    nodes = tuple(b.candidate.node for b in branches)
    out: dict[tuple[int, ...], Candidate] = {}
    for price in prices(members):
        picks = [pick(p, mean_cost, price).index for p in training.out_of_fold]
        key = tuple(picks)
        if key in out or len(set(picks)) < 2:
            continue
        held_out = mask_of(right[b][n] for n, b in enumerate(picks))
        cost = sum(costs[b][n][1] for n, b in enumerate(picks))
        node = Learned(training.model.with_cost_weight(price), nodes)
        out[key] = Candidate(node, "learned router", _scored(view, signals, node, "").fitted, Figures(view.size, held_out.bit_count(), cost), held_out)
    return list(out.values())


def _slug(text: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "-." else "-" for ch in text.replace("replay:", ""))
    return "-".join(part for part in cleaned.split("-") if part)[:48]

