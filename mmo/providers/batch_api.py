"""The seam between mmo's provider batch jobs (``mmo batch --provider-batch``) and each vendor's
batch API: OpenAI (``/v1/files`` + ``/v1/batches``), Anthropic (``/v1/messages/batches``) and
Gemini (``models/{m}:batchGenerateContent``). One ``BatchEndpoint`` per configured provider that
has one (``batch_endpoint(provider)``); everything above this module sees only these types.

A job holds requests for ONE model. Each request carries a ``custom_id`` (``^[A-Za-z0-9_-]{1,64}$``,
unique in the job) by which its result is matched: vendors return results in any order, and a
positional match is never made. The endpoint does not decide how rows are split into jobs: the
caller splits by model and by ``max_requests`` / ``max_bytes`` (``request_bytes`` says what one
request adds to the upload).

States are normalised (``JobState``): ``pending`` (validating, queued, in progress, finalizing),
``cancelling``, and the terminal ``completed``, ``failed`` (the input was refused as a whole: the
job's ``message`` says why), ``expired`` and ``cancelled``. A terminal job's results can be read
(an expired or cancelled job may still hold the results finished before it ended). Each result is
a ``Completion`` or a ``ProviderError``: an expired or cancelled request is ``BatchRequestExpired``
/ ``BatchRequestCancelled`` (transient: ``--retry-errors`` sends it again), a request the vendor
refused is the error its live API would have raised (a bad request stays permanent).

The API key stays in the endpoint, as it does in a ``Provider``: never in a ``RemoteJob``, an
error or anything the caller may store.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import AsyncIterator, Literal, Mapping, Protocol, Sequence

from mmo.core.errors import TransientError
from mmo.core.types import Completion, Request

JobState = Literal["pending", "cancelling", "completed", "failed", "expired", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "expired", "cancelled"})


class BatchRequestExpired(TransientError):
    """The job's window (24 h) ended before this request was run. Sending it again may succeed."""


class BatchRequestCancelled(TransientError):
    """The job was cancelled before this request was run. Sending it again may succeed."""


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One request of a job and the id its result comes back under."""

    custom_id: str
    request: Request


@dataclass(frozen=True, slots=True)
class RemoteJob:
    """What a vendor says of one job. Counts are ``None`` while the vendor does not tell them
    (Anthropic reports them only once the job ended)."""

    job_id: str
    state: JobState
    raw_state: str  # the vendor's own word (``in_progress``, ``JOB_STATE_RUNNING``...)
    total: int
    succeeded: int | None = None
    failed: int | None = None
    created_at: float | None = None  # Unix seconds
    expires_at: float | None = None
    message: str | None = None  # why a job failed or was refused as a whole

    @property
    def ended(self) -> bool:
        return self.state in TERMINAL


@dataclass(frozen=True, slots=True)
class ItemResult:
    """One request's result: an answer or the error it met (never both)."""

    custom_id: str
    completion: Completion | None = None
    error: Exception | None = None  # a ProviderError subclass


class BatchEndpoint(Protocol):
    """One provider's batch API. Calls raise the same ``ProviderError`` tree as live calls (a
    refused key is ``AuthFailed``, a 429 ``RateLimited``...)."""

    kind: str  # openai | anthropic | gemini
    max_requests: int  # per job
    max_bytes: int  # per job's upload
    discount: float  # the batch price as a share of the live price (0.5)

    def request_bytes(self, item: BatchItem, model: str) -> int:
        """What ``item`` adds to a job's upload, for splitting jobs under ``max_bytes``."""
        ...

    async def submit(self, items: Sequence[BatchItem], model: str, *, label: str) -> RemoteJob:
        """Create one job of ``items`` for ``model`` (uploading its input file where the vendor
        needs one). ``label`` (``mmo-RUN-N``) is stored with the job where the vendor keeps
        metadata, so ``find`` can recover a job whose id was lost in a crash."""
        ...

    async def status(self, job_id: str) -> RemoteJob: ...

    def results(self, job_id: str, model: str) -> AsyncIterator[ItemResult]:
        """Every result of an ended job, in the vendor's order (not the input's), read as a stream."""
        ...

    async def cancel(self, job_id: str) -> RemoteJob: ...

    async def find(self, label: str) -> Sequence[RemoteJob]:
        """Jobs created with ``label`` (empty where the vendor keeps no label)."""
        ...



# Which adapter kinds have a batch API, and where its endpoint lives ("module:Class", imported on
# first use: a batch endpoint imports its live adapter, never the other way round).
BATCH_ENDPOINTS: Mapping[str, str] = {
    "openai": "mmo.providers.openai_batch:OpenAIBatch",
    "anthropic": "mmo.providers.anthropic_batch:AnthropicBatch",
    "gemini": "mmo.providers.gemini_batch:GeminiBatch",
}
# Built-in providers that speak OpenAI's chat API but serve no ``/batches`` (OpenRouter,
# DeepSeek, a local Ollama; Mistral's batch API has another shape).
NO_BATCH_API: frozenset[str] = frozenset({"ollama", "openrouter", "deepseek", "mistral"})


def batch_endpoint(provider: object) -> BatchEndpoint | None:
    """The batch API of a configured provider, or ``None`` when it has none: a provider that is
    not an HTTP wire adapter (the fake, replay), one of ``NO_BATCH_API``, or a kind without one.
    Other OpenAI-compatible servers get the OpenAI endpoint: a server without ``/batches``
    answers the first call with a 404 (``ModelNotFound``), as a live call to a missing route."""
    kind, name, wire = getattr(provider, "kind", None), getattr(provider, "name", None), getattr(provider, "batch_wire", None)
    reference = BATCH_ENDPOINTS.get(kind) if isinstance(kind, str) else None
    if reference is None or not callable(wire) or name in NO_BATCH_API:
        return None
    module, _, attribute = reference.partition(":")
    endpoint: BatchEndpoint = getattr(import_module(module), attribute)(wire())
    return endpoint
