"""The daemon's lifecycle: build the app without I/O, start, serve, drain on a signal."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import logging
import signal
import socket
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from aiohttp import web

from kafka_watchdog import __version__
from kafka_watchdog.alerting.incidents import State
from kafka_watchdog.alerting.service import AlertingService
from kafka_watchdog.alerting.status import AlertingStatus
from kafka_watchdog.alerting.store import StateDirInUse
from kafka_watchdog.app.supervisor import Supervisor
from kafka_watchdog.app.watcher import ClusterWatcher
from kafka_watchdog.config.schema import WatchdogConfig
from kafka_watchdog.config.web import LoadedWebConfig, load_web_config
from kafka_watchdog.model.published import Published
from kafka_watchdog.model.state import ClusterBoard
from kafka_watchdog.sinks.metrics import MetricsRenderer
from kafka_watchdog.web.connections import CappedSite
from kafka_watchdog.web.routes import (
    ALERTING,
    BOARD,
    MAX_SILENCE_DURATION,
    RENDERER,
    SILENCES,
    add_routes,
)
from kafka_watchdog.web.security import GUARD, WebGuard, guard

log = logging.getLogger(__name__)

# The whole stop after SIGTERM: the loops, then the sources, alerting's store and sessions.
# What has not finished by then is left behind (and logged); the process exits anyway.
SHUTDOWN_GRACE = 5.0
# In-flight HTTP requests (a scrape) are given this long when the server stops.
HTTP_SHUTDOWN = 2.0


class Daemon:
    """Everything that runs: one watcher per cluster, alerting, and the supervisor of
    their loops. Constructed without I/O; `start` connects, `stop` ends it in bounded time."""

    def __init__(self, config: WatchdogConfig) -> None:
        self.config = config
        self.board = ClusterBoard()
        self.watchers = [
            ClusterWatcher(
                c,
                config.collection,
                config.lag,
                min_replication_factor=config.metrics.min_replication_factor,
                board=self.board,
            )
            for c in config.clusters
        ]
        self.alerting = (
            AlertingService(self.board, config.alerting) if config.alerting.enabled else None
        )
        if self.alerting is not None:
            for watcher in self.watchers:
                # A group an open alert names is asked for by name when the listing misses
                # it: only its coordinator's "Dead" resolves it, never a missing answer.
                watcher.alerted_groups = functools.partial(
                    alerted_groups, self.alerting.status, watcher.name
                )
        self.supervisor = Supervisor()
        # librdkafka's version for build_info, as the Admin API workers report it.
        self.librdkafka_version = Published("")
        for watcher in self.watchers:
            watcher.admin.on_ready = self.librdkafka_version.publish
        self.renderer = MetricsRenderer(
            self.board,
            config.metrics,
            alerting=self.alerting.status if self.alerting else None,
            librdkafka_version=self.librdkafka_version,
        )

    async def start(self) -> None:
        if self.alerting is not None:
            # First: the open alerts are loaded before any collection, so that the groups
            # they name are asked for by name from the first cycle on (a restart mid-fault).
            await self.alerting.start()
        for watcher in self.watchers:
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
            await watcher.start(self.supervisor)
        if self.alerting is not None:
            for name, loop in self.alerting.loops().items():
                self.supervisor.start(name, loop)
        # The exposition is built when the clusters publish, not when Prometheus asks.
        self.supervisor.start("metrics:prepare", self.renderer.keep_ready)

    async def stop(self, grace: float = SHUTDOWN_GRACE) -> None:
        """Stop every loop, then close what they used, all within `grace` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        began = loop.time()
        await self.supervisor.stop(grace / 2)
        log.debug("loops stopped in %.2fs", loop.time() - began)

        async def timed(name: str, close: Coroutine[Any, Any, None]) -> None:
            started = loop.time()
            await close
            log.debug("%s closed in %.2fs", name, loop.time() - started)

        closing = [timed(w.name, w.close(max(0.1, deadline - loop.time()))) for w in self.watchers]
        if self.alerting is not None:
            closing.append(timed("alerting", self.alerting.close()))
        done, pending = await asyncio.wait(
            [asyncio.ensure_future(c) for c in closing], timeout=max(0.1, deadline - loop.time())
        )
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.warning("closing failed: %r", task.exception())
        for task in pending:
            task.cancel()
        if pending:
            log.warning("%d resources did not close within %gs; leaving them", len(pending), grace)
        log.debug("stopped in %.2fs", loop.time() - began)


def alerted_groups(status: Published[AlertingStatus], cluster: str) -> set[str]:
    """The consumer groups of `cluster` that open (pending or firing) alerts name."""
    return {
        a.finding.labels["group"]
        for a in status.value.alerts
        if a.state is not State.RESOLVED
        and a.finding.labels.get("kafka_cluster") == cluster
        and "group" in a.finding.labels
    }


DAEMON = web.AppKey("daemon", Daemon)


