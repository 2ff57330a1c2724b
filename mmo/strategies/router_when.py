"""``WhenSpec``: the conditions of a router rule as a profile writes them (``mmo.strategies.router_rules``
compiles and checks them)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mmo.spec.base import Spec


class WhenSpec(Spec):
    """Conditions of a router rule; every condition given must hold."""

    keywords: list[str] | None = Field(default=None, description="any of these words (case-insensitive, whole words)")
    regex: str | None = None
    tags: list[str] | None = Field(default=None, description="the request carries any of these tags")
    metadata: dict[str, str] | None = Field(default=None, description="metadata keys with these values")
    tokens_over: int | None = Field(default=None, ge=0, description="estimated prompt tokens above this")
    tokens_under: int | None = Field(default=None, ge=0)
    too_long_for: str | None = Field(
        default=None, description="a model (alias or provider:model) whose context window the prompt and its max_tokens would not fit"
    )
    pii: bool | None = Field(default=None, description="personal data detected (true) or not (false)")
    complexity_over: float | None = Field(default=None, ge=0, le=1)
    complexity_under: float | None = Field(default=None, ge=0, le=1)
    modality: Literal["image", "text"] | None = Field(default=None, description="image: the request carries images; text: it carries none")
    schema_: bool | None = Field(default=None, alias="schema", description="the request asks for JSON matching a schema (--schema)")
    tools: bool | None = Field(default=None, description="the request offers tools the model may call (--tools)")
    look_at: Literal["last_message", "conversation"] = Field(
        default="last_message", description="what keywords, regex and complexity read: the latest user message, or every user message"
    )
