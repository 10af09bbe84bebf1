"""The loopback HTTP servers the integration tests page into (chat webhooks, PagerDuty,
misbehaving receivers): one way to start them, on 127.0.0.1 and a free port, quiet, and
one receiver that records what the daemon sent."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietHandler(BaseHTTPRequestHandler):
    """A handler that does not print a line per request into the test output."""

    def log_message(self, *args: object) -> None:
        pass


def serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """Serve `handler` on 127.0.0.1, a free port (`server.server_address[1]`), in a daemon
    thread; the caller shuts the server down."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Loopback:
    """A server of `handler` on loopback, its port, and its end."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = serve(handler)
        self.port: int = self.server.server_address[1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Receiver(Loopback):
    """A JSON webhook (apprise's json://, PagerDuty's Events API, Alertmanager's API): it
    records every POST as (path, document) in arrival order and answers 202, or 503 while
    `down` (a receiver outage: nothing is recorded then)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.down = False
        self.lock = threading.Lock()
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                doc = json.loads(self.rfile.read(length) or b"{}")
                if receiver.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                receiver.record(self.path, doc)
                self.send_response(202)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status":"success"}')

        super().__init__(Handler)

    def record(self, path: str, doc: dict[str, Any]) -> None:
        with self.lock:
            self.posts.append((path, doc))

    def at(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [doc for p, doc in self.posts if p == path]
