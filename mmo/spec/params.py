"""The one parameter schema: what a profile's ``defaults:`` / ``params:``, a ``-p key=value`` flag
and a batch row's ``params`` may set, validated the same way wherever they come from.

Known names are checked (``max_tokens`` above 0, ``temperature`` 0-2, ``timeout_s`` a positive
finite number...); any other name is a provider-specific field sent verbatim (``Params.extra``).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from pydantic import Field, ValidationError, field_validator

from mmo.core.errors import ConfigError
from mmo.core.types import Params, frozen_mapping
from mmo.spec.base import Spec


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
    try:
        spec = ParamsSpec.model_validate(known)
    except ValidationError as error:
        raise ConfigError(_describe(error, values, where)) from None
    return spec.apply_to(Params()).merged(extra=extra) if extra else spec.apply_to(Params())


def _describe(error: ValidationError, values: Mapping[str, Any], where: str) -> str:
    first = error.errors()[0]
    name = str(first["loc"][0]) if first["loc"] else "?"
    reason = str(first["msg"]).removeprefix("Value error, ").replace("Input should be", "it should be")
    return f"{where} {name}={values.get(name)!r}: {reason}"
