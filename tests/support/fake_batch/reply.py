"""A request to the fake batch API as its vendor modules read it (``BatchRequest``), what they
answer (``Reply``: a whole JSON or JSONL body, or a hostile endless download) and how it is sent."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from tests.support.fake_batch.jobs import FakeJob
from tests.support.loopback.connection import HttpConnection

_HOSTILE_PIECE = 64 * 1024


@dataclass(frozen=True)
class BatchRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @classmethod
    def of(cls, method: str, target: str, headers: dict[str, str], body: bytes) -> BatchRequest:
        path, _, query = target.partition("?")
        return cls(method, path, {k: v[0] for k, v in parse_qs(query).items()}, headers, body)

    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


@dataclass(frozen=True)
class Reply:
    """A whole answer, or (``endless``) a hostile download of ``job`` that repeats ``piece``
    after ``head`` until the client leaves or the job's ``hostile_cap_bytes`` is reached."""

    status: int
    body: bytes = b""
    content_type: str | None = "application/json"
    endless: tuple[FakeJob, bytes, bytes] | None = None  # (job, head, piece)

    @classmethod
    def json(cls, value: Any, status: int = 200) -> Reply:
        return cls(status, dumps(value))

    async def send(self, connection: HttpConnection) -> None:
        headers = [("content-type", self.content_type)] if self.content_type else []
        if self.endless is None:
            connection.send(self.status, headers, self.body)
            return
        job, head, piece = self.endless
        connection.start_chunked(self.status, headers, head)
        while job.hostile_bytes_sent < job.script.hostile_cap_bytes and not connection.is_closing:
            connection.write_chunk(piece)
            job.hostile_bytes_sent += len(piece)
            await connection.drain()
            await asyncio.sleep(0)
        connection.end_chunked()


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def jsonl(values: list[Any], newline: bytes = b"\n") -> bytes:
    return b"".join(dumps(value) + newline for value in values)


def hostile_reply(job: FakeJob, sample_line: bytes) -> Reply:
    """The job's hostile download: one endless line, or ``sample_line`` forever."""
    if job.script.hostile == "endless_line":
        return Reply(200, content_type="application/octet-stream", endless=(job, b'{"custom_id":"x","pad":"', b"a" * _HOSTILE_PIECE))
    repeats = max(1, _HOSTILE_PIECE // (len(sample_line) + 1))
    return Reply(200, content_type="application/octet-stream", endless=(job, b"", (sample_line + b"\n") * repeats))
