"""The one parameter schema: what a profile's ``defaults:`` / ``params:``, a ``-p key=value`` flag
and a batch row's ``params`` may set, validated the same way wherever they come from.

Known names are checked (``max_tokens`` above 0, ``temperature`` 0-2, ``timeout_s`` a positive
finite number...); any other name is a provider-specific field sent verbatim (``Params.extra``).
Every value, known or not, must be sendable as JSON: no NaN or infinity (``-p foo=NaN`` would
otherwise reach the wire encoder) and at most ``MAX_PARAM_DEPTH`` levels of nesting. ``model`` is
not a parameter: it would change the model called but not the one priced, capped and logged;
the model is chosen by ``-m``, the profile, or a batch row's ``model`` field. Nor are ``tools`` and
``tool_choice``: they come from ``--tools``/``--tool-choice`` or a batch row's own fields.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from pydantic import Field, ValidationError, ValidationInfo, field_validator

from mmo.core.errors import ConfigError
from mmo.core.types import Params, frozen_mapping
from mmo.spec.base import Spec

MAX_PARAM_DEPTH = 32  # levels of lists and mappings in one parameter value
MODEL_IS_NOT_A_PARAMETER = (
    "model is not a parameter (it would change the model called but not the one priced, capped and logged): "
    'choose the model with -m/--model, in the profile (its strategy or models:), or with a batch row\'s "model" field'
)

# Sent verbatim, tools would bypass their checks and the routing to models that can call them.
TOOL_FIELDS = frozenset({"tools", "tool_choice"})
TOOLS_ARE_NOT_PARAMETERS = (
    "tools are not a parameter (sent verbatim they would skip their checks and the choice of a model that can call them): "
    'give them with --tools FILE.json and --tool-choice, or a batch row\'s "tools" and "tool_choice" fields'
)


def value_problem(value: Any) -> str | None:
    """Why ``value`` cannot be sent as a parameter: a NaN or infinity anywhere in it, or nesting
    past ``MAX_PARAM_DEPTH``. Walked without recursion, so any depth is safe to check."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return "must be a finite number (JSON has no NaN or Infinity)"
        if isinstance(item, (Mapping, list, tuple)):
            if depth >= MAX_PARAM_DEPTH:
                return f"nests deeper than {MAX_PARAM_DEPTH} levels"
            children = item.values() if isinstance(item, Mapping) else item
            stack.extend((child, depth + 1) for child in children)
    return None


class ParamsSpec(Spec):
    """Generation parameters; any field left out means the provider's default."""

    max_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    response_format: dict[str, Any] | None = None
    reasoning_effort: str | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    timeout_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    extra: dict[str, Any] | None = Field(default=None, description="provider-specific fields sent verbatim")

    @field_validator("stop", mode="before")
    @classmethod
    def _stop_as_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("response_format", "extra", mode="after")
    @classmethod
    def _sendable(cls, value: dict[str, Any] | None, info: ValidationInfo) -> dict[str, Any] | None:
        if value is None:
            return value
        if info.field_name == "extra" and "model" in value:
            raise ValueError(MODEL_IS_NOT_A_PARAMETER)
        problem = value_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("temperature", "top_p", mode="after")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    def apply_to(self, params: Params) -> Params:
        """``params`` with every field this spec sets laid over it (``extra`` merged by key)."""
        changes: dict[str, Any] = {}
        for name in self.model_fields_set:
            value = getattr(self, name)
            if value is None:
                continue
            if name == "stop":
                value = tuple(value)
            elif name == "response_format":
                value = frozen_mapping(value)
            changes[name] = value
        return params.merged(**changes) if changes else params


KNOWN_PARAMS: frozenset[str] = frozenset(ParamsSpec.model_fields) - {"extra"}


def params_from_mapping(values: Mapping[str, Any], *, where: str = "parameter") -> Params:
    """Known names validated by ``ParamsSpec``; any other name goes to ``extra`` (sent verbatim).
    A bad value is a ``ConfigError`` naming the parameter and what it must be."""
    known = {name: value for name, value in values.items() if name in KNOWN_PARAMS}
    extra = {name: value for name, value in values.items() if name not in KNOWN_PARAMS and name != "extra"}
    nested = values.get("extra")
    if isinstance(nested, Mapping):
        extra = {**nested, **extra}
    elif nested is not None:
        extra["extra"] = nested
    if "model" in extra:
        raise ConfigError(f"{where} model={_short(extra['model'])}: {MODEL_IS_NOT_A_PARAMETER}")
    for name in TOOL_FIELDS & extra.keys():
        raise ConfigError(f"{where} {name}={_short(extra[name])}: {TOOLS_ARE_NOT_PARAMETERS}")
    for name, value in (*known.items(), *extra.items()):
        if (problem := value_problem(value)) is not None:
            raise ConfigError(f"{where} {name}={_short(value)}: {problem}")
    try:
        spec = ParamsSpec.model_validate(known)
    except ValidationError as error:
        raise ConfigError(_describe(error, values, where)) from None
    return spec.apply_to(Params()).merged(extra=extra) if extra else spec.apply_to(Params())


def _short(value: Any) -> str:
    import reprlib

    return reprlib.repr(value)


def _describe(error: ValidationError, values: Mapping[str, Any], where: str) -> str:
    first = error.errors()[0]
    name = str(first["loc"][0]) if first["loc"] else "?"
    reason = str(first["msg"]).removeprefix("Value error, ").replace("Input should be", "it should be")
    return f"{where} {name}={values.get(name)!r}: {reason}"
