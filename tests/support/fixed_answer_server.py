"""A tiny HTTP server on 127.0.0.1 that answers every POST with the one JSON body a test gives
(a server that reports whatever it likes, e.g. absurd usage figures). Bounded: it serves at most
``max_requests`` requests, then stops answering, and runs in a daemon thread until closed."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FixedAnswerServer:
    def __init__(self, body: dict[str, Any], *, max_requests: int = 100) -> None:
        self.body = json.dumps(body).encode()
        self.requests: list[dict[str, Any]] = []
        self.max_requests = max_requests
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the name http.server calls
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if len(server.requests) >= server.max_requests:
                    self.send_error(503, "request cap reached")
                    return
                server.requests.append(json.loads(raw or b"{}"))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, *args: Any) -> None:
                return None

        return Handler

    def __enter__(self) -> FixedAnswerServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
