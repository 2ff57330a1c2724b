"""The profile schema: pydantic models for what a user writes in YAML.

Every model forbids unknown keys, so a typo is an error naming the key, not a silent default.
A strategy node is written as a model reference (``fast``, ``openai:gpt-5-mini``) or as a
mapping whose *kind key* says what it is (``{fallback: [...]}``); later strategies add their own
spec class and kind key to ``NODE_SPECS`` and the builder, and nothing else changes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

from mmo.core.types import Params, frozen_mapping


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PriceSpec(Spec):
    """USD per 1M tokens. A model priced 0/0 costs a known $0."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)


class ParamsSpec(Spec):
    """Generation parameters; any field left out means the provider's default."""

    max_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    stop: list[str] | None = None
    seed: int | None = None
    response_format: dict[str, Any] | None = None
    reasoning_effort: str | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    timeout_s: float | None = Field(default=None, gt=0)
    extra: dict[str, Any] | None = Field(default=None, description="provider-specific fields sent verbatim")

    @field_validator("stop", mode="before")
    @classmethod
    def _stop_as_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

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


class ModelEntry(Spec):
    """A model in the portfolio, with what mmo should know about it."""

    model: str = Field(description="provider:model, e.g. openai:gpt-5-mini or ollama:llama3.1:8b")
    local: bool = Field(default=False, description="runs on this machine: costs $0, may receive PII")
    price: PriceSpec | None = None
    context_window: int | None = Field(default=None, gt=0)
    params: ParamsSpec | None = None


class ProviderEntry(Spec):
    """An endpoint a profile declares or adjusts. ``kind`` is the wire format it speaks."""

    kind: Literal["openai", "anthropic", "gemini", "replay"] = "openai"
    base_url: str | None = None
    key_env: str | None = Field(default=None, description="environment variable holding the key")
    key: Literal["required", "none"] = Field(default="required", description="'none' for servers that need no key")
    headers: dict[str, str] = Field(default_factory=dict)
    path: str | None = Field(default=None, description="replay only: a JSONL(.gz) file or builtin:NAME")
    sleep: bool = Field(default=False, description="replay only: wait the simulated latency")

    @field_validator("headers")
    @classmethod
    def _no_secrets_in_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name.lower() in {"authorization", "x-api-key", "x-goog-api-key", "api-key"}:
                raise ValueError(f"header {name!r} would put a key in a plain file: use `mmo keys set` or key_env instead")
        return value


class RetrySpec(Spec):
    """How a fallback treats a failing target before moving on."""

    attempts: int = Field(default=2, ge=1, le=10, description="tries per target for retryable errors")
    backoff_s: float = Field(default=0.5, gt=0, description="first back-off; doubles each retry, with jitter")
    max_backoff_s: float = Field(default=8.0, gt=0)
    max_retry_after_s: float = Field(default=30.0, ge=0, description="longer Retry-After hints move on instead of waiting")
    fail_fast: bool = Field(default=False, description="never wait: move to the next target at once")


class BudgetSpec(Spec):
    per_request_usd: float | None = Field(default=None, gt=0)
    daily_usd: float | None = Field(default=None, gt=0)


class LimitSpec(Spec):
    rpm: int | None = Field(default=None, gt=0)
    tpm: int | None = Field(default=None, gt=0)
    concurrency: int | None = Field(default=None, gt=0)


# ---- strategy nodes ---------------------------------------------------------------------------


class ModelNodeSpec(Spec):
    """A leaf: one model, by alias or provider:model, with optional parameter overrides."""

    model: str
    params: ParamsSpec | None = None


class FallbackSpec(Spec):
    """Ordered alternatives: retry a target on retryable errors, then move to the next."""

    fallback: list[NodeSpec] = Field(min_length=1)
    retry: RetrySpec | None = None


# kind key -> spec class. A mapping node is recognised by the first of these keys it holds.
NODE_SPECS: dict[str, type[Spec]] = {"model": ModelNodeSpec, "fallback": FallbackSpec}


def node_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "ref"
    if isinstance(value, Spec):
        return next((k for k, cls in NODE_SPECS.items() if isinstance(value, cls)), None)
    if isinstance(value, dict):
        return next((k for k in NODE_SPECS if k in value), None)
    return None


NodeSpec = Annotated[
    Union[
        Annotated[str, Tag("ref")],
        Annotated[ModelNodeSpec, Tag("model")],
        Annotated[FallbackSpec, Tag("fallback")],
    ],
    Discriminator(
        node_kind,
        custom_error_type="unknown_strategy",
        custom_error_message="expected a model name or a mapping with one of the keys: model, fallback",
    ),
]


class Profile(Spec):
    """A named portfolio of models and the strategy that routes between them."""

    name: str
    description: str = ""
    models: dict[str, Union[str, ModelEntry]] = Field(default_factory=dict, description="alias -> provider:model or an entry")
    providers: dict[str, ProviderEntry] = Field(default_factory=dict)
    defaults: ParamsSpec = Field(default_factory=ParamsSpec)
    retry: RetrySpec = Field(default_factory=RetrySpec)
    budget: BudgetSpec = Field(default_factory=BudgetSpec)
    limits: dict[str, LimitSpec] = Field(default_factory=dict)
    strategy: NodeSpec

    def model_entry(self, alias: str) -> ModelEntry | None:
        entry = self.models.get(alias)
        return ModelEntry(model=entry) if isinstance(entry, str) else entry


FallbackSpec.model_rebuild()
Profile.model_rebuild()
