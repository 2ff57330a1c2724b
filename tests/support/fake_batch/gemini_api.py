"""Gemini's Batch API (inline requests), faked under the loopback's Gemini base URL: ``POST
/v1beta/models/{model}:batchGenerateContent``, ``GET /v1beta/batches/{id}``, ``POST
/v1beta/batches/{id}:cancel``, ``GET /v1beta/batches?pageSize=&pageToken=`` (newest first) and,
for a script's ``gemini_file``, ``GET /download/v1beta/files/{id}:download?alt=media``.

A job is an Operation named ``batches/N`` whose ``metadata`` is the batch (``state`` spelt with
the script's prefix, ``batchStats`` counts as strings, as Google writes int64); once ``done``,
its ``response`` holds ``inlinedResponses.inlinedResponses[]`` (each with ``metadata.key``) or a
``responsesFile`` whose lines carry a top-level ``key``. As the real API, it returns nothing for
requests an expired or cancelled job did not run."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from tests.support.fake_batch.jobs import FakeJob, JobStore, Outcome
from tests.support.fake_batch.reply import BatchRequest, Reply, dumps, hostile_reply, jsonl

_CREATE = re.compile(r"/v1beta/models/([^/:]+):batchGenerateContent")
_BATCH = re.compile(r"/v1beta/batches/([^/:]+)(:cancel)?")
_DOWNLOAD = re.compile(r"/download/v1beta/files/([^/:]+):download")
_STATES = {"running": "RUNNING", "cancelling": "RUNNING", "completed": "SUCCEEDED", "failed": "FAILED",
           "expired": "EXPIRED", "cancelled": "CANCELLED"}
_BATCH_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch"
_OUTPUT_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput"


class GeminiBatchAPI:
    def __init__(self, store: JobStore) -> None:
        self._store = store

    def route(self, request: BatchRequest) -> tuple[str, Reply] | None:
        method, path = request.method, request.path
        if method == "POST" and (match := _CREATE.fullmatch(path)) is not None:
            return "gemini.create", self._create(match.group(1), request)
        if method == "GET" and path == "/v1beta/batches":
            return "gemini.list", self._list(request)
        if method == "GET" and (match := _DOWNLOAD.fullmatch(path)) is not None:
            return "gemini.download", self._download(match.group(1))
        match = _BATCH.fullmatch(path)
        if match is None:
            return None
        job = self._store.get(f"batches/{match.group(1)}")
        name = "gemini.cancel" if match.group(2) else "gemini.status"
        if job is None or job.vendor != "gemini":
            return name, _error(404, "NOT_FOUND", f"Batch {match.group(1)} not found.")
        if match.group(2) and method == "POST":
            job.cancel()
            return name, Reply.json({})
        if not match.group(2) and method == "GET":
            job.poll()
            return name, Reply.json(self._operation(job))
        return None

    def _create(self, model: str, request: BatchRequest) -> Reply:
        batch = (request.json() or {}).get("batch") or {}
        entries = ((batch.get("input_config") or {}).get("requests") or {}).get("requests")
        if not isinstance(entries, list) or not entries:
            return _error(400, "INVALID_ARGUMENT", "batch.input_config.requests.requests is required")
        items = [(str((e.get("metadata") or {}).get("key") or ""), e.get("request") or {}) for e in entries if isinstance(e, dict)]
        job = FakeJob("gemini", f"batches/{self._store.next_id()}", model, batch.get("display_name"), items, self._store.take_script())
        return Reply.json(self._operation(self._store.add(job)))

    def _list(self, request: BatchRequest) -> Reply:
        jobs = self._store.newest_first("gemini")
        start = int(request.query.get("pageToken") or 0)
        size = max(1, min(100, int(request.query.get("pageSize", "50"))))
        page = jobs[start : start + size]
        listing: dict[str, Any] = {"operations": [self._operation(job, with_results=False) for job in page]}
        if start + size < len(jobs):
            listing["nextPageToken"] = str(start + size)
        return Reply.json(listing)

    def _download(self, file_id: str) -> Reply:
        job = self._store.get(f"batches/{file_id.removesuffix('-results')}")
        if job is None or not job.ended:
            return _error(404, "NOT_FOUND", f"File {file_id} not found.")
        if job.script.hostile is not None:
            return hostile_reply(job, dumps(_result(next(iter(job.outcomes or ()), Outcome("x", "expired")), in_file=True)))
        if "file" not in job.rendered:
            job.rendered["file"] = jsonl([_result(o, in_file=True) for o in job.outcomes or () if o.kind in ("ok", "errored")])
        return Reply(200, job.rendered["file"], content_type="application/octet-stream")

    def _operation(self, job: FakeJob, *, with_results: bool = True) -> dict[str, Any]:
        prefix = job.script.gemini_state_prefix
        state = "PENDING" if job.phase == "running" and job.polls == 0 else _STATES[job.phase]
        stats = {"requestCount": str(len(job.items)), "successfulRequestCount": str(job.count("ok")),
                 "failedRequestCount": str(job.count("errored")),
                 "pendingRequestCount": str(0 if job.ended else len(job.items))}
        metadata = {"@type": _BATCH_TYPE, "model": f"models/{job.model}", "displayName": job.label, "name": job.job_id,
                    "state": f"{prefix}{state}", "createTime": _iso(job.created_at), "batchStats": stats}
        operation: dict[str, Any] = {"name": job.job_id, "metadata": metadata}
        if job.ended:
            operation["done"] = True
        if job.phase == "failed":
            operation["error"] = {"code": 400, "message": "The batch was refused (fake whole-job failure).", "status": "INVALID_ARGUMENT"}
        elif job.ended and with_results:
            operation["response"] = self._response(job)
        return operation

    def _response(self, job: FakeJob) -> dict[str, Any]:
        if job.script.gemini_file:
            return {"@type": _OUTPUT_TYPE, "responsesFile": f"files/{job.job_id.removeprefix('batches/')}-results"}
        ran = [_result(o, in_file=False) for o in job.outcomes or () if o.kind in ("ok", "errored")]
        return {"@type": _OUTPUT_TYPE, "inlinedResponses": {"inlinedResponses": ran}}


def _result(outcome: Outcome, *, in_file: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"key": outcome.custom_id} if in_file else {"metadata": {"key": outcome.custom_id}}
    if outcome.kind == "ok":
        entry["response"] = outcome.answer
    else:
        entry["error"] = outcome.error.body["error"] if outcome.error is not None else {"code": 499, "message": "not run", "status": "CANCELLED"}
    return entry


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def _error(status: int, grpc: str, message: str) -> Reply:
    return Reply(status, dumps({"error": {"code": status, "message": message, "status": grpc}}))
