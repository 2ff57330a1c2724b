"""The base of every spec: frozen, and unknown keys are errors (a typo names the key instead of
falling back to a default silently)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
