"""Gemini's Batch API: inline jobs (``POST {base}/v1beta/models/{model}:batchGenerateContent``).

A job is one JSON POST of ``{"batch": {"display_name": label, "input_config": {"requests":
{"requests": [{"request", "metadata": {"key": custom_id}}]}}}}``, each ``request`` the live
adapter's body (``mmo.providers.gemini.build_body``, after the same parameter rules). Inline jobs
are limited to about 20 MB (``max_bytes``); the caller splits larger runs into more jobs.

Choices made here:

* A job is a long-running Operation named ``batches/...`` (its ``job_id``), polled with
  ``GET {base}/v1beta/{name}``. Its state is ``metadata.state``, spelt ``JOB_STATE_*`` (the SDKs)
  or ``BATCH_STATE_*`` (raw REST): both are read. ``PENDING`` and ``RUNNING`` are pending (Gemini
  has no cancelling state), ``SUCCEEDED`` completed, the rest the terminal states of their name;
  an Operation that is ``done`` with an ``error`` has failed, its message the job's message.
  Counts come from ``metadata.batchStats`` (int64 written as strings).
* Results are the Operation's ``response`` (or the batch's ``output``): ``inlinedResponses``,
  each matched by its ``metadata.key`` ONLY (they arrive out of order at scale, and a positional
  match once scrambled thousands of rows), or a ``responsesFile`` downloaded from
  ``{root}/download/v1beta/{file}:download?alt=media`` whose lines carry a top-level ``key``.
  A ``response`` is parsed as a live answer, an ``error`` (a google.rpc.Status) is the live error.
* The finished Operation holds every inline answer, so it is read with a larger bound than one
  answer (``INLINE_RESULTS_BYTES``; memory is about a few times that while it is parsed).
* Gemini reports nothing for the requests an expired or cancelled job did not run: they simply
  have no result, and the caller sends them again.
* ``find`` lists ``GET {base}/v1beta/batches`` (``pageToken`` paging, ``FIND_PAGES`` pages at most)
  and matches the job's display name, which ``submit`` sets to the label.
* Creating a job is not idempotent: never retry ``submit`` blindly; ``find`` first.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, AsyncIterator, Iterable, Mapping, Sequence
from urllib.parse import quote

from mmo.core.errors import MalformedResponse
from mmo.core.transport_limits import MIB
from mmo.providers.batch_api import BatchItem, ItemResult, JobState, RemoteJob
from mmo.providers.batch_http import BatchWire
from mmo.providers.batch_items import answer_result, as_object, check_items, json_object, result_id, unix_seconds, whole_number
from mmo.providers.gemini import API_VERSION, build_body, error_from_payload, parse_answer

INLINE_RESULTS_BYTES = 128 * MIB
FIND_PAGES = 50
_STATES: Mapping[str, JobState] = {
    "UNSPECIFIED": "pending",
    "PENDING": "pending",
    "RUNNING": "pending",
    "SUCCEEDED": "completed",
    "FAILED": "failed",
    "CANCELLED": "cancelled",
    "EXPIRED": "expired",
}


class GeminiBatch:
    """``BatchEndpoint`` over Gemini's ``batchGenerateContent``; see the module docstring."""

    kind = "gemini"
    max_requests = 100_000  # inline jobs are bound by their size long before
    max_bytes = 19_000_000  # inline requests: about 20 MB, less room for the envelope
    discount = 0.5

    def __init__(self, wire: BatchWire) -> None:
        self._wire = wire
        self._base = f"{wire.base_url}/{API_VERSION}"

    def __repr__(self) -> str:
        return f"GeminiBatch(provider={self._wire.provider!r}, base_url={self._wire.base_url!r})"

    def request_bytes(self, item: BatchItem, model: str) -> int:
        return len(json.dumps(self._request(item, model), ensure_ascii=False, separators=(",", ":")).encode()) + 1

    async def submit(self, items: Sequence[BatchItem], model: str, *, label: str) -> RemoteJob:
        check_items(items)
        requests = [self._request(item, model) for item in items]
        body = {"batch": {"display_name": label, "input_config": {"requests": {"requests": requests}}}}
        name = quote(model.removeprefix("models/"), safe="/-._~")
        operation = await self._wire.post_json(f"{self._base}/models/{name}:batchGenerateContent", body, model=model)
        job = self._job(operation)
        return job if job.total else _with_total(job, len(items))

    async def status(self, job_id: str) -> RemoteJob:
        return self._job(await self._wire.get_json(self._job_url(job_id), max_bytes=self._results_bound()))

    async def cancel(self, job_id: str) -> RemoteJob:
        await self._wire.post_json(f"{self._job_url(job_id)}:cancel", {})
        return await self.status(job_id)

    async def results(self, job_id: str, model: str) -> AsyncIterator[ItemResult]:
        operation = await self._wire.get_json(self._job_url(job_id), model=model, max_bytes=self._results_bound())
        job = self._job(operation)
        output = _output(operation)
        for entry in _inlined(output):
            meta = as_object(entry.get("metadata"))
            result = self._result(result_id(meta.get("key")), entry, model)
            if result is not None:
                yield result
        file_name = output.get("responsesFile") or output.get("responses_file")
        if isinstance(file_name, str) and file_name:
            url = f"{self._wire.base_url}/download/{API_VERSION}/{quote(file_name, safe='/')}:download?alt=media"
            async for line in self._wire.lines(url, max_lines=job.total or self.max_requests, model=model):
                line_entry = as_object(json_object(line, self._wire))
                result = self._result(result_id(line_entry.get("key")), line_entry, model)
                if result is not None:
                    yield result

    async def find(self, label: str) -> Sequence[RemoteJob]:
        found: list[RemoteJob] = []
        token: str | None = None
        for _ in range(FIND_PAGES):
            query = "pageSize=100" + (f"&pageToken={quote(token, safe='')}" if token else "")
            page = as_object(await self._wire.get_json(f"{self._base}/batches?{query}", max_bytes=self._results_bound()))
            listed = [o for o in page.get("operations") or page.get("batches") or () if isinstance(o, dict)]
            found += [self._job(o) for o in listed if _display_name(o) == label]
            token = page.get("nextPageToken")
            if not isinstance(token, str) or not token:
                break
        return found

    # --- requests and results ----------------------------------------------------------------

    def _request(self, item: BatchItem, model: str) -> dict[str, Any]:
        return {"request": build_body(self._wire.prepare(item.request, model)), "metadata": {"key": item.custom_id}}

    def _result(self, key: str | None, entry: Mapping[str, Any], model: str) -> ItemResult | None:
        if key is None:
            return None  # a result mmo cannot attribute (only a key matches: see the module docstring)
        if isinstance(entry.get("error"), dict):
            return ItemResult(key, error=error_from_payload(self._wire.target(model), None, {"error": entry["error"]}, {}))
        return answer_result(key, entry.get("response"), parse_answer, self._wire, model)

    def _job(self, operation: Any) -> RemoteJob:
        meta = _metadata(operation)
        name = operation.get("name") if isinstance(operation, dict) else None
        name = name if isinstance(name, str) and name.startswith("batches/") else meta.get("name")
        if not isinstance(name, str) or not name:
            raise self._wire.target().error(MalformedResponse, f"batch answer without a name: {str(operation)[:200]}")
        raw = str(meta.get("state") or "")
        state = _STATES.get(raw.removeprefix("JOB_STATE_").removeprefix("BATCH_STATE_"), "pending")
        error = operation.get("error") if isinstance(operation.get("error"), dict) else None
        if error is not None and operation.get("done"):
            state = "failed"
        stats = as_object(meta.get("batchStats"))
        message = str(error.get("message") or error.get("status") or "") if error is not None else ""
        return RemoteJob(
            job_id=name,
            state=state,
            raw_state=raw,
            total=whole_number(stats.get("requestCount")) or 0,
            succeeded=whole_number(stats.get("successfulRequestCount")),
            failed=whole_number(stats.get("failedRequestCount")),
            created_at=unix_seconds(meta.get("createTime")),
            message=self._wire.target().shown(message) if message else None,
        )

    def _job_url(self, job_id: str) -> str:
        return f"{self._base}/{quote(job_id, safe='/')}"

    def _results_bound(self) -> int:
        return max(self._wire.limits.max_response_bytes, INLINE_RESULTS_BYTES)


def _metadata(operation: Any) -> dict[str, Any]:
    """The batch an Operation describes (a bare batch resource is read as its own metadata)."""
    if not isinstance(operation, dict):
        return {}
    meta = operation.get("metadata")
    return meta if isinstance(meta, dict) else operation


def _display_name(operation: Any) -> Any:
    meta = _metadata(operation)
    return meta.get("displayName", meta.get("display_name"))


def _output(operation: Any) -> dict[str, Any]:
    """Where a finished job's results are: the Operation's ``response``, else the batch's ``output``."""
    response = operation.get("response") if isinstance(operation, dict) else None
    if isinstance(response, dict):
        return response
    output = _metadata(operation).get("output")
    return output if isinstance(output, dict) else {}


def _inlined(output: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    """The inline results, nested (``inlinedResponses.inlinedResponses``) or not."""
    inlined = output.get("inlinedResponses")
    if isinstance(inlined, dict):
        inlined = inlined.get("inlinedResponses")
    return [entry for entry in inlined or () if isinstance(entry, dict)] if isinstance(inlined, list) else []


def _with_total(job: RemoteJob, total: int) -> RemoteJob:
    return replace(job, total=total)
