"""The loopback HTTP servers the integration tests page into (chat webhooks, PagerDuty,
misbehaving receivers): one way to start them, on 127.0.0.1 and a free port, quiet."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


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
