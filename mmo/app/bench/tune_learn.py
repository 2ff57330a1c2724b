"""Training the learned router (``mmo.strategies.learned_model``) on the train split: pure Python,
counting words, seconds for thousands of tasks.

For each branch, every prompt feature gets the log of how much more often it occurs in prompts the
branch answered right than in those it answered wrong (naive Bayes, add-one smoothed); features
seen in fewer than ``min_count`` prompts are dropped (``max_features`` most frequent kept). A
prompt's evidence for a branch is the sum of its features' weights over the square root of their
number, and each branch's ``bias`` and ``scale`` turn evidence into a probability: a logistic
regression fitted on evidence computed *out of fold* (the train split in ``folds`` parts by
position, each scored by weights counted on the others), so the probabilities are those of prompts
the weights never saw. Those out-of-fold probabilities are also what ``mmo tune`` compares when it
chooses among learned routers, so its choice does not reward a router for remembering its
training prompts. The final weights are counted on the whole train split.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from mmo.strategies.learned_model import LearnedModel

SMOOTHING = 1.0
CALIBRATION_STEPS = 25


@dataclass(frozen=True, slots=True)
class Training:
    model: LearnedModel  # cost_weight 0: the caller sets the price of accuracy
    out_of_fold: list[tuple[float, ...]]  # per task, each branch's probability from weights that never saw it


def train_router(
    features: Sequence[frozenset[str]],
    right: Sequence[Sequence[bool]],
    names: Sequence[str],
    cost_usd: Sequence[float],
    *,
    folds: int = 5,
    min_count: int = 3,
    max_features: int = 50_000,
    trained: Mapping[str, Any] | None = None,
) -> Training:
    """``right[b][i]``: branch ``b`` answered task ``i`` right; ``features[i]``: task ``i``'s prompt."""
    vocabulary = _vocabulary(features, min_count, max_features)
    kept = [tuple(sorted(f for f in feats if f in vocabulary)) for feats in features]  # sorted: the same sums in every process
    counts = _fold_counts(kept, right, folds)
    totals = [_sum_counts(branch) for branch in counts]
    evidence = _out_of_fold_evidence(kept, counts, totals, folds)
    calibration = [_logistic_fit([row[b] for row in evidence], right[b]) for b in range(len(names))]
    weights = _weights(totals, vocabulary)
    model = LearnedModel(
        branches=tuple(names),
        bias=tuple(c[0] for c in calibration),
        scale=tuple(c[1] for c in calibration),
        weights=weights,
        cost_usd=tuple(cost_usd),
        cost_weight=0.0,
        trained=dict(trained or {}),
    )
    out_of_fold = [tuple(_sigmoid(c[0] + c[1] * e) for c, e in zip(calibration, row, strict=True)) for row in evidence]
    return Training(model, out_of_fold)


def _vocabulary(features: Sequence[frozenset[str]], min_count: int, max_features: int) -> set[str]:
    seen: Counter[str] = Counter()
    for feats in features:
        seen.update(feats)
    ranked = sorted(seen.items(), key=lambda item: (-item[1], item[0]))[:max_features]  # ties by name: the same in every process
    return {f for f, n in ranked if n >= min_count}


@dataclass(slots=True)
class _Counts:
    """Per fold: how often each feature occurs in prompts the branch got right / wrong."""

    right: Counter[str]
    wrong: Counter[str]
    n_right: int = 0
    n_wrong: int = 0


def _fold_counts(kept: Sequence[tuple[str, ...]], right: Sequence[Sequence[bool]], folds: int) -> list[list[_Counts]]:
    counts = [[_Counts(Counter(), Counter()) for _ in range(folds)] for _ in right]
    for b, column in enumerate(right):
        for index, (feats, ok) in enumerate(zip(kept, column, strict=True)):
            part = counts[b][index % folds]
            if ok:
                part.right.update(feats)
                part.n_right += 1
            else:
                part.wrong.update(feats)
                part.n_wrong += 1
    return counts


def _sum_counts(parts: Sequence[_Counts]) -> _Counts:
    total = _Counts(Counter(), Counter())
    for part in parts:
        total.right.update(part.right)
        total.wrong.update(part.wrong)
        total.n_right += part.n_right
        total.n_wrong += part.n_wrong
    return total


