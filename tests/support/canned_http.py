"""A hostile or odd HTTP endpoint on 127.0.0.1 for one test: every request is recorded (headers
included, so a test can see which key was sent) and answered by the test's own function, which
can echo what it received (a key in the ``model`` field, escape codes in an error message).

    with CannedServer(lambda request: (200, {"content-type": "application/json"}, b"{}")) as server:
        ... point a provider at server.base_url ...
        server.requests[0].headers["authorization"]

The server stops after ``lifetime_s`` even if the test forgets it; requests are handled one at a
time (tests send a handful).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Callable

HOST = "127.0.0.1"


@dataclass(frozen=True)
class CannedRequest:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: Any  # parsed JSON, or None


Reply = tuple[int, dict[str, str], bytes]


def json_reply(status: int, payload: Any) -> Reply:
    return status, {"content-type": "application/json"}, json.dumps(payload).encode()


def sse_reply(events: list[Any]) -> Reply:
    body = b"".join(b"data: " + json.dumps(event).encode() + b"\n\n" for event in events) + b"data: [DONE]\n\n"
    return 200, {"content-type": "text/event-stream"}, body


def bearer(request: CannedRequest) -> str:
    """The key a request carried in ``Authorization: Bearer KEY`` ("" when none)."""
    return request.headers.get("authorization", "").removeprefix("Bearer ")


class CannedServer:
    def __init__(self, respond: Callable[[CannedRequest], Reply], *, lifetime_s: float = 60.0) -> None:
        self.requests: list[CannedRequest] = []
        self._respond = respond
        self._lifetime_s = lifetime_s
        self._server = HTTPServer((HOST, 0), self._handler_class())
        self._server.timeout = 0.05
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="canned-http", daemon=True)

    @property
    def base_url(self) -> str:
        """An OpenAI-style base URL (``/v1``)."""
        return f"http://{HOST}:{self._server.server_address[1]}/v1"

    def __enter__(self) -> CannedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._server.server_close()

    def _serve(self) -> None:
        deadline = time.monotonic() + self._lifetime_s
        while not self._stop.is_set() and time.monotonic() < deadline:
            self._server.handle_request()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                request = CannedRequest(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                server.requests.append(request)
                status, headers, payload = server._respond(request)
                self.send_response(status)
                for name, value in {**headers, "content-length": str(len(payload)), "connection": "close"}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                return

        return Handler
