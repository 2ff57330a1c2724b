"""A profile's portfolio and policies: model entries, providers' common fields (their transport
limits included), and the retry, budget, limit and privacy settings that the strategies and
guards read.

``Portfolio`` is what the strategy builder needs of a profile (its models, defaults, retry
policy and privacy rule), so strategies depend on this module and not on the assembled schema.
"""

from __future__ import annotations

from typing import Any, Literal, Mapping, Protocol

from pydantic import Field, field_validator

from mmo.core.transport_limits import (
    DEFAULT_ATTEMPT_DEADLINE_S,
    DEFAULT_CONNECT_TIMEOUT_S,
    DEFAULT_MAX_EVENT_MIB,
    DEFAULT_MAX_JSON_DEPTH,
    DEFAULT_MAX_RESPONSE_MIB,
    DEFAULT_READ_IDLE_TIMEOUT_S,
    MAX_JSON_DEPTH_CEILING,
    MIB,
    TransportLimits,
)
from mmo.spec.base import Spec
from mmo.spec.params import ParamsSpec


class PriceSpec(Spec):
    """USD per 1M tokens. A model priced 0/0 costs a known $0."""

    input: float = Field(ge=0, allow_inf_nan=False)
    output: float = Field(ge=0, allow_inf_nan=False)
    cached_input: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class CapabilitiesSpec(Spec):
    """What a model can do, where the catalogue does not know or is wrong (``mmo models`` shows
    what it knows). Left out: the catalogue's fact, which may be unknown."""

    vision: bool | None = Field(default=None, description="takes images")
    structured_output: bool | None = Field(default=None, description="answers to a JSON Schema natively")
    tools: bool | None = Field(default=None, description="calls tools (functions)")
    logprobs: bool | None = Field(default=None, description="returns log-probabilities")
    streaming: bool | None = Field(default=None, description="streams its answer")

    def stated(self) -> dict[str, bool | None]:
        return {name: value for name, value in self.model_dump().items() if value is not None}


class ModelEntry(Spec):
    """A model in the portfolio, with what mmo should know about it (over the catalogue's facts)."""

    model: str = Field(description="provider:model, e.g. openai:gpt-5-mini or ollama:llama3.1:8b")
    local: bool = Field(default=False, description="runs on this machine: costs $0, may receive PII")
    price: PriceSpec | None = None
    context_window: int | None = Field(default=None, gt=0, description="tokens; wins over the catalogue's figure")
    max_output: int | None = Field(default=None, gt=0, description="most output tokens the model writes; wins over the catalogue's")
    capabilities: CapabilitiesSpec | None = None
    params: ParamsSpec | None = None


ModelsSpec = dict[str, str | ModelEntry]


KEY_ENV_SUFFIXES: tuple[str, ...] = ("_API_KEY", "_KEY", "_TOKEN")


class TransportSpec(Spec):
    """What one HTTP attempt to this provider may cost, whatever the endpoint sends
    (``mmo.core.transport_limits``). A request's ``timeout_s`` replaces ``attempt_deadline_s``."""

    max_response_mib: float = Field(default=DEFAULT_MAX_RESPONSE_MIB, gt=0, allow_inf_nan=False, description="decoded size of one answer (a whole stream), MiB")
    max_event_mib: float = Field(default=DEFAULT_MAX_EVENT_MIB, gt=0, allow_inf_nan=False, description="one server-sent event, MiB")
    max_json_depth: int = Field(default=DEFAULT_MAX_JSON_DEPTH, ge=2, le=MAX_JSON_DEPTH_CEILING, description="nesting of one JSON answer or event")
    connect_timeout_s: float = Field(default=DEFAULT_CONNECT_TIMEOUT_S, gt=0, allow_inf_nan=False, description="opening the connection")
    read_idle_timeout_s: float = Field(default=DEFAULT_READ_IDLE_TIMEOUT_S, gt=0, allow_inf_nan=False, description="longest silence between reads, first byte included")
    attempt_deadline_s: float = Field(default=DEFAULT_ATTEMPT_DEADLINE_S, gt=0, allow_inf_nan=False, description="one whole attempt, streams included")

    def limits(self) -> TransportLimits:
        return TransportLimits(
            max_response_bytes=max(1, round(self.max_response_mib * MIB)),
            max_event_bytes=max(1, round(self.max_event_mib * MIB)),
            max_json_depth=self.max_json_depth,
            connect_timeout_s=self.connect_timeout_s,
            read_idle_timeout_s=self.read_idle_timeout_s,
            attempt_deadline_s=self.attempt_deadline_s,
        )


