"""The loopback fake of the three vendors' batch APIs: a ``LoopbackServer`` (same thread, loop,
bounded lifetime, 127.0.0.1 only, same base URLs) that also serves OpenAI's ``/v1/files`` +
``/v1/batches``, Anthropic's ``/v1/messages/batches`` and Gemini's ``batchGenerateContent``, so a
live call and a batch job against one server give the same answer text::

    with FakeBatchServer(api_key="sk-test") as server:
        server.script_next(JobScript(fail_ids=frozenset({"r-2"}), pending_polls=2))
        ... point a provider at server.openai_base_url and submit a job
        assert server.route_counts()["openai.status"] == 3
        assert server.jobs()[0].custom_ids == ("r-1", "r-2")

Every batch route is counted by name (``openai.upload``, ``anthropic.results``, ``gemini.create``
...); a request without the vendor's key (when ``api_key`` is set) is answered 401 (Gemini: 400
``API_KEY_INVALID``), as the vendors do, and counted as ``<vendor>.auth``. Anything else goes to
the loopback's live routes. See ``script.py`` for what a job can be told to do.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from tests.support.fake_batch.anthropic_api import AnthropicBatchAPI
from tests.support.fake_batch.gemini_api import GeminiBatchAPI
from tests.support.fake_batch.jobs import FakeJob, JobRecord, JobStore
from tests.support.fake_batch.openai_api import OpenAIBatchAPI
from tests.support.fake_batch.reply import BatchRequest, Reply
from tests.support.fake_batch.script import JobScript
from tests.support.loopback.connection import HttpConnection, HttpRequest
from tests.support.loopback.server import LoopbackServer
from tests.support.loopback.wire import Call, Shape, error_reply, status_for


class FakeBatchServer(LoopbackServer):
    """See the module docstring. ``api_key``: the key every batch request must carry (None: any)."""

    def __init__(self, *, api_key: str | None = None, port: int = 0, lifetime_s: float = 120.0, **loopback: Any) -> None:
        super().__init__(port=port, lifetime_s=lifetime_s, **loopback)
        self._api_key = api_key
        self._store = JobStore()
        self._routes_lock = threading.Lock()
        self._route_counts: Counter[str] = Counter()
        self._openai = OpenAIBatchAPI(self._store)
        self._gemini = GeminiBatchAPI(self._store)
        self._anthropic: AnthropicBatchAPI | None = None  # needs the URL, known once started

    # --- scripting and assertions (any thread) ------------------------------------------------

    def script_next(self, *scripts: JobScript) -> None:
        """Queue scripts for the next jobs created (of any vendor), one per job."""
        for script in scripts:
            self._store.queue(script)

    def set_default_script(self, script: JobScript) -> None:
        """The script of jobs created with none queued."""
        self._store.default = script

    def jobs(self) -> list[JobRecord]:
        """Every job created, oldest first."""
        return self._store.records()

    def job(self, job_id: str) -> FakeJob | None:
        """A live job (to read its phase or how many hostile bytes it sent)."""
        return self._store.get(job_id)

    def route_counts(self) -> dict[str, int]:
        with self._routes_lock:
            return dict(self._route_counts)

    # --- serving (the server's loop) -------------------------------------------------------------

    async def handle(self, request: HttpRequest, connection: HttpConnection) -> None:
        batch_request = BatchRequest.of(request.method, request.target, request.headers, request.body)
        vendor = _vendor(batch_request.path)
        if vendor is None:
            await super().handle(request, connection)
            return
        if not self._authorised(vendor, batch_request.headers):
            self._count(f"{vendor}.auth")
            await _auth_error(vendor).send(connection)
            return
        routed = self._api(vendor).route(batch_request)
        if routed is None:
            await super().handle(request, connection)
            return
        name, reply = routed
        self._count(name)
        await reply.send(connection)

    def _api(self, vendor: Shape) -> OpenAIBatchAPI | AnthropicBatchAPI | GeminiBatchAPI:
        if vendor == "openai":
            return self._openai
        if vendor == "gemini":
            return self._gemini
        if self._anthropic is None:
            self._anthropic = AnthropicBatchAPI(self._store, self.url)
        return self._anthropic

    def _authorised(self, vendor: Shape, headers: dict[str, str]) -> bool:
        if self._api_key is None:
            return True
        given = {"openai": headers.get("authorization", "").removeprefix("Bearer "),
                 "anthropic": headers.get("x-api-key", ""), "gemini": headers.get("x-goog-api-key", "")}[vendor]
        return given == self._api_key

    def _count(self, name: str) -> None:
        with self._routes_lock:
            self._route_counts[name] += 1


def _vendor(path: str) -> Shape | None:
    """Which vendor's batch API a path belongs to (None: a live route or an unknown one)."""
    if path.startswith(("/v1/files", "/v1/batches")):
        return "openai"
    if path.startswith("/v1/messages/batches"):
        return "anthropic"
    if path.startswith(("/v1beta/batches", "/download/v1beta/")) or path.endswith(":batchGenerateContent"):
        return "gemini"
    return None


def _auth_error(vendor: Shape) -> Reply:
    reply = error_reply(Call(vendor, "", False, False, "", 0), "auth", status_for(vendor, "auth"), None, None)
    return Reply.json(reply.body, reply.status)