def _log_ratios(total: _Counts, held_out: _Counts | None, features: set[str] | None = None) -> dict[str, float]:
    """Each feature's naive Bayes weight from ``total`` minus the ``held_out`` counts."""
    n_right = total.n_right - (held_out.n_right if held_out else 0)
    n_wrong = total.n_wrong - (held_out.n_wrong if held_out else 0)
    base = math.log((n_wrong + 2 * SMOOTHING) / (n_right + 2 * SMOOTHING))
    names = features if features is not None else set(total.right) | set(total.wrong)
    out = {}
    for feature in names:
        r = total.right[feature] - (held_out.right[feature] if held_out else 0)
        w = total.wrong[feature] - (held_out.wrong[feature] if held_out else 0)
        out[feature] = math.log(r + SMOOTHING) - math.log(w + SMOOTHING) + base
    return out


def _evidence(feats: tuple[str, ...], weights: Mapping[str, float]) -> float:
    found = [weights[f] for f in feats if f in weights]
    return math.fsum(found) / math.sqrt(max(1, len(found)))


def _out_of_fold_evidence(kept: Sequence[tuple[str, ...]], counts: list[list[_Counts]], totals: list[_Counts], folds: int) -> list[list[float]]:
    evidence = [[0.0] * len(counts) for _ in kept]
    for fold in range(folds):
        members = range(fold, len(kept), folds)
        needed = {f for index in members for f in kept[index]}
        for b in range(len(counts)):
            weights = _log_ratios(totals[b], counts[b][fold], needed)
            for index in members:
                evidence[index][b] = _evidence(kept[index], weights)
    return evidence


def _weights(totals: Sequence[_Counts], vocabulary: set[str]) -> dict[str, tuple[float, ...]]:
    per_branch = [_log_ratios(total, None, vocabulary) for total in totals]
    return {feature: tuple(round(w[feature], 5) for w in per_branch) for feature in sorted(vocabulary)}


def _logistic_fit(x: Sequence[float], y: Sequence[bool]) -> tuple[float, float]:
    """(bias, scale) of ``p = sigmoid(bias + scale * x)``: Newton's method with step halving,
    lightly regularised (a branch always right or always wrong still gets finite numbers)."""
    params = (0.0, 1.0)
    loss = _loss(params, x, y)
    for _ in range(CALIBRATION_STEPS):
        step = _newton_step(params, x, y)
        if step is None:
            break
        for _halving in range(30):
            trial = (params[0] - step[0], params[1] - step[1])
            trial_loss = _loss(trial, x, y)
            if trial_loss <= loss:
                break
            step = (step[0] / 2, step[1] / 2)
        else:
            break
        converged = loss - trial_loss < 1e-10
        params, loss = trial, trial_loss
        if converged:
            break
    return round(params[0], 6), round(params[1], 6)


REGULARISATION = 1e-3


def _loss(params: tuple[float, float], x: Sequence[float], y: Sequence[bool]) -> float:
    bias, scale = params
    total = 0.0
    for xi, yi in zip(x, y, strict=True):
        z = bias + scale * xi
        total += _softplus(-z if yi else z)
    return total + REGULARISATION / 2 * (bias * bias + (scale - 1.0) ** 2)


def _newton_step(params: tuple[float, float], x: Sequence[float], y: Sequence[bool]) -> tuple[float, float] | None:
    bias, scale = params
    g0, g1 = REGULARISATION * bias, REGULARISATION * (scale - 1.0)
    h00 = h11 = REGULARISATION
    h01 = 0.0
    for xi, yi in zip(x, y, strict=True):
        p = _sigmoid(bias + scale * xi)
        d = p - (1.0 if yi else 0.0)
        w = p * (1 - p)
        g0 += d
        g1 += d * xi
        h00 += w
        h01 += w * xi
        h11 += w * xi * xi
    det = h00 * h11 - h01 * h01
    if det <= 0:
        return None
    return (h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det


def _softplus(z: float) -> float:
    return z + math.log1p(math.exp(-z)) if z > 0 else math.log1p(math.exp(z))


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-min(z, 700.0)))
    e = math.exp(max(z, -700.0))
    return e / (1.0 + e)


def word_evidence(features: Sequence[frozenset[str]], right: Sequence[bool], *, folds: int = 5, min_count: int = 3, max_features: int = 50_000) -> tuple[dict[str, float], list[float]]:
    """One outcome's naive Bayes word weights (counted on every task) and each task's evidence
    from weights counted on the other folds (what a learned gate's ``words`` input is fitted on)."""
    vocabulary = _vocabulary(features, min_count, max_features)
    kept = [tuple(sorted(f for f in feats if f in vocabulary)) for feats in features]
    counts = _fold_counts(kept, [right], folds)
    totals = [_sum_counts(branch) for branch in counts]
    evidence = [row[0] for row in _out_of_fold_evidence(kept, counts, totals, folds)]
    weights = {feature: values[0] for feature, values in _weights(totals, vocabulary).items()}
    return weights, evidence
