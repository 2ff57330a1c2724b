"""The loopback fake provider: an HTTP/1.1 server on 127.0.0.1 that answers in the OpenAI,
Anthropic and Gemini shapes, with scripted latency and faults, counting everything.

It runs its own event loop in a background thread, so sync tests, async tests and benchmark
scripts use it the same way::

    with LoopbackServer(Behaviour(latency_s=0.05)) as server:
        server.script("gpt-x", Fault.rate_limited(retry_after_s=1), Fault.ok())
        httpx.post(f"{server.openai_base_url}/chat/completions", json=...)
        assert server.stats().by_fault == {"429": 1, "ok": 1}

It is bounded: it stops by itself after ``max_requests`` requests (once those in flight are
answered) or ``lifetime_s`` seconds, whichever comes first, and it binds only 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from typing import Any
from urllib.parse import parse_qs

from tests.support.loopback.connection import HttpConnection, HttpRequest
from tests.support.loopback.respond import JSON, perform
from tests.support.loopback.script import Behaviour, Fault, FaultMix, Script, plan_for
from tests.support.loopback.tally import RequestRecord, Stats, Tally
from tests.support.loopback.wire import (
    Call,
    Route,
    WireError,
    encode_json,
    error_reply,
    parse_call,
    route_for,
    unknown_route_body,
)

HOST = "127.0.0.1"
_CLOSE_GRACE_S = 0.5


class LoopbackServer:
    """A fake LLM provider on 127.0.0.1; see the module docstring."""

    def __init__(
        self,
        behaviour: Behaviour | None = None,
        *,
        faults: FaultMix | None = None,
        port: int = 0,
        max_requests: int = 1_000_000,
        lifetime_s: float = 600.0,
        record_limit: int = 10_000,
        backlog: int = 2048,
    ) -> None:
        if max_requests < 1 or lifetime_s <= 0:
            raise ValueError("max_requests and lifetime_s must be positive: the server must stop by itself")
        self._script = Script(behaviour or Behaviour(), faults)
        self._tally = Tally(record_limit)
        self._requested_port = port
        self._max_requests = max_requests
        self._lifetime_s = lifetime_s
        self._backlog = backlog
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._stopped = threading.Event()
        self._stop_reason: str | None = None
        self._start_error: BaseException | None = None
        self._connections: set[HttpConnection] = set()
        self._accepting = True
        self._in_flight = 0

    # --- lifecycle (any thread) -------------------------------------------------------------

    def start(self, timeout_s: float = 10.0) -> LoopbackServer:
        if self._thread is not None:
            raise RuntimeError("a LoopbackServer starts once")
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="loopback-server", daemon=True)
        self._thread.start()
        if not ready.wait(timeout_s):
            raise RuntimeError("loopback server did not start in time")
        if self._start_error is not None:
            raise self._start_error
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop (if still running) and wait for the server's thread to end."""
        loop, thread = self._loop, self._thread
        if loop is not None and not self._stopped.is_set():
            with contextlib.suppress(RuntimeError):  # the loop closed on its own meanwhile (lifetime or request cap)
                loop.call_soon_threadsafe(self._request_stop, "stopped")
        if thread is not None:
            thread.join(timeout_s)

    def wait_stopped(self, timeout_s: float | None = None) -> bool:
        """Block until the server has stopped (by itself or by ``stop``); False on timeout."""
        return self._stopped.wait(timeout_s)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._stopped.is_set()

    @property
    def stop_reason(self) -> str | None:
        """Why it stopped: "stopped", "max_requests" or "lifetime" (None while running)."""
        return self._stop_reason if self._stopped.is_set() else None

    # --- addresses ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the loopback server is not started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """OpenAI-style base URL, with ``/v1`` as the vendor SDKs expect."""
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    @property
    def gemini_base_url(self) -> str:
        return self.url

    # --- scripting (any thread) -------------------------------------------------------------

    def script(self, model: str, *faults: Fault) -> None:
        """Queue responses for requests to ``model`` ("*": any model without its own queue),
        consumed one per request, before the random faults and the default apply."""
        self._script.push(model, faults)

    def pending(self, model: str | None = None) -> int:
        """How many scripted responses are still queued (for one model, or in all)."""
        return self._script.pending(model)

    def set_default(self, behaviour: Behaviour) -> None:
        self._script.set_default(behaviour)

    def set_faults(self, faults: FaultMix | None) -> None:
        self._script.set_mix(faults)

    # --- counts (any thread) ----------------------------------------------------------------

    def stats(self) -> Stats:
        return self._tally.stats()

    @property
    def requests(self) -> list[RequestRecord]:
        """The most recent requests (up to ``record_limit``), oldest first."""
        return self._tally.records()

    def handler_errors(self) -> list[str]:
        """Exceptions raised inside the fake itself (there should be none)."""
        return self._tally.errors()

    def calls(self, text: str, *, exact: bool = False, answered: bool = False) -> int:
        """How many requests had ``text`` in (or, ``exact``, as) their last user message;
        ``answered`` counts only those that got a complete success."""
        return self._tally.calls(text, exact=exact, answered=answered)

    def calls_by(self, pattern: str, *, answered: bool = False) -> dict[str, int]:
        """Request counts keyed by the first group of the regular expression ``pattern`` found in
        each last user message, e.g. ``calls_by(r"row-(\\d+)")`` -> ``{"17": 1, "18": 2}``."""
        return self._tally.calls_by(pattern, answered=answered)

    def reset_counts(self) -> None:
        self._tally.reset()

    # --- the server's own thread ------------------------------------------------------------

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(ready))
        except BaseException as error:
            self._start_error = error
            ready.set()
        finally:
            loop.close()
            self._stopped.set()

    async def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        server = await loop.create_server(
            lambda: HttpConnection(self), HOST, self._requested_port, backlog=self._backlog, reuse_address=True
        )
        self._port = server.sockets[0].getsockname()[1]
        lifetime = loop.call_later(self._lifetime_s, self._request_stop, "lifetime")
        ready.set()
        await self._stop_event.wait()
        lifetime.cancel()
        self._accepting = False
        server.close()
        await self._close_connections()
        await server.wait_closed()
        await _cancel_other_tasks()

    async def _close_connections(self) -> None:
        for connection in list(self._connections):
            connection.close()  # close, not abort: answers already written still reach the client
        deadline = asyncio.get_running_loop().time() + _CLOSE_GRACE_S
        while self._connections and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        for connection in list(self._connections):
            connection.abort()
        await asyncio.sleep(0)

    def _request_stop(self, reason: str) -> None:
        if self._stop_reason is None:
            self._stop_reason = reason
        if self._stop_event is not None:
            self._stop_event.set()

    # --- connection callbacks (server loop) -------------------------------------------------

    def opened(self, connection: HttpConnection) -> None:
        self._connections.add(connection)
        self._tally.connection()

    def closed(self, connection: HttpConnection) -> None:
        self._connections.discard(connection)

    def failed(self, error: BaseException) -> None:
        self._tally.handler_error(error)

    async def handle(self, request: HttpRequest, connection: HttpConnection) -> None:
        path, _, query = request.target.partition("?")
        if path.startswith("/_loopback/"):
            self._control(request, path, query, connection)
            return
        if not self._accepting:
            self._tally.refused()
            connection.abort()
            return
        seq = self._tally.next_seq()
        if seq >= self._max_requests:
            self._accepting = False
        self._in_flight += 1
        try:
            await self._dispatch(request, path, query, connection, seq)
        finally:
            self._in_flight -= 1
            if not self._accepting and self._in_flight == 0:
                self._request_stop("max_requests")

    async def _dispatch(self, request: HttpRequest, path: str, query: str, connection: HttpConnection,
                        seq: int) -> None:
        route = route_for(request.method, path, query)
        body = _json_or_none(request.body)
        if route is None:
            self._tally.record(RequestRecord(seq, request.method, path, None, None, body, "unknown_route"))
            self._tally.status(404)
            connection.send(404, [JSON], encode_json(unknown_route_body(path)))
            return
        try:
            call = parse_call(route, body)
        except WireError as error:
            self._reject_body(route, request.method, path, body, seq, str(error), connection)
            return
        fault = self._script.choose(call.model)
        record = RequestRecord(seq, request.method, path, call.model, call.prompt, body, fault.label(call.shape))
        self._tally.record(record)
        plan = plan_for(fault, self._script.default)
        await perform(connection, call, plan, seq, self._tally, lambda: self._tally.answered(call.prompt))

    def _reject_body(self, route: Route, method: str, path: str, body: Any, seq: int, message: str,
                     connection: HttpConnection) -> None:
        model = route.model_in_path or (body.get("model") if isinstance(body, dict) else None)
        self._tally.record(RequestRecord(seq, method, path, model, None, body, "bad_body"))
        self._tally.status(400)
        call = Call(route.shape, str(model or ""), False, False, "", 0)
        reply = error_reply(call, "bad_request", 400, None, None, message)
        connection.send(400, [JSON], encode_json(reply.body))

    def _control(self, request: HttpRequest, path: str, query: str, connection: HttpConnection) -> None:
        """Read-only endpoints for a server in another process: its stats and per-prompt counts."""
        params = parse_qs(query)
        answered = params.get("answered", ["0"])[0] in ("1", "true")
        if path == "/_loopback/stats":
            payload: Any = self.stats().to_dict()
        elif path == "/_loopback/calls" and "pattern" in params:
            payload = self.calls_by(params["pattern"][0], answered=answered)
        else:
            connection.send(404, [JSON], encode_json(unknown_route_body(path)))
            return
        connection.send(200, [JSON], encode_json(payload))

    def __repr__(self) -> str:
        where = f"{HOST}:{self._port}" if self._port else "not started"
        return f"LoopbackServer({where}, running={self.running})"


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


async def _cancel_other_tasks() -> None:
    current = asyncio.current_task()
    others = [task for task in asyncio.all_tasks() if task is not current]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)
