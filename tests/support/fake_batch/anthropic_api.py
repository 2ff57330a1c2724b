"""Anthropic's Message Batches API, faked under the loopback's Anthropic base URL: ``POST
/v1/messages/batches``, ``GET /v1/messages/batches/{id}``, ``POST .../{id}/cancel``, ``GET
/v1/messages/batches?limit=&after_id=`` (newest first) and ``GET .../{id}/results``.

As the real API: counts other than ``processing`` stay 0 until the job ends; ``results_url``
appears once it ended; results are JSONL with CRLF line ends and no ``Content-Type`` (both seen in
the wild); ``errored`` results carry the two-layer ``{"type": "error", "error": {...}}``. A
``custom_id`` over 64 characters is refused with a 400, and a script's ``whole_job_failure``
makes the create answer 400 (Anthropic has no job that fails as a whole)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from tests.support.fake_batch.jobs import FakeJob, JobStore, Outcome
from tests.support.fake_batch.reply import BatchRequest, Reply, dumps, hostile_reply, jsonl

_BATCH = re.compile(r"/v1/messages/batches/([^/]+)(/cancel|/results)?")


class AnthropicBatchAPI:
    def __init__(self, store: JobStore, url: str) -> None:
        self._store = store
        self._url = url

    def route(self, request: BatchRequest) -> tuple[str, Reply] | None:
        method, path = request.method, request.path
        if path == "/v1/messages/batches":
            if method == "POST":
                return "anthropic.create", self._create(request)
            if method == "GET":
                return "anthropic.list", self._list(request)
        match = _BATCH.fullmatch(path)
        if match is None:
            return None
        job = self._store.get(match.group(1))
        suffix = match.group(2)
        name = {"/cancel": "anthropic.cancel", "/results": "anthropic.results"}.get(suffix or "", "anthropic.status")
        if job is None or job.vendor != "anthropic":
            return name, _error(404, "not_found_error", f"batch {match.group(1)} not found")
        if suffix == "/cancel" and method == "POST":
            job.cancel()
            return name, Reply.json(self._batch(job))
        if suffix == "/results" and method == "GET":
            return name, self._results(job)
        if suffix is None and method == "GET":
            job.poll()
            return name, Reply.json(self._batch(job))
        return None

    def _create(self, request: BatchRequest) -> Reply:
        body = request.json() or {}
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            return _error(400, "invalid_request_error", "requests: Field required")
        items: list[tuple[str, dict[str, Any]]] = []
        for entry in requests:
            custom_id = entry.get("custom_id") if isinstance(entry, dict) else None
            if not isinstance(custom_id, str) or len(custom_id) > 64:
                return _error(400, "invalid_request_error", "requests.custom_id: String should have at most 64 characters")
            if "stream" in (entry.get("params") or {}):
                return _error(400, "invalid_request_error", "requests.params.stream: Extra inputs are not permitted")
            items.append((custom_id, entry.get("params") or {}))
        script = self._store.take_script()
        if script.whole_job_failure:
            return _error(400, "invalid_request_error", "The batch was refused (fake whole-job failure).")
        model = str(items[0][1].get("model") or "")
        job = FakeJob("anthropic", f"msgbatch_{self._store.next_id():06d}", model, None, items, script)
        return Reply.json(self._batch(self._store.add(job)))

    def _list(self, request: BatchRequest) -> Reply:
        jobs = self._store.newest_first("anthropic")
        after = request.query.get("after_id")
        if after is not None:
            ids = [job.job_id for job in jobs]
            jobs = jobs[ids.index(after) + 1 :] if after in ids else []
        limit = max(1, min(1000, int(request.query.get("limit", "20"))))
        page = jobs[:limit]
        return Reply.json({"data": [self._batch(job) for job in page], "has_more": len(jobs) > limit,
                           "first_id": page[0].job_id if page else None, "last_id": page[-1].job_id if page else None})

    def _results(self, job: FakeJob) -> Reply:
        if not job.ended:
            return _error(400, "invalid_request_error", f"Batch {job.job_id} is still processing.")
        if job.script.hostile is not None:
            return hostile_reply(job, _line(next(iter(job.outcomes or ()), Outcome("x", "expired"))))
        if "results" not in job.rendered:
            job.rendered["results"] = b"".join(_line(outcome) + b"\r\n" for outcome in job.outcomes or ())
        return Reply(200, job.rendered["results"], content_type=None)

    def _batch(self, job: FakeJob) -> dict[str, Any]:
        ended = job.ended
        counts = {"processing": 0 if ended else len(job.items), "succeeded": job.count("ok"), "errored": job.count("errored"),
                  "canceled": job.count("cancelled"), "expired": job.count("expired")}
        return {
            "id": job.job_id,
            "type": "message_batch",
            "processing_status": "ended" if ended else "canceling" if job.phase == "cancelling" else "in_progress",
            "request_counts": counts,
            "ended_at": _iso(job.ended_at),
            "created_at": _iso(job.created_at),
            "expires_at": _iso(job.expires_at),
            "archived_at": None,
            "cancel_initiated_at": _iso(job.cancel_asked_at),
            "results_url": f"{self._url}/v1/messages/batches/{job.job_id}/results" if ended else None,
        }


def _line(outcome: Outcome) -> bytes:
    result: dict[str, Any]
    if outcome.kind == "ok":
        result = {"type": "succeeded", "message": outcome.answer}
    elif outcome.kind == "errored" and outcome.error is not None:
        result = {"type": "errored", "error": outcome.error.body}
    else:
        result = {"type": "canceled" if outcome.kind == "cancelled" else "expired"}
    return jsonl([{"custom_id": outcome.custom_id, "result": result}]).rstrip(b"\n")


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def _error(status: int, kind: str, message: str) -> Reply:
    return Reply(status, dumps({"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fake"}))
