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
    stop: str | list[str] | None = None
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
    speed: float = Field(default=1.0, gt=0, description="replay only: how much faster than recorded to wait (2 = twice as fast)")

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
    """Cost caps, checked before every real model call against its worst-case cost."""

    per_request_usd: float | None = Field(default=None, gt=0, description="cap on one request (all its attempts)")
    daily_usd: float | None = Field(default=None, gt=0, description="cap on this profile's spend per UTC day (run log)")
    allow_unknown_prices: bool = Field(default=False, description="under a cap, call models with no known price (counted as $0)")


class BreakerSpec(Spec):
    """Circuit breaker: after ``failures`` transient errors in a row within ``window_s``, calls to
    the model fail at once for ``cooldown_s``; then one trial call decides."""

    failures: int = Field(default=5, ge=1)
    window_s: float = Field(default=60.0, gt=0)
    cooldown_s: float = Field(default=30.0, gt=0)


class LimitSpec(Spec):
    rpm: int | None = Field(default=None, gt=0, description="requests per minute")
    tpm: int | None = Field(default=None, gt=0, description="tokens (prompt + max_tokens) per minute")
    concurrency: int | None = Field(default=None, gt=0, description="calls in flight at once")
    breaker: BreakerSpec = Field(default_factory=BreakerSpec)


# ---- strategy nodes ---------------------------------------------------------------------------
#
# A node is a model reference (an alias or provider:model) or a mapping whose kind key names the
# strategy. Every place that holds a node (a fallback entry, a cascade tier, a router branch, an
# ensemble member, a pipeline step) accepts any kind, so strategies nest freely.


class ModelNodeSpec(Spec):
    """A leaf: one model, by alias or provider:model, with optional parameter overrides."""

    model: str
    params: ParamsSpec | None = None


class FallbackSpec(Spec):
    """Ordered alternatives: retry a target on retryable errors, then move to the next."""

    fallback: list[NodeSpec] = Field(min_length=1)
    retry: RetrySpec | None = None


# How an answer is read out of a text (mmo/strategies/extract.py documents each kind);
# strict_choice accepts only the strict "The answer is (X)" form.
ExtractSpec = Union[Literal["choice", "strict_choice", "number", "json", "text"], "RegexExtractSpec"]


class RegexExtractSpec(Spec):
    """Extract the first capture group of a regular expression (the whole match if none)."""

    regex: str


class AgreeSpec(Spec):
    """Accept when another model's extracted answer equals this tier's."""

    model: NodeSpec
    extract: ExtractSpec = "choice"


class JudgeGateSpec(Spec):
    """Accept when a judge model scores the answer at least ``min_score`` (0-10) on the rubric."""

    model: NodeSpec
    rubric: str = "Is the answer correct, complete and directly responsive to the question?"
    min_score: float = Field(default=7.0, ge=0, le=10)


class GatesSpec(Spec):
    """Checks an answer must pass to be accepted. Every gate set must pass; the first that fails
    is recorded as the reason for escalating."""

    json_valid: bool | None = Field(default=None, alias="json", description="the answer parses as JSON")
    json_schema: dict[str, Any] | str | None = Field(default=None, description="a JSON Schema, inline or a file path")
    regex: str | None = Field(default=None, description="the answer must match (re.search)")
    min_length: int | None = Field(default=None, ge=0)
    max_length: int | None = Field(default=None, ge=1)
    finish_reasons: list[Literal["stop", "length", "tool_calls", "content_filter", "other"]] | None = None
    no_refusal: bool | None = Field(default=None, description="reject answers that decline to help")
    min_confidence: float | None = Field(default=None, ge=0, le=1, description="self-rated confidence the model is asked to give")
    min_logprob: float | None = Field(default=None, le=0, description="mean token log-probability, where the provider returns it")
    extract: ExtractSpec | None = Field(default=None, description="an answer must be extractable this way")
    agree: AgreeSpec | None = None
    judge: JudgeGateSpec | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class CascadeSpec(Spec):
    """Tiers from cheap to expensive; after each tier but the last, the gates decide accept or
    escalate. ``on_exhausted``: what the last tier's answer gets when it fails the gates too."""

    cascade: list[NodeSpec] = Field(min_length=1)
    accept: GatesSpec = Field(default_factory=GatesSpec)
    on_exhausted: Literal["last", "best", "error"] = "last"


class WhenSpec(Spec):
    """Conditions of a router rule; every condition given must hold."""

    keywords: list[str] | None = Field(default=None, description="any of these words (case-insensitive, whole words)")
    regex: str | None = None
    tags: list[str] | None = Field(default=None, description="the request carries any of these tags")
    metadata: dict[str, str] | None = Field(default=None, description="metadata keys with these values")
    tokens_over: int | None = Field(default=None, ge=0, description="estimated prompt tokens above this")
    tokens_under: int | None = Field(default=None, ge=0)
    pii: bool | None = Field(default=None, description="personal data detected (true) or not (false)")
    complexity_over: float | None = Field(default=None, ge=0, le=1)
    complexity_under: float | None = Field(default=None, ge=0, le=1)


class RuleSpec(Spec):
    when: WhenSpec
    use: NodeSpec


class ClassifySpec(Spec):
    """A small model labels the prompt (after every rule failed to match); each label maps to a
    branch. A label outside the list (or a failed call) falls through to the default."""

    model: NodeSpec
    labels: dict[str, NodeSpec] = Field(min_length=1)
    instructions: str | None = Field(default=None, description="extra guidance for the classifier")
    max_tokens: int = Field(default=16, gt=0, description="answer budget; raise it for reasoning models, which think before answering")


