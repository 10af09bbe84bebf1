"""The daemon's lifecycle: build the app without I/O, start, serve, drain on a signal."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import socket
from collections.abc import AsyncIterator

from aiohttp import web

from kafka_watchdog import __version__
from kafka_watchdog.alerting.service import AlertingService
from kafka_watchdog.app.watcher import ClusterWatcher
from kafka_watchdog.config.schema import WatchdogConfig
from kafka_watchdog.sinks.metrics import MetricsRenderer
from kafka_watchdog.web.routes import ALERTING, RENDERER, WATCHERS, add_routes

log = logging.getLogger(__name__)


def build_app(config: WatchdogConfig) -> web.Application:
    """Construct everything; no connection is made until the app starts."""
    app = web.Application()
    app[WATCHERS] = [ClusterWatcher(c, config.collection, config.lag) for c in config.clusters]

    async def watchers_ctx(app: web.Application) -> AsyncIterator[None]:
        for watcher in app[WATCHERS]:
            log.info(
                "watching cluster",
                extra={
                    "kafka_cluster": watcher.name,
                    "bootstrap_servers": ",".join(watcher.cluster.bootstrap_servers),
                    "zookeeper": watcher.cluster.zookeeper.connect
                    if watcher.cluster.zookeeper
                    else "none",
                },
            )
            await watcher.start()
        yield
        # Reverse order, like any stack of resources.
        watchers: list[ClusterWatcher] = app[WATCHERS]
        for watcher in reversed(watchers):
            await watcher.stop()

    app.cleanup_ctx.append(watchers_ctx)
    watchers: list[ClusterWatcher] = app[WATCHERS]
    alerting = (
        AlertingService(watchers, config.alerting, config.metrics.min_replication_factor)
        if config.alerting.enabled
        else None
    )
    if alerting is not None:
        app[ALERTING] = alerting

        async def alerting_ctx(app: web.Application) -> AsyncIterator[None]:
            # Started after the watchers and stopped before them (cleanup runs in reverse).
            await alerting.start()
            yield
            await alerting.stop()

        app.cleanup_ctx.append(alerting_ctx)
    app[RENDERER] = MetricsRenderer(watchers, config.metrics, alerting=alerting)
    add_routes(app)
    return app


class StartupError(Exception):
    """Nothing could be started; the message says why and what to do."""


def _bind(config: WatchdogConfig) -> socket.socket:
    host, port = config.server.host or "0.0.0.0", config.server.port
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise StartupError(f"server.listen: cannot resolve {config.server.listen}: {exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(
                f"server.listen: {config.server.listen} is already in use by another "
                "process; choose another port (server.listen in the config, --listen, or "
                "KAFKA_WATCHDOG__SERVER__LISTEN)"
            ) from None
        raise StartupError(
            f"server.listen: cannot listen on {config.server.listen}: {exc.strerror}"
        ) from None
    return sock


async def serve(config: WatchdogConfig, stop: asyncio.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT (or `stop` is set). Raises StartupError if it cannot serve."""
    # Bind before anything starts: a port in use is reported before any connection is made.
    sock = _bind(config)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    app = build_app(config)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        log.info(
            "kafka-watchdog %s serving on http://%s (/metrics, /healthz, /readyz)",
            __version__,
            config.server.listen,
            extra={"clusters": len(config.clusters)},
        )
        await stop.wait()
        log.info("stopping: draining collection loops and closing connections")
    finally:
        await runner.cleanup()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    log.info("stopped")
