"""A cap on open HTTP connections, so idle sockets cannot take /metrics down.

250 idle connections against a 256 open-files limit used to exhaust the daemon's file
descriptors: accept() failed, /metrics stopped answering and Kafka connections could not be
made. Now (1) an idle connection, or one that has not finished its request headers, is
closed after `server.keepalive_timeout` (aiohttp's keep-alive timer runs from the moment a
connection is made); (2) at most `server.max_connections` are open: a new one closes the
longest-idle ones first, never one whose request is in progress (the guard middleware
tracks those), so a scraper always gets in; (3) a TLS handshake must end within
HANDSHAKE_TIMEOUT; (4) the listen backlog, which is also how many connections asyncio
accepts in one go before any of them is looked at, is half the cap: with 128 a burst of
idle sockets opened 128 + the cap + the evicted-but-not-yet-closed at once and hit EMFILE
at 256 open files (seen once in five runs of the test).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from kafka_watchdog.web.security import WebGuard

log = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT = 10.0


class CappedSite(web.SockSite):
    """aiohttp's SockSite with a connection cap and a TLS handshake timeout."""

    __slots__ = ("_evicted", "_guard", "_limit")

    def __init__(
        self,
        runner: web.BaseRunner,
        sock: socket.socket,
        guard: WebGuard,
        limit: int,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        backlog = min(128, max(8, limit // 2))
        super().__init__(runner, sock, ssl_context=ssl_context, backlog=backlog)
        self._guard = guard
        self._limit = limit
        self._evicted = 0

    @property
    def evicted(self) -> int:
        """Idle connections closed to make room since start."""
        return self._evicted

    def _protocol(self) -> RequestHandler:
        server = self._runner.server
        assert server is not None
        open_now = server.connections  # oldest first
        excess = len(open_now) - self._limit + 1
        if excess > 0:
            idle = [c for c in open_now if c not in self._guard.busy]
            for handler in idle[:excess]:
                handler.force_close()
                self._evicted += 1
            if self._evicted in (1, 100) or self._evicted % 1000 == 0:
                log.warning(
                    "HTTP connection cap (%d) reached: closed idle connections "
                    "(%d so far); raise server.max_connections if this is legitimate load",
                    self._limit,
                    self._evicted,
                )
        return server()

    async def start(self) -> None:
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol,
            sock=self._sock,
            ssl=self._ssl_context,
            backlog=self._backlog,
            ssl_handshake_timeout=HANDSHAKE_TIMEOUT if self._ssl_context else None,
        )