class RouterSpec(Spec):
    """First matching rule wins; then the classifier; then the default branch."""

    router: Literal[True] | None = Field(default=None, description="marks the node kind; may be left out")
    rules: list[RuleSpec] = Field(default_factory=list)
    classify: ClassifySpec | None = None
    default: NodeSpec


class EnsembleSpec(Spec):
    """Members run concurrently; their answers are combined by vote, a judge, or an aggregator."""

    ensemble: list[NodeSpec] = Field(min_length=2)
    combine: Literal["vote", "judge", "aggregate"] = "vote"
    extract: ExtractSpec = "choice"
    judge: NodeSpec | None = Field(default=None, description="the model that judges or aggregates")
    min_votes: int | None = Field(default=None, ge=1, description="vote: fewer agreeing answers is a failure")
    tie_break: list[str] | None = Field(default=None, description="vote: member labels in order of trust")


class StepSpec(Spec):
    """One pipeline step: a strategy, a prompt template over ``{input}`` and earlier steps'
    outputs (``{draft}``), and an optional check that stops or repairs the step on failure."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    run: NodeSpec
    prompt: str = "{input}"
    system: str | None = None
    check: GatesSpec | None = None
    on_fail: Literal["stop", "repair", "continue"] = "stop"


class PipelineSpec(Spec):
    pipeline: list[StepSpec] = Field(min_length=1)
    output: str | None = Field(default=None, description="the step whose output is the answer (default: the last)")


class HedgeSpec(Spec):
    """Start the first child; if it has not answered after ``after_ms``, start the next too.
    The first good answer wins, the others are cancelled, and every billed attempt counts."""

    hedge: list[NodeSpec] = Field(min_length=2)
    after_ms: float = Field(default=2000, gt=0)


class SloSpec(Spec):
    """A latency deadline: when ``slo`` has not answered within ``within_ms`` it is cancelled and
    ``otherwise`` (a faster branch) answers."""

    slo: NodeSpec
    within_ms: float = Field(gt=0)
    otherwise: NodeSpec


# kind key -> spec class. A mapping node is recognised by the first of these keys it holds.
NODE_SPECS: dict[str, type[Spec]] = {
    "model": ModelNodeSpec,
    "fallback": FallbackSpec,
    "cascade": CascadeSpec,
    "router": RouterSpec,
    "ensemble": EnsembleSpec,
    "pipeline": PipelineSpec,
    "hedge": HedgeSpec,
    "slo": SloSpec,
}
# A router may be written without its kind key: `rules:` / `default:` say what it is.
_IMPLIED_KINDS: dict[str, str] = {"rules": "router", "default": "router", "classify": "router"}


def node_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "ref"
    if isinstance(value, Spec):
        return next((k for k, cls in NODE_SPECS.items() if type(value) is cls), None)
    if isinstance(value, dict):
        found = next((k for k in NODE_SPECS if k in value), None)
        return found or next((kind for key, kind in _IMPLIED_KINDS.items() if key in value), None)
    return None


NodeSpec = Annotated[
    Union[
        Annotated[str, Tag("ref")],
        Annotated[ModelNodeSpec, Tag("model")],
        Annotated[FallbackSpec, Tag("fallback")],
        Annotated[CascadeSpec, Tag("cascade")],
        Annotated[RouterSpec, Tag("router")],
        Annotated[EnsembleSpec, Tag("ensemble")],
        Annotated[PipelineSpec, Tag("pipeline")],
        Annotated[HedgeSpec, Tag("hedge")],
        Annotated[SloSpec, Tag("slo")],
    ],
    Discriminator(
        node_kind,
        custom_error_type="unknown_strategy",
        custom_error_message="expected a model name or a mapping with a strategy key (" + ", ".join(NODE_SPECS) + ")",
    ),
]


class PrivacySpec(Spec):
    """Data governance. ``pii: local_only`` sends a request with personal data only to models
    marked ``local``; every strategy (fallbacks included) obeys it."""

    pii: Literal["allow", "local_only"] = "allow"


class Profile(Spec):
    """A named portfolio of models and the strategy that routes between them."""

    name: str
    description: str = ""
    models: dict[str, Union[str, ModelEntry]] = Field(default_factory=dict, description="alias -> provider:model or an entry")
    providers: dict[str, ProviderEntry] = Field(default_factory=dict)
    defaults: ParamsSpec = Field(default_factory=ParamsSpec)
    retry: RetrySpec = Field(default_factory=RetrySpec)
    budget: BudgetSpec = Field(default_factory=BudgetSpec)
    privacy: PrivacySpec = Field(default_factory=PrivacySpec)
    limits: dict[str, LimitSpec] = Field(default_factory=dict)
    strategy: NodeSpec

    def model_entry(self, alias: str) -> ModelEntry | None:
        entry = self.models.get(alias)
        return ModelEntry(model=entry) if isinstance(entry, str) else entry


for _spec in (FallbackSpec, AgreeSpec, JudgeGateSpec, GatesSpec, CascadeSpec, RuleSpec, ClassifySpec, RouterSpec, EnsembleSpec, StepSpec, PipelineSpec, HedgeSpec, SloSpec):
    _spec.model_rebuild()
Profile.model_rebuild()