class ProviderEntryBase(Spec):
    """The fields every provider declaration has; a provider kind may add its own
    (``mmo.providers.kinds``). ``kind`` is the wire format it speaks.

    ``key_env`` names the variable whose value is sent to ``base_url``: it must look like a key's
    name (ending in ``_API_KEY``, ``_KEY`` or ``_TOKEN``), so a profile cannot have mmo send some
    other variable (``HOME``, ``DATABASE_URL`` ...) to a server it chose."""

    kind: str = "openai"
    base_url: str | None = None
    key_env: str | None = Field(default=None, description="environment variable holding the key (its name ends in _API_KEY, _KEY or _TOKEN)")
    key: Literal["required", "none"] = Field(default="required", description="'none' for servers that need no key")
    headers: dict[str, str] = Field(default_factory=dict)
    transport: TransportSpec = Field(default_factory=TransportSpec, description="size, depth and time limits of one HTTP attempt")

    @field_validator("key_env")
    @classmethod
    def _key_like_name(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.isidentifier() or not value.isascii():
            raise ValueError(f"key_env {value!r} is not an environment variable name")
        if not value.upper().endswith(KEY_ENV_SUFFIXES):
            raise ValueError(
                f"key_env {value!r} does not look like a key variable: its value would be sent to the server, so its name "
                "must end in _API_KEY, _KEY or _TOKEN (for example MYPROXY_API_KEY)"
            )
        return value

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
    backoff_s: float = Field(default=0.5, gt=0, allow_inf_nan=False, description="first back-off; doubles each retry, with jitter")
    max_backoff_s: float = Field(default=8.0, gt=0, allow_inf_nan=False)
    max_retry_after_s: float = Field(default=30.0, ge=0, allow_inf_nan=False, description="longer Retry-After hints move on instead of waiting")
    fail_fast: bool = Field(default=False, description="never wait: move to the next target at once")


class BudgetSpec(Spec):
    """Cost caps, checked before every real model call against its worst-case cost."""

    per_request_usd: float | None = Field(default=None, gt=0, allow_inf_nan=False, description="cap on one request (all its attempts)")
    daily_usd: float | None = Field(default=None, gt=0, allow_inf_nan=False, description="cap on this profile's spend per UTC day (run log)")
    allow_unknown_prices: bool = Field(default=False, description="under a cap, call models with no known price (counted as $0)")


class BreakerSpec(Spec):
    """Circuit breaker: after ``failures`` transient errors in a row within ``window_s``, calls to
    the model fail at once for ``cooldown_s``; then one trial call decides."""

    failures: int = Field(default=5, ge=1)
    window_s: float = Field(default=60.0, gt=0, allow_inf_nan=False)
    cooldown_s: float = Field(default=30.0, gt=0, allow_inf_nan=False)


class LimitSpec(Spec):
    rpm: int | None = Field(default=None, gt=0, description="requests per minute")
    tpm: int | None = Field(default=None, gt=0, description="tokens (prompt + max_tokens) per minute")
    concurrency: int | None = Field(default=None, gt=0, description="calls in flight at once")
    breaker: BreakerSpec = Field(default_factory=BreakerSpec)


class PrivacySpec(Spec):
    """Data governance. ``pii: local_only`` sends a request with personal data only to models
    marked ``local``; every strategy (fallbacks included) obeys it. Images cannot be checked for
    personal data, so ``images`` (by default: as ``pii``) says where a request with images may go."""

    pii: Literal["allow", "local_only"] = "allow"
    images: Literal["allow", "local_only"] | None = Field(default=None, description="where requests with images may go (default: as pii)")

    @property
    def images_local_only(self) -> bool:
        return (self.images or self.pii) == "local_only"


class Portfolio(Protocol):
    """What the strategy builder reads of a profile."""

    @property
    def models(self) -> Mapping[str, str | ModelEntry]: ...

    @property
    def defaults(self) -> ParamsSpec: ...

    @property
    def retry(self) -> RetrySpec: ...

    @property
    def privacy(self) -> PrivacySpec: ...

    @property
    def strategy(self) -> Any: ...

    def model_entry(self, alias: str) -> ModelEntry | None: ...


def model_entry(models: Mapping[str, str | ModelEntry], alias: str) -> ModelEntry | None:
    """The entry of ``alias`` (a bare ``provider:model`` string is an entry with defaults)."""
    entry = models.get(alias)
    return ModelEntry(model=entry) if isinstance(entry, str) else entry
