"""OpenAI's Batch API (``POST {base}/files`` + ``{base}/batches``), and servers that copy it.

A job is one uploaded JSONL file (``purpose=batch``) whose lines are
``{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body": ...}``, the body built by
the live adapter (``mmo.providers.openai.build_body``, after the same parameter rules), then a
batch over it with ``completion_window: "24h"`` and ``metadata: {"mmo_label": label}``.

Choices made here:

* Status: ``validating``, ``in_progress`` and ``finalizing`` are pending (``finalizing`` can last
  long after the counts reach 100%: only ``completed`` ends the job); ``cancelling`` is
  cancelling; the rest are the terminal states of the same name. ``request_counts`` completed and
  failed are succeeded and failed. ``errors.data[]`` (``token_limit_exceeded`` when the enqueued
  token cap is hit: the create succeeds, the job turns ``failed`` at once) is the job's message.
* Results are read from the output file AND the error file: failed requests go to the latter,
  and a ``completed`` job where every request failed has ``output_file_id: null``. An
  ``error_file_id`` of ``""`` (seen on clean jobs) is no file. A line's ``response`` with status
  200 is parsed as a live answer; another status is the live API's error for that status; an
  ``error`` of ``batch_expired`` / ``batch_cancelled`` is ``BatchRequestExpired`` /
  ``BatchRequestCancelled``, any other the error its code means.
* ``find`` pages through ``GET {base}/batches?limit=100`` (``after`` the last id) looking for
  ``metadata.mmo_label``; it stops after ``FIND_PAGES`` pages (the newest 5,000 jobs).
"""

from __future__ import annotations

import json
from typing import Any, AsyncIterator, Mapping, Sequence
from urllib.parse import quote

from mmo.core.errors import MalformedResponse
from mmo.providers.batch_api import BatchItem, BatchRequestCancelled, BatchRequestExpired, ItemResult, JobState, RemoteJob
from mmo.providers.batch_http import BatchWire
from mmo.providers.batch_items import answer_result, as_object, check_items, json_object, result_id, unix_seconds, whole_number
from mmo.providers.openai import build_body, error_from_payload, parse_answer

ENDPOINT = "/v1/chat/completions"
LABEL_KEY = "mmo_label"
FIND_PAGES = 50
_STATES: Mapping[str, JobState] = {
    "validating": "pending",
    "in_progress": "pending",
    "finalizing": "pending",
    "cancelling": "cancelling",
    "completed": "completed",
    "failed": "failed",
    "expired": "expired",
    "cancelled": "cancelled",
}
_ENDED_REQUEST = {"batch_expired": BatchRequestExpired, "batch_cancelled": BatchRequestCancelled}


