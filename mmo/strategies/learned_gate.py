"""The learned gate's model: what ``mmo tune`` trains and a cascade's ``accept: {learned: ...}``
gate reads (``mmo.strategies.gates.learned``) to predict whether a tier's answer is right.

A model is JSON data, never pickle (a profile may come from someone else), read with the standard
library only; no network. It reads what a routing decision may read, never a reference::

    {"format": "mmo-learned-gate", "version": 1,
     "extract": "choice",                 # how answers are compared (the one extractor)
     "form": "strict_choice",             # the stated form an answer may have (or null)
     "consults": true,                    # trained with a second opinion (the gate's `consult`)
     "coefficients": {"bias": -4.8, "words": 0.9, "strict": 2.6, "log_length": 2.3,
                      "hedging": -1.5, "two_letters": -2.1, "agree": 2.0, "other_none": 0.7},
     "words": {"integral": -0.4, "#cat:law": -0.9, "#len:9": 0.1, ...},
     "trained": {...}}                    # where it came from (free-form; nothing reads it)

The inputs of one answer to one request (``inputs``):

* ``words``: the prompt's evidence: the weights of its known words (the learned router's features
  of the last user message: ``request_features``) and of its category (``#cat:NAME``, from the
  request's ``category`` metadata), summed, over the square root of their number;
* ``strict``: 1 when the answer states its choice in the ``form`` (0 when the model has none);
* ``log_length``: ``log(1 + characters) / 8`` of the answer, surrounding whitespace stripped;
* ``hedging``: how many hedging words the answer holds (``HEDGING``), at most 5, over 5;
* ``two_letters``: 1 when the answer states two different choices (``answer is (X)``);
* ``agree`` (a model that ``consults`` only): 1 when the consulted model's extracted answer
  equals this one's; ``other_none``: 1 when it gave none (or could not answer).

``p(right) = 1 / (1 + exp(-(bias + sum of coefficient * input)))``. ``load_gate_model`` checks a
model before anything runs: not JSON, too big, not this format, a coefficient it does not know or a
number that is not finite is a ``ConfigError`` naming the file.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal, Mapping, cast

from mmo.strategies.learned_model import MAX_FEATURE_CHARS, MAX_FEATURES, InvalidModel, finite_number, load_checked, request_features, sigmoid

GATE_FORMAT = "mmo-learned-gate"
GATE_VERSION = 1
ANSWER_INPUTS = ("words", "strict", "log_length", "hedging", "two_letters")
CONSULT_INPUTS = ("agree", "other_none")
HEDGING = re.compile(
    r"\b(?:however|but|assum\w*|approximately|closest|likely|might|perhaps|not sure|re-?evaluat\w*|recheck|mistake|wait|"
    r"none of the|does(?:n't| not) match|not listed|nearest)\b",
    re.IGNORECASE,
)
_STATED = re.compile(r"answer is \(?([A-J])\)?")
MAX_HEDGES = 5


def prompt_features(prompt: str, category: str | None) -> frozenset[str]:
    """What the ``words`` input reads of a request: its words and length class, and its category."""
    found = request_features(prompt)
    return found | {f"#cat:{category}"} if category else found


def answer_inputs(answer: str, form_value: str | None, has_form: bool) -> dict[str, float]:
    """The inputs read from the answer's text (``form_value``: what the ``form`` extracts)."""
    text = answer.strip()
    return {
        "strict": 1.0 if has_form and form_value is not None else 0.0,
        "log_length": math.log1p(len(text)) / 8,
        "hedging": min(len(HEDGING.findall(text)), MAX_HEDGES) / MAX_HEDGES,
        "two_letters": 1.0 if len(set(_STATED.findall(text))) > 1 else 0.0,
    }


def consult_inputs(mine: str | None, theirs: str | None) -> dict[str, float]:
    """The inputs read from a second opinion: whether it agrees, whether it gave an answer."""
    return {"agree": 1.0 if mine is not None and theirs == mine else 0.0, "other_none": 1.0 if theirs is None else 0.0}


Compared = Literal["choice", "number", "json", "text"]
Form = Literal["strict_choice", "number", "json"]


@dataclass(frozen=True, slots=True)
class GateModel:
    extract: Compared
    form: Form | None
    consults: bool
    coefficients: Mapping[str, float]
    words: Mapping[str, float]
    trained: Mapping[str, Any]

    def evidence(self, features: frozenset[str]) -> float:
        found = [self.words[f] for f in sorted(features) if f in self.words]  # sorted: the same sum in every process
        return math.fsum(found) / math.sqrt(max(1, len(found)))

    def probability(self, inputs: Mapping[str, float]) -> float:
        z = self.coefficients.get("bias", 0.0) + math.fsum(self.coefficients.get(name, 0.0) * value for name, value in sorted(inputs.items()))
        return sigmoid(z)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": GATE_FORMAT,
            "version": GATE_VERSION,
            "extract": self.extract,
            "form": self.form,
            "consults": self.consults,
            "coefficients": dict(self.coefficients),
            "trained": dict(self.trained),
            "words": dict(self.words),
        }


def load_gate_model(value: str | Mapping[str, Any]) -> GateModel:
    """A model from a JSON file (a path) or given inline (a mapping), checked."""
    return load_checked(value, "learned gate model", parse_gate_model)


def parse_gate_model(data: Any) -> GateModel:
    if not isinstance(data, Mapping) or data.get("format") != GATE_FORMAT:
        raise InvalidModel(f"not a learned gate model (expected an object with \"format\": \"{GATE_FORMAT}\")")
    if data.get("version") != GATE_VERSION:
        raise InvalidModel(f"version {data.get('version')!r} is not one this mmo reads (it reads version {GATE_VERSION})")
    extract, form, consults = data.get("extract"), data.get("form"), data.get("consults")
    if extract not in ("choice", "number", "json", "text") or form not in (None, "strict_choice", "number", "json"):
        raise InvalidModel(f"`extract` {extract!r} or `form` {form!r} is not one the answer extractor knows")
    if not isinstance(consults, bool):
        raise InvalidModel("`consults` must be true or false")
    known = {"bias", *ANSWER_INPUTS, *(CONSULT_INPUTS if consults else ())}
    coefficients = data.get("coefficients")
    if not isinstance(coefficients, Mapping) or not set(coefficients) <= known:
        raise InvalidModel(f"`coefficients` must be an object with some of {', '.join(sorted(known))}")
    words = data.get("words", {})
    if not isinstance(words, Mapping) or len(words) > MAX_FEATURES or any(len(w) > MAX_FEATURE_CHARS for w in words):
        raise InvalidModel(f"`words` must be an object of at most {MAX_FEATURES:,} features of at most {MAX_FEATURE_CHARS} characters")
    trained = data.get("trained", {})
    if not isinstance(trained, Mapping):
        raise InvalidModel("`trained` must be an object")
    return GateModel(
        cast(Compared, extract),
        cast(Form | None, form),
        consults,
        {name: finite_number(value, f"coefficients.{name}") for name, value in coefficients.items()},
        {word: finite_number(value, f"words[{word!r}]") for word, value in words.items()},
        dict(trained),
    )
