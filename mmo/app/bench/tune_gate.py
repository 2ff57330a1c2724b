"""Training a learned gate (``mmo.strategies.learned_gate``) on the train split: pure Python,
seconds for thousands of tasks.

The gate predicts whether one model's answer is right. Its prompt words get naive Bayes weights
(``tune_learn.word_evidence``); its inputs (``learned_gate``: the words' evidence, the answer's
form, length and hedging, and a consulted model's agreement) are then weighed by a logistic
regression (Newton's method, lightly regularised) fitted on the words' evidence computed *out of
fold*, so the words' weight is that of prompts the word counts never saw. Only answers with
something to extract are trained on: the gate fails the others without asking the model.

The inputs of each task are computed by the same functions the gate runs (``answer_inputs``,
``consult_inputs``, ``prompt_features``), from the recorded texts.
"""

from __future__ import annotations

import math
from typing import Sequence, cast

from mmo.app.bench.tune_data import FORM, TuneView
from mmo.app.bench.tune_learn import word_evidence
from mmo.strategies.extract import extractor
from mmo.strategies.learned_gate import ANSWER_INPUTS, CONSULT_INPUTS, Compared, Form, GateModel, answer_inputs, consult_inputs, prompt_features

REGULARISATION = 1e-2
NEWTON_STEPS = 15


def train_gate(view: TuneView, first: str, consult: str | None) -> GateModel:
    """A gate on ``first``'s answers (``consult``: the model asked for a second opinion)."""
    extract, form = cast(Compared, view.how), cast(Form | None, FORM.get(view.how))
    read, read_form = extractor(extract), extractor(form) if form else None
    rows, right, features = [], [], []
    for index, task in enumerate(view.tasks):
        answer = view.answers[first][index]
        mine = read(answer.text)
        if mine is None:
            continue
        inputs = answer_inputs(answer.text, read_form(answer.text) if read_form else None, form is not None)
        if consult is not None:
            inputs |= consult_inputs(mine, read(view.answers[consult][index].text))
        category = task.request.metadata.get("category")
        features.append(prompt_features(task.request.last_user_text(), str(category) if category else None))
        rows.append(inputs)
        right.append(answer.correct)
    words, evidence = word_evidence(features, right)
    names = ["bias", *ANSWER_INPUTS, *(CONSULT_INPUTS if consult is not None else ())]
    matrix = [[1.0 if name == "bias" else e if name == "words" else row[name] for name in names] for row, e in zip(rows, evidence, strict=True)]
    weights = logistic_regression(matrix, right)
    trained = {"tasks": len(rows), "model": view.model_ids[first], "consulted": view.model_ids[consult] if consult else None, "split": "train, the half strategies are fitted on"}
    return GateModel(extract, form, consult is not None, {n: round(w, 6) for n, w in zip(names, weights, strict=True)}, {w: round(v, 5) for w, v in words.items()}, trained)


def logistic_regression(rows: Sequence[Sequence[float]], right: Sequence[bool]) -> list[float]:
    """Weights of ``p = sigmoid(row . w)`` (the first column is the bias), by Newton's method."""
    size = len(rows[0]) if rows else 1
    weights = [0.0] * size
    for _ in range(NEWTON_STEPS):
        gradient = [REGULARISATION * w for w in weights]
        hessian = [[REGULARISATION if a == b else 0.0 for b in range(size)] for a in range(size)]
        for row, ok in zip(rows, right, strict=True):
            p = _sigmoid(math.fsum(w * x for w, x in zip(weights, row, strict=True)))
            residual, curvature = p - (1.0 if ok else 0.0), p * (1 - p)
            for a, xa in enumerate(row):
                if xa:
                    gradient[a] += residual * xa
                    line, scaled = hessian[a], curvature * xa
                    for b, xb in enumerate(row):
                        line[b] += scaled * xb
        step = _solve(hessian, gradient)
        weights = [w - s for w, s in zip(weights, step, strict=True)]
        if max(map(abs, step)) < 1e-7:
            break
    return weights


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """``matrix^-1 vector`` by Gauss-Jordan elimination with partial pivoting (the matrix is a
    regularised Hessian: symmetric, positive definite)."""
    size = len(vector)
    table = [row[:] + [value] for row, value in zip(matrix, vector, strict=True)]
    for column in range(size):
        pivot = max(range(column, size), key=lambda r: abs(table[r][column]))
        table[column], table[pivot] = table[pivot], table[column]
        for r in range(size):
            if r != column and table[r][column]:
                factor = table[r][column] / table[column][column]
                table[r] = [a - factor * b for a, b in zip(table[r], table[column], strict=True)]
    return [table[r][size] / table[r][r] for r in range(size)]


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-min(z, 700.0)))
    e = math.exp(max(z, -700.0))
    return e / (1.0 + e)