class OpenAIBatch:
    """``BatchEndpoint`` over OpenAI's ``/files`` and ``/batches``; see the module docstring."""

    kind = "openai"
    max_requests = 50_000
    max_bytes = 190_000_000  # the documented 200 MB, less room for the multipart framing
    discount = 0.5

    def __init__(self, wire: BatchWire) -> None:
        self._wire = wire

    def __repr__(self) -> str:
        return f"OpenAIBatch(provider={self._wire.provider!r}, base_url={self._wire.base_url!r})"

    def request_bytes(self, item: BatchItem, model: str) -> int:
        return len(self._line(item, model)) + 1

    async def submit(self, items: Sequence[BatchItem], model: str, *, label: str) -> RemoteJob:
        check_items(items)
        content = b"\n".join(self._line(item, model) for item in items) + b"\n"
        uploaded = await self._wire.post_file(
            f"{self._wire.base_url}/files", fields={"purpose": "batch"}, file_name=f"{label}.jsonl", content=content
        )
        file_id = uploaded.get("id") if isinstance(uploaded, dict) else None
        if not isinstance(file_id, str) or not file_id:
            raise self._wire.target(model).error(MalformedResponse, f"file upload answered without an id: {str(uploaded)[:200]}")
        body = {"input_file_id": file_id, "endpoint": ENDPOINT, "completion_window": "24h", "metadata": {LABEL_KEY: label}}
        return self._job(await self._wire.post_json(f"{self._wire.base_url}/batches", body, model=model))

    async def status(self, job_id: str) -> RemoteJob:
        return self._job(await self._wire.get_json(self._batch_url(job_id)))

    async def cancel(self, job_id: str) -> RemoteJob:
        return self._job(await self._wire.post_json(f"{self._batch_url(job_id)}/cancel", {}))

    async def results(self, job_id: str, model: str) -> AsyncIterator[ItemResult]:
        batch = await self._wire.get_json(self._batch_url(job_id))
        job = self._job(batch)
        room = job.total or self.max_requests  # the two files together hold one line per request
        for key in ("output_file_id", "error_file_id"):
            file_id = batch.get(key)
            if not isinstance(file_id, str) or not file_id:  # null, or "" on a clean job
                continue
            url = f"{self._wire.base_url}/files/{quote(file_id, safe='')}/content"
            async for line in self._wire.lines(url, max_lines=room, model=model):
                room -= 1
                result = self._result(line, model)
                if result is not None:
                    yield result

    async def find(self, label: str) -> Sequence[RemoteJob]:
        found: list[RemoteJob] = []
        after: str | None = None
        for _ in range(FIND_PAGES):
            query = "limit=100" + (f"&after={quote(after, safe='')}" if after else "")
            page = as_object(await self._wire.get_json(f"{self._wire.base_url}/batches?{query}"))
            batches = [b for b in page.get("data") or () if isinstance(b, dict)]
            found += [self._job(b) for b in batches if (b.get("metadata") or {}).get(LABEL_KEY) == label]
            after = batches[-1].get("id") if batches else None
            if not page.get("has_more") or not isinstance(after, str):
                break
        return found

    # --- lines in and out --------------------------------------------------------------------

    def _line(self, item: BatchItem, model: str) -> bytes:
        body = build_body(self._wire.prepare(item.request, model), model, stream=False)
        line = {"custom_id": item.custom_id, "method": "POST", "url": ENDPOINT, "body": body}
        return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode()

    def _result(self, line: bytes, model: str) -> ItemResult | None:
        data = json_object(line, self._wire)
        custom_id = result_id(data.get("custom_id")) if data is not None else None
        if data is None or custom_id is None:
            return None
        target = self._wire.target(model)
        error, response = data.get("error"), data.get("response")
        if isinstance(error, dict):
            ended = _ENDED_REQUEST.get(str(error.get("code")))
            if ended is not None:
                return ItemResult(custom_id, error=target.error(ended, str(error.get("message") or error.get("code")), code=str(error.get("code"))))
            return ItemResult(custom_id, error=error_from_payload(target, None, {"error": error}, {}))
        if not isinstance(response, dict):
            return ItemResult(custom_id, error=error_from_payload(target, None, {"error": {"message": "result line with neither response nor error"}}, {}))
        status, body = whole_number(response.get("status_code")), response.get("body")
        if status is not None and not 200 <= status < 300:
            return ItemResult(custom_id, error=error_from_payload(target, status, body if isinstance(body, dict) else {"error": str(body)}, {}))
        return answer_result(custom_id, body, parse_answer, self._wire, model)

    def _job(self, batch: Any) -> RemoteJob:
        if not isinstance(batch, dict) or not isinstance(batch.get("id"), str):
            raise self._wire.target().error(MalformedResponse, f"batch answer without an id: {str(batch)[:200]}")
        raw = str(batch.get("status") or "")
        counts = as_object(batch.get("request_counts"))
        return RemoteJob(
            job_id=batch["id"],
            state=_STATES.get(raw, "pending"),
            raw_state=raw,
            total=whole_number(counts.get("total")) or 0,
            succeeded=whole_number(counts.get("completed")),
            failed=whole_number(counts.get("failed")),
            created_at=unix_seconds(batch.get("created_at")),
            expires_at=unix_seconds(batch.get("expires_at")),
            message=self._message(batch),
        )

    def _message(self, batch: Mapping[str, Any]) -> str | None:
        errors = batch.get("errors")
        data = errors.get("data") if isinstance(errors, dict) else None
        parts = [
            f"{e.get('code')}: {e.get('message')}" if e.get("code") else str(e.get("message"))
            for e in data or ()
            if isinstance(e, dict)
        ]
        return self._wire.target().shown("; ".join(parts)) if parts else None

    def _batch_url(self, job_id: str) -> str:
        return f"{self._wire.base_url}/batches/{quote(job_id, safe='')}"