def build_app(config: WatchdogConfig, web_config: LoadedWebConfig | None = None) -> web.Application:
    """Construct everything; no connection is made until the app starts."""
    # The guard is the app's only middleware and wraps every route, present and future.
    app = web.Application(middlewares=[guard])
    app[GUARD] = WebGuard(
        web_config or load_web_config(config.server.web_config_file),
        allow_unauthenticated_writes=config.server.allow_unauthenticated_writes,
        request_timeout=config.server.request_timeout,
    )
    app[MAX_SILENCE_DURATION] = config.alerting.max_silence_duration
    daemon = Daemon(config)
    app[DAEMON] = daemon
    app[BOARD] = daemon.board
    alerting = daemon.alerting
    if alerting is not None:
        app[ALERTING] = alerting.status
        app[SILENCES] = alerting.silences
    app[RENDERER] = daemon.renderer

    async def running(app: web.Application) -> AsyncIterator[None]:
        await app[DAEMON].start()
        yield
        await app[DAEMON].stop()

    app.cleanup_ctx.append(running)
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
        sock.listen(min(128, max(8, config.server.max_connections // 2)))
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


Reloader = Callable[[], WatchdogConfig]
"""Reads and validates the config file again (raises ConfigError)."""


def _reload(app: web.Application, current: WatchdogConfig, reload: Reloader | None) -> None:
    """SIGHUP: read the config again; apply what can change live, keep the old on error.

    Live: the web config file (TLS certificate and key, client CA, basic_auth_users, read
    again even when only they changed: certificate rotation) and the server's write policy
    and request timeout. Everything else (clusters, alerting) is reported as needing a
    restart: applying it means restarting every loop and connection anyway, which a restart
    does with less risk. docs/security.md, "Reloading"."""
    if reload is None:
        log.warning("SIGHUP ignored: no config file to reload")
        return
    try:
        fresh = reload()
        web_config = load_web_config(fresh.server.web_config_file)
    except Exception as exc:  # ConfigError, WebConfigError: one clear message each
        log.error("SIGHUP: the config is not valid; keeping the running one:\n%s", exc)
        return
    old = app[GUARD]
    if (old.loaded.ssl_context is None) != (web_config.ssl_context is None):
        log.error("SIGHUP: switching TLS on or off needs a restart; keeping the running web config")
        return
    if old.loaded.ssl_context is not None and web_config.config.tls_server_config is not None:
        # Handshakes from now on use the new certificate and CA (same context object: the
        # listening socket keeps it).
        tls = web_config.config.tls_server_config
        base = web_config.path.parent if web_config.path is not None else None
        _reload_tls(old.loaded.ssl_context, tls, base)
        web_config = LoadedWebConfig(web_config.config, old.loaded.ssl_context, web_config.path)
    old.replace(web_config)
    old.allow_unauthenticated_writes = fresh.server.allow_unauthenticated_writes
    old.request_timeout = fresh.server.request_timeout
    changed = [
        section
        for section in ("clusters", "collection", "lag", "metrics", "alerting", "log")
        if getattr(fresh, section) != getattr(current, section)
    ]
    if fresh.server.listen != current.server.listen:
        changed.append("server.listen")
    if fresh.server.max_connections != current.server.max_connections:
        changed.append("server.max_connections")
    log.warning(
        "SIGHUP: web config reloaded (%d basic auth users, TLS %s)%s",
        len(web_config.config.basic_auth_users),
        "on" if web_config.ssl_context is not None else "off",
        f"; changed but applied only by a restart: {', '.join(changed)}" if changed else "",
    )


def _reload_tls(context: Any, tls: Any, base: Any) -> None:
    import ssl

    def resolve(p: Any) -> str:
        return str(p if p.is_absolute() or base is None else base / p)

    context.load_cert_chain(resolve(tls.cert_file), resolve(tls.key_file))
    if tls.client_ca_file is not None:
        context.load_verify_locations(cafile=resolve(tls.client_ca_file))
    context.verify_mode = {
        "NoClientCert": ssl.CERT_NONE,
        "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
        "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
    }[tls.effective_client_auth]


async def serve(
    config: WatchdogConfig, stop: asyncio.Event | None = None, reload: Reloader | None = None
) -> None:
    """Run until SIGTERM/SIGINT (or `stop` is set); SIGHUP reloads what can change live.
    Raises StartupError if it cannot serve."""
    try:
        web_config = load_web_config(config.server.web_config_file)
    except ValueError as exc:
        raise StartupError(f"server.web_config_file: {exc}") from None
    # Bind before anything starts: a port in use is reported before any connection is made.
    sock = _bind(config)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    app = build_app(config, web_config)
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGHUP, _reload, app, config, reload)
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log=None,
        shutdown_timeout=HTTP_SHUTDOWN,
        keepalive_timeout=config.server.keepalive_timeout,
    )
    try:
        await runner.setup()  # starts the daemon (cleanup_ctx): the state_dir's lock
    except StateDirInUse as exc:
        await runner.cleanup()
        sock.close()
        raise StartupError(str(exc)) from None
    scheme = "https" if web_config.ssl_context is not None else "http"
    try:
        await CappedSite(
            runner,
            sock,
            app[GUARD],
            config.server.max_connections,
            ssl_context=web_config.ssl_context,
        ).start()
        log.info(
            "kafka-watchdog %s serving on %s://%s (/metrics, /healthz, /readyz)",
            __version__,
            scheme,
            config.server.listen,
            extra={
                "clusters": len(config.clusters),
                "authentication": "on" if web_config.config.authenticates else "off",
            },
        )
        await stop.wait()
        log.info("stopping: draining collection loops and closing connections")
    finally:
        await runner.cleanup()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    log.info("stopped")
