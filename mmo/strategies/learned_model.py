"""The learned router's model: what ``mmo tune`` trains and the ``learned_router`` strategy reads.

A model is JSON data, never pickle (a profile may come from someone else, and JSON can only hold
data). It is plain local inference: no network, no dependency beyond the standard library.

::

    {"format": "mmo-learned-router", "version": 1,
     "branches": ["flash", "pro"],          # the names of the router's branches, in order
     "bias": [0.41, 0.87],                  # per branch: log-odds of a right answer ...
     "scale": [0.92, 1.10],                 # ... and how much the prompt's evidence moves them
     "weights": {"integral": [-0.8, 0.1], "#len:9": [0.05, -0.02], ...},
     "cost_usd": [0.000045, 0.00061],       # per branch: the mean cost of one request in training
     "cost_weight": 400.0,                  # accuracy traded per USD: the price of a branch
     "trained": {...}}                      # where it came from (free-form; nothing reads it)

The features of a request are read from its last user message (what is being asked now): each
distinct word (a run of letters and digits that starts with a letter, 2 to 40 characters,
lower-cased) as itself, and the message's length class ``#len:N`` (N = floor(log2(characters +
1))). Features the model has no weights for are ignored. For each branch::

    evidence = sum of the weights of the request's known features / sqrt(number of them)
    p(right) = 1 / (1 + exp(-(bias + scale * evidence)))
    value    = p(right) - cost_weight * cost_usd

and the branch of the highest value answers (a tie goes to the earlier branch): the model most
likely to be right at its price. ``load_model`` checks a model before anything runs: a file that
is not JSON, too big, not this format, or holds a number that is not finite is a ``ConfigError``
naming the file and what is wrong.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, TypeVar

from mmo.core.errors import ConfigError

T = TypeVar("T")

MODEL_FORMAT = "mmo-learned-router"
MODEL_VERSION = 1
MAX_MODEL_BYTES = 32 * 1024 * 1024  # a model of 100,000 words and 8 branches is about 10 MB
MAX_BRANCHES = 64
MAX_FEATURES = 1_000_000
MAX_FEATURE_CHARS = 64

_WORD = re.compile(r"[a-z][a-z0-9]{1,39}")


def request_features(text: str) -> frozenset[str]:
    """The features of one message's text (see the module docstring)."""
    words = set(_WORD.findall(text.lower()))
    words.add(f"#len:{int(math.log2(len(text) + 1))}")
    return frozenset(words)


@dataclass(frozen=True, slots=True)
class Choice:
    """The branch picked, and each branch's probability of a right answer and value."""

    index: int
    probabilities: tuple[float, ...]
    values: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class LearnedModel:
    branches: tuple[str, ...]
    bias: tuple[float, ...]
    scale: tuple[float, ...]
    weights: Mapping[str, tuple[float, ...]]
    cost_usd: tuple[float, ...]
    cost_weight: float
    trained: Mapping[str, Any]

    def probabilities(self, features: frozenset[str]) -> tuple[float, ...]:
        known = [self.weights[feature] for feature in features if feature in self.weights]
        norm = math.sqrt(max(1, len(known)))
        sums = [math.fsum(column) for column in zip(*known, strict=True)] if known else [0.0] * len(self.branches)
        return tuple(sigmoid(b + s * total / norm) for b, s, total in zip(self.bias, self.scale, sums, strict=True))

    def choose(self, text: str) -> Choice:
        return pick(self.probabilities(request_features(text)), self.cost_usd, self.cost_weight)

    def with_cost_weight(self, cost_weight: float) -> LearnedModel:
        return LearnedModel(self.branches, self.bias, self.scale, self.weights, self.cost_usd, cost_weight, self.trained)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MODEL_FORMAT,
            "version": MODEL_VERSION,
            "branches": list(self.branches),
            "bias": list(self.bias),
            "scale": list(self.scale),
            "cost_usd": list(self.cost_usd),
            "cost_weight": self.cost_weight,
            "trained": dict(self.trained),
            "weights": {feature: list(values) for feature, values in self.weights.items()},
        }


def pick(probabilities: Sequence[float], cost_usd: Sequence[float], cost_weight: float) -> Choice:
    """The branch of the highest ``p(right) - cost_weight * cost``; a tie goes to the earlier."""
    values = tuple(p - cost_weight * cost for p, cost in zip(probabilities, cost_usd, strict=True))
    best = max(range(len(values)), key=lambda n: (values[n], -n))
    return Choice(best, tuple(probabilities), values)


