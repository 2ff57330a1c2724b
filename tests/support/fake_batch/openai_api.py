"""OpenAI's Batch API, faked under the loopback's OpenAI base URL (``{url}/v1``): ``POST
/v1/files`` (multipart, ``purpose=batch``), ``POST /v1/batches``, ``GET /v1/batches/{id}``,
``POST /v1/batches/{id}/cancel``, ``GET /v1/batches?limit=&after=`` (newest first) and ``GET
/v1/files/{id}/content``. Answers go to the output file, vendor errors, expired and cancelled
requests to the error file (``batch_expired`` / ``batch_cancelled``); a job with no answer has
``output_file_id: null``. A duplicate ``custom_id`` or lines for two models fail validation."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.support.fake_batch.jobs import FakeJob, JobStore, Outcome
from tests.support.fake_batch.reply import BatchRequest, Reply, hostile_reply, jsonl

_BATCH = re.compile(r"/v1/batches/([^/]+)(/cancel)?")
_FILE = re.compile(r"/v1/files/([^/]+)/content")
_STATUS = {"cancelling": "cancelling", "completed": "completed", "failed": "failed", "expired": "expired", "cancelled": "cancelled"}


class OpenAIBatchAPI:
    def __init__(self, store: JobStore) -> None:
        self._store = store
        self._files: dict[str, bytes] = {}

    def route(self, request: BatchRequest) -> tuple[str, Reply] | None:
        """(route name, reply) for an OpenAI batch route, None for any other path."""
        method, path = request.method, request.path
        if method == "POST" and path == "/v1/files":
            return "openai.upload", self._upload(request)
        if method == "POST" and path == "/v1/batches":
            return "openai.create", self._create(request)
        if method == "GET" and path == "/v1/batches":
            return "openai.list", self._list(request)
        if (match := _BATCH.fullmatch(path)) is not None:
            job = self._store.get(match.group(1))
            if job is None or job.vendor != "openai":
                return "openai.status", _not_found(f"No batch found with id '{match.group(1)}'.")
            if method == "POST" and match.group(2):
                job.cancel()
                return "openai.cancel", Reply.json(_batch(job))
            if method == "GET" and not match.group(2):
                job.poll()
                return "openai.status", Reply.json(_batch(job))
        if method == "GET" and (match := _FILE.fullmatch(path)) is not None:
            return "openai.download", self._download(match.group(1))
        return None

    def _upload(self, request: BatchRequest) -> Reply:
        fields = _multipart(request.headers.get("content-type", ""), request.body)
        if fields.get("purpose") != b"batch" or "file" not in fields:
            return _bad_request("purpose=batch and a file are required")
        file_id = f"file-{self._store.next_id()}"
        self._files[file_id] = fields["file"]
        return Reply.json({"id": file_id, "object": "file", "bytes": len(fields["file"]), "purpose": "batch", "filename": "input.jsonl"})

    def _create(self, request: BatchRequest) -> Reply:
        body = request.json() or {}
        content = self._files.get(str(body.get("input_file_id")))
        if content is None or body.get("endpoint") != "/v1/chat/completions" or body.get("completion_window") != "24h":
            return _bad_request("input_file_id, endpoint /v1/chat/completions and completion_window 24h are required")
        items, model, refusal = _read_input(content)
        metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        job = FakeJob("openai", f"batch_{self._store.next_id()}", model, metadata.get("mmo_label"), items, self._store.take_script(), refusal=refusal)
        job.rendered["metadata"] = json.dumps(metadata).encode()
        job.rendered["input_file_id"] = str(body["input_file_id"]).encode()
        return Reply.json(_batch(self._store.add(job)))

    def _list(self, request: BatchRequest) -> Reply:
        jobs = self._store.newest_first("openai")
        after = request.query.get("after")
        if after is not None:
            ids = [job.job_id for job in jobs]
            jobs = jobs[ids.index(after) + 1 :] if after in ids else []
        limit = max(1, min(100, int(request.query.get("limit", "20"))))
        page = jobs[:limit]
        return Reply.json({"object": "list", "data": [_batch(job) for job in page], "has_more": len(jobs) > limit,
                           "first_id": page[0].job_id if page else None, "last_id": page[-1].job_id if page else None})

    def _download(self, file_id: str) -> Reply:
        job_id, _, which = file_id.removeprefix("file-").rpartition("-")
        job = self._store.get(job_id)
        if job is not None and job.ended and which in ("out", "err"):
            if job.script.hostile is not None:
                return hostile_reply(job, _line(next(iter(job.outcomes or ()), Outcome("x", "expired"))))
            return Reply(200, _file(job, which), content_type="application/octet-stream")
        if file_id in self._files:
            return Reply(200, self._files[file_id], content_type="application/octet-stream")
        return _not_found(f"No such File object: {file_id}")


def _read_input(content: bytes) -> tuple[list[tuple[str, dict[str, Any]]], str, str | None]:
    """The input file's requests, their model, and why it fails validation (None when it does not)."""
    items: list[tuple[str, dict[str, Any]]] = []
    models: set[str] = set()
    for number, raw in enumerate(content.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
            custom_id, body = line["custom_id"], line["body"]
            models.add(body["model"])
        except (ValueError, KeyError, TypeError):
            return items, "", f"invalid_json_line: line {number} is not a valid request"
        if line.get("method") != "POST" or line.get("url") != "/v1/chat/completions":
            return items, "", f"invalid_url: line {number} must POST /v1/chat/completions"
        items.append((custom_id, body))
    ids = [custom_id for custom_id, _ in items]
    if len(set(ids)) != len(ids):
        return items, "", "duplicate_custom_id: custom_id values must be unique"
    if len(models) > 1:
        return items, "", "mismatched_model: a batch holds requests for one model"
    return items, models.pop() if models else "", None


def _batch(job: FakeJob) -> dict[str, Any]:
    status = "validating" if job.phase == "running" and job.polls == 0 else _STATUS.get(job.phase, "in_progress")
    failed = job.count("errored") + job.count("expired") + job.count("cancelled")
    errors = None
    if job.phase == "failed":
        code, _, message = (job.refusal or "").partition(": ")
        if job.refusal is None:
            code, message = "token_limit_exceeded", "Enqueued token limit reached for this model. Please try again later."
        errors = {"object": "list", "data": [{"code": code, "message": message, "param": None, "line": None}]}
    return {
        "id": job.job_id,
        "object": "batch",
        "endpoint": "/v1/chat/completions",
        "errors": errors,
        "input_file_id": job.rendered.get("input_file_id", b"").decode(),
        "completion_window": "24h",
        "status": status,
        "output_file_id": _file_id(job, "out"),
        "error_file_id": _file_id(job, "err"),
        "created_at": int(job.created_at),
        "expires_at": int(job.expires_at),
        "completed_at": int(job.ended_at) if job.phase == "completed" and job.ended_at else None,
        "request_counts": {"total": len(job.items), "completed": job.count("ok"), "failed": failed},
        "metadata": json.loads(job.rendered.get("metadata", b"{}")),
    }


def _file_id(job: FakeJob, which: str) -> str | None:
    if not job.ended or job.phase == "failed":
        return None
    has_lines = job.count("ok") > 0 if which == "out" else len(job.outcomes or ()) > job.count("ok")
    if has_lines:
        return f"file-{job.job_id}-{which}"
    return "" if which == "err" and job.script.blank_error_file_id else None


def _file(job: FakeJob, which: str) -> bytes:
    if which not in job.rendered:
        wanted = (lambda o: o.kind == "ok") if which == "out" else (lambda o: o.kind != "ok")
        job.rendered[which] = b"".join(_line(o) + b"\n" for o in job.outcomes or () if wanted(o))
    return job.rendered[which]


def _line(outcome: Outcome) -> bytes:
    base = {"id": f"batch_req_{outcome.custom_id}", "custom_id": outcome.custom_id}
    if outcome.kind == "ok":
        line = {**base, "response": {"status_code": 200, "request_id": "req_fake", "body": outcome.answer}, "error": None}
    elif outcome.kind == "errored" and outcome.error is not None:
        line = {**base, "response": {"status_code": outcome.error.status, "request_id": "req_fake", "body": outcome.error.body}, "error": None}
    else:
        code = "batch_cancelled" if outcome.kind == "cancelled" else "batch_expired"
        line = {**base, "response": None, "error": {"code": code, "message": f"This request could not be executed before the batch was {outcome.kind}."}}
    return jsonl([line]).rstrip(b"\n")


def _multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    """The fields of a multipart/form-data body, by name (enough for httpx's uploads)."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if match is None:
        return {}
    fields: dict[str, bytes] = {}
    for part in body.split(b"--" + match.group(1).encode())[1:]:
        head, sep, content = part.partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]*)"', head)
        if sep and name is not None:
            fields[name.group(1).decode()] = content.removesuffix(b"\r\n")
    return fields


def _bad_request(message: str) -> Reply:
    return Reply.json({"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}, 400)


def _not_found(message: str) -> Reply:
    return Reply.json({"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}, 404)
