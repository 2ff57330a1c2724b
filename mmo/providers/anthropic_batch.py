"""Anthropic's Message Batches API (``{base}/v1/messages/batches``).

A job is one JSON POST of ``{"requests": [{"custom_id", "params"}]}``, each ``params`` the live
adapter's body (``mmo.providers.anthropic.build_body``, after the same parameter rules) without
``stream``, sent with the live provider's headers (``x-api-key``, ``anthropic-version``).

Choices made here:

* Status: ``in_progress`` is pending, ``canceling`` cancelling. Anthropic reports its counts only
  once a job has ended (before that every count but ``processing`` is 0), so succeeded and failed
  are ``None`` until then; at the end, failed counts ``errored``, ``canceled`` and ``expired``.
* An ``ended`` job has no outcome of its own, so it is read from the job: one whose cancel was
  asked for (``cancel_initiated_at``) is ``cancelled``; else one holding expired requests is
  ``expired`` (requests expire only when the 24 h window ends); else ``completed``. Either way
  its results hold whatever finished.
* Results come from ``results_url`` (else ``{id}/results``), with the same headers, as JSONL that
  mmo splits itself (results were once served without a ``Content-Type``, and with CRLF line
  ends): ``succeeded`` is parsed as a live answer, ``errored`` (the two-layer envelope
  ``{"type": "error", "error": {...}}``) is the live error for it, ``canceled`` and ``expired``
  are ``BatchRequestCancelled`` and ``BatchRequestExpired``.
* ``find`` returns nothing: Anthropic keeps no metadata, name or label with a job, and a job's
  requests (which carry the custom_ids) cannot be read back, so no listed job can be tied to a
  label soundly. Matching by time and size would risk taking another run's job.
* Every input is validated only when the job ends (a bad ``params`` comes back ``errored``);
  ``custom_id`` is checked here, as an over-long one is refused with an unhelpful 400.
"""

from __future__ import annotations

import json
from typing import Any, AsyncIterator, Mapping, Sequence
from urllib.parse import quote

from mmo.core.errors import MalformedResponse
from mmo.providers.anthropic import build_body, error_from_payload, parse_answer
from mmo.providers.batch_api import BatchItem, BatchRequestCancelled, BatchRequestExpired, ItemResult, JobState, RemoteJob
from mmo.providers.batch_http import BatchWire
from mmo.providers.batch_items import answer_result, as_object, check_items, json_object, result_id, unix_seconds, whole_number

_STATES: Mapping[str, JobState] = {"in_progress": "pending", "canceling": "cancelling"}
_ENDED_REQUEST = {"canceled": BatchRequestCancelled, "expired": BatchRequestExpired}
_COUNTS = ("processing", "succeeded", "errored", "canceled", "expired")


class AnthropicBatch:
    """``BatchEndpoint`` over Anthropic's ``/v1/messages/batches``; see the module docstring."""

    kind = "anthropic"
    max_requests = 100_000
    max_bytes = 240_000_000  # the documented 256 MB, less room for the envelope
    discount = 0.5

    def __init__(self, wire: BatchWire) -> None:
        self._wire = wire
        self._batches = f"{wire.base_url}/v1/messages/batches"

    def __repr__(self) -> str:
        return f"AnthropicBatch(provider={self._wire.provider!r}, base_url={self._wire.base_url!r})"

    def request_bytes(self, item: BatchItem, model: str) -> int:
        return len(json.dumps(self._request(item, model), ensure_ascii=False, separators=(",", ":")).encode()) + 1

    async def submit(self, items: Sequence[BatchItem], model: str, *, label: str) -> RemoteJob:
        check_items(items)
        body = {"requests": [self._request(item, model) for item in items]}
        return self._job(await self._wire.post_json(self._batches, body, model=model))

    async def status(self, job_id: str) -> RemoteJob:
        return self._job(await self._wire.get_json(self._batch_url(job_id)))

    async def cancel(self, job_id: str) -> RemoteJob:
        return self._job(await self._wire.post_json(f"{self._batch_url(job_id)}/cancel", {}))

    async def results(self, job_id: str, model: str) -> AsyncIterator[ItemResult]:
        batch = await self._wire.get_json(self._batch_url(job_id))
        job = self._job(batch)
        url = batch.get("results_url") if isinstance(batch.get("results_url"), str) else None
        async for line in self._wire.lines(url or f"{self._batch_url(job_id)}/results", max_lines=job.total or self.max_requests, model=model):
            result = self._result(line, model)
            if result is not None:
                yield result

    async def find(self, label: str) -> Sequence[RemoteJob]:
        return []  # no label is kept with a job: see the module docstring

    # --- requests and results ----------------------------------------------------------------

    def _request(self, item: BatchItem, model: str) -> dict[str, Any]:
        params, ignored = build_body(self._wire.prepare(item.request, model), model, stream=False)
        if ignored:
            self._wire.warn(ignored)
        params.pop("stream", None)  # the batch API takes no stream flag
        return {"custom_id": item.custom_id, "params": params}

    def _result(self, line: bytes, model: str) -> ItemResult | None:
        data = json_object(line, self._wire)
        custom_id = result_id(data.get("custom_id")) if data is not None else None
        if data is None or custom_id is None:
            return None
        result = as_object(data.get("result"))
        kind = result.get("type")
        if kind == "succeeded":
            return answer_result(custom_id, result.get("message"), parse_answer, self._wire, model)
        target = self._wire.target(model)
        ended = _ENDED_REQUEST.get(str(kind))
        if ended is not None:
            return ItemResult(custom_id, error=target.error(ended, f"request {kind} before it was run", code=str(kind)))
        envelope = result.get("error")
        if not isinstance(envelope, dict):
            envelope = {"error": {"type": "api_error", "message": f"result of type {kind!r} without an error"}}
        elif "error" not in envelope:  # tolerate a one-layer error object
            envelope = {"error": envelope}
        return ItemResult(custom_id, error=error_from_payload(target, None, envelope, {}))

    def _job(self, batch: Any) -> RemoteJob:
        if not isinstance(batch, dict) or not isinstance(batch.get("id"), str):
            raise self._wire.target().error(MalformedResponse, f"batch answer without an id: {str(batch)[:200]}")
        raw = str(batch.get("processing_status") or "")
        counts = as_object(batch.get("request_counts"))
        number = {name: whole_number(counts.get(name)) or 0 for name in _COUNTS}
        ended = raw == "ended"
        return RemoteJob(
            job_id=batch["id"],
            state=_ended_state(batch, number) if ended else _STATES.get(raw, "pending"),
            raw_state=raw,
            total=sum(number.values()),
            succeeded=number["succeeded"] if ended else None,
            failed=number["errored"] + number["canceled"] + number["expired"] if ended else None,
            created_at=unix_seconds(batch.get("created_at")),
            expires_at=unix_seconds(batch.get("expires_at")),
        )

    def _batch_url(self, job_id: str) -> str:
        return f"{self._batches}/{quote(job_id, safe='')}"


def _ended_state(batch: Mapping[str, Any], number: Mapping[str, int]) -> JobState:
    """How an ``ended`` job ended: see the module docstring."""
    if batch.get("cancel_initiated_at"):
        return "cancelled"
    if number["expired"] > 0:
        return "expired"
    return "completed"