def sigmoid(z: float) -> float:
    """The logistic function, without overflow at either end."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-min(z, 700.0)))
    e = math.exp(max(z, -700.0))
    return e / (1.0 + e)


# --- reading and checking --------------------------------------------------------------------


def load_model(value: str | Mapping[str, Any]) -> LearnedModel:
    """A model from a JSON file (a path) or given inline (a mapping), checked."""
    return load_checked(value, "learned router model", parse_model)


def load_checked(value: str | Mapping[str, Any], what: str, parse: Callable[[Any], T]) -> T:
    """A learned model of any kind from a JSON file (a path) or inline (a mapping), read by
    ``parse``; a problem is a ``ConfigError`` naming ``what`` and where it came from."""
    if isinstance(value, str):
        data, where = read_model_file(value, what), f"{what} {value}"
    else:
        data, where = value, f"{what} (inline)"
    try:
        return parse(data)
    except InvalidModel as problem:
        raise ConfigError(f"{where}: {problem}; write it again with `mmo tune`") from None


def beside_the_profile(value: str | dict[str, Any], profile_dir: Any) -> str | dict[str, Any]:
    """A model file named relative to the profile that names it, as a path from here."""
    if isinstance(value, str) and profile_dir is not None:
        path = Path(value).expanduser()
        if not path.is_absolute():
            return str(Path(profile_dir) / path)
    return value


def read_model_file(path: str, what: str) -> Any:
    """The JSON in a model file (``what``: how errors name it), at most ``MAX_MODEL_BYTES``."""
    where = f"{what} {path}"
    try:
        with Path(path).expanduser().open("rb") as file:
            raw = file.read(MAX_MODEL_BYTES + 1)
    except OSError as error:
        raise ConfigError(f"{where}: cannot read it: {error.strerror or error} (a relative path is read beside the profile)") from None
    if len(raw) > MAX_MODEL_BYTES:
        raise ConfigError(f"{where}: larger than {MAX_MODEL_BYTES // (1024 * 1024)} MiB: not a {what}")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as error:
        raise ConfigError(f"{where}: not valid JSON ({error})") from None
    except RecursionError:
        raise ConfigError(f"{where}: nested too deeply to be a {what}") from None


class InvalidModel(Exception):
    """What is wrong with a model's data (the caller names the file)."""


def parse_model(data: Any) -> LearnedModel:
    """The model ``data`` describes; raises ``InvalidModel`` (turned into a ``ConfigError``) when it
    is not one."""
    if not isinstance(data, Mapping) or data.get("format") != MODEL_FORMAT:
        raise InvalidModel(f"not a learned router model (expected an object with \"format\": \"{MODEL_FORMAT}\")")
    if data.get("version") != MODEL_VERSION:
        raise InvalidModel(f"version {data.get('version')!r} is not one this mmo reads (it reads version {MODEL_VERSION})")
    branches = _branches(data.get("branches"))
    count = len(branches)
    weights = _weights(data.get("weights"), count)
    cost_weight = finite_number(data.get("cost_weight"), "cost_weight")
    trained = data.get("trained", {})
    if not isinstance(trained, Mapping):
        raise InvalidModel("`trained` must be an object")
    numbers = {key: _vector(data.get(key), key, count) for key in ("bias", "scale", "cost_usd")}
    if any(cost < 0 for cost in numbers["cost_usd"]) or cost_weight < 0:
        raise InvalidModel("costs and cost_weight must not be negative")
    return LearnedModel(branches, numbers["bias"], numbers["scale"], weights, numbers["cost_usd"], cost_weight, dict(trained))


def _branches(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_BRANCHES:
        raise InvalidModel(f"`branches` must be a list of 1 to {MAX_BRANCHES} names")
    if not all(isinstance(name, str) and name for name in value) or len(set(value)) != len(value):
        raise InvalidModel("`branches` must hold distinct non-empty names")
    return tuple(value)


def _weights(value: Any, count: int) -> dict[str, tuple[float, ...]]:
    if not isinstance(value, Mapping) or len(value) > MAX_FEATURES:
        raise InvalidModel(f"`weights` must be an object of at most {MAX_FEATURES:,} features")
    out: dict[str, tuple[float, ...]] = {}
    for feature, weights in value.items():
        if len(feature) > MAX_FEATURE_CHARS:
            raise InvalidModel(f"feature {feature[:20]!r}... is longer than {MAX_FEATURE_CHARS} characters")
        out[feature] = _vector(weights, f"weights[{feature!r}]", count)
    return out


def _vector(value: Any, name: str, count: int) -> tuple[float, ...]:
    if not isinstance(value, list) or len(value) != count:
        raise InvalidModel(f"`{name}` must be a list of {count} numbers, one per branch")
    return tuple(finite_number(item, name) for item in value)


def finite_number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidModel(f"`{name}` holds {value!r}, not a finite number")
    return float(value)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
