"""The daemon's own surface, on the real `kafka-watchdog run` over real sockets (issue 10):
TLS, basic auth and client certificates from a web config file, SIGHUP, idle connections
against a low open-files limit, and delivery (a hanging receiver, 429 Retry-After, a 404).

No Kafka is needed: the watched cluster is a closed port (cluster_unseen is the alert the
delivery tests follow)."""

from __future__ import annotations

import json
import resource
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from testcluster.certs import CertificateAuthority
from tests.integration.daemon import Daemon, free_port
from tests.integration.loopback import Loopback, QuietHandler, Receiver


def unseen(**alerting: Any) -> dict[str, Any]:
    return {
        "clusters": [{"name": "gone", "bootstrap_servers": f"127.0.0.1:{free_port()}"}],
        "collection": {"request_timeout": "2s"},
        "alerting": {"evaluation_interval": "1s", "group_wait": "0s", **alerting},
    }


def wait(predicate: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def fetch(
    url: str, context: ssl.SSLContext | None = None, auth: tuple[str, str] | None = None
) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if auth is not None:
        import base64

        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def hashed(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()


def test_tls_basic_auth_client_certificates_and_sighup(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path / "ca")
    server = ca.issue("watchdog", server=True)
    client = ca.issue("prometheus")
    web = tmp_path / "web.yml"

    def write_web(users: dict[str, str], auth_type: str = "VerifyClientCertIfGiven") -> None:
        web.write_text(
            json.dumps(
                {
                    "tls_server_config": {
                        "cert_file": str(server.cert),
                        "key_file": str(server.key),
                        "client_ca_file": str(ca.cert),
                        "client_auth_type": auth_type,
                    },
                    "basic_auth_users": users,
                }
            )
        )

    write_web({"alice": hashed("pw-alice")})
    anonymous = ssl.create_default_context(cafile=str(ca.cert))
    with_cert = ssl.create_default_context(cafile=str(ca.cert))
    with_cert.load_cert_chain(str(client.cert), str(client.key))
    with Daemon(tmp_path, unseen(), "--web-config-file", str(web)) as daemon:
        url = f"https://127.0.0.1:{daemon.port}"
        daemon.wait(lambda: fetch(url + "/healthz", anonymous)[0] == 200, "HTTPS up")
        # Plain HTTP to the TLS port gets nothing useful.
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            urllib.request.urlopen(f"http://127.0.0.1:{daemon.port}/metrics", timeout=5).read()
        assert fetch(url + "/metrics", anonymous)[0] == 401
        assert fetch(url + "/metrics", anonymous, ("alice", "wrong"))[0] == 401
        status, body = fetch(url + "/metrics", anonymous, ("alice", "pw-alice"))
        assert status == 200 and "kafka_watchdog_up" in body
        # A verified client certificate authenticates too (it is who an audit log names).
        assert fetch(url + "/api/alerts", with_cert)[0] == 200
        # SIGHUP: a new user list applies at once; the old password stops working.
        write_web({"bob": hashed("pw-bob")})
        assert daemon.proc is not None
        daemon.proc.send_signal(signal.SIGHUP)
        wait(lambda: fetch(url + "/metrics", anonymous, ("bob", "pw-bob"))[0] == 200, "reload")
        assert fetch(url + "/metrics", anonymous, ("alice", "pw-alice"))[0] == 401
        # A broken web config on SIGHUP is logged and the running one kept.
        web.write_text("basic_auth_users: {carol: not-a-hash}\n")
        daemon.proc.send_signal(signal.SIGHUP)
        daemon.wait(lambda: "keeping the running one" in daemon.log(), "the reload refused")
        assert "not-a-hash" not in daemon.log()
        assert fetch(url + "/metrics", anonymous, ("bob", "pw-bob"))[0] == 200
        assert daemon.proc.poll() is None
        assert daemon.terminate() == 0


def test_mtls_required_refuses_clients_without_a_certificate(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path / "ca")
    server = ca.issue("watchdog", server=True)
    client = ca.issue("prometheus")
    web = tmp_path / "web.yml"
    web.write_text(
        f"tls_server_config:\n  cert_file: {server.cert}\n  key_file: {server.key}\n"
        f"  client_ca_file: {ca.cert}\n"
    )
    anonymous = ssl.create_default_context(cafile=str(ca.cert))
    with_cert = ssl.create_default_context(cafile=str(ca.cert))
    with_cert.load_cert_chain(str(client.cert), str(client.key))
    config = unseen()
    config["server"] = {"web_config_file": str(web)}
    with Daemon(tmp_path, config) as daemon:
        url = f"https://127.0.0.1:{daemon.port}"
        daemon.wait(lambda: fetch(url + "/healthz", with_cert)[0] == 200, "HTTPS up")
        with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError, OSError)):
            fetch(url + "/metrics", anonymous)
        # Writes are allowed for an mTLS-authenticated caller (no opt-in needed).
        request = urllib.request.Request(
            url + "/api/silences",
            data=json.dumps({"matchers": {"rule": "cluster_unseen"}, "duration": "1h"}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10, context=with_cert) as r:
            made = json.loads(r.read())
        assert made["created_by"] == "cert:prometheus"
        assert "silence" in daemon.log() and "added by cert:prometheus" in daemon.log()
        assert daemon.terminate() == 0


class LimitedDaemon(Daemon):
    """The daemon under RLIMIT_NOFILE=256, as in the report."""

    def __enter__(self) -> LimitedDaemon:
        import os

        self._log = self.log_path.open("wb")

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kafka_watchdog", "run", "--config", str(self.config_path)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            preexec_fn=limit,
        )
        return self


def test_250_idle_sockets_at_256_open_files_do_not_take_metrics_down(tmp_path: Path) -> None:
    config = unseen()
    config["server"] = {"max_connections": 32, "keepalive_timeout": "30s"}
    with LimitedDaemon(tmp_path, config) as daemon:
        daemon.wait(lambda: daemon.get("/healthz")[0] == 200, "the daemon up")
        idle: list[socket.socket] = []
        try:
            for _ in range(250):
                s = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
                idle.append(s)
            # Half of them also start a request and never finish its headers (slowloris).
            for s in idle[::2]:
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            for _ in range(5):
                status, body = daemon.get("/metrics")
                assert status == 200 and "kafka_watchdog_up" in body
        finally:
            for s in idle:
                s.close()
        assert "Too many open files" not in daemon.log()
        assert daemon.terminate() == 0


class Answering(Loopback):
    """A webhook that answers every POST with a fixed status (and headers), or hangs."""

    def __init__(self, status: int, headers: dict[str, str] | None = None, hang: bool = False):
        self.posts = 0
        self.release = threading.Event()
        answering = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                answering.posts += 1
                if hang:
                    answering.release.wait(120)
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        super().__init__(Handler)

    def close(self) -> None:
        self.release.set()
        super().close()


def counter(daemon: Daemon, name: str, receiver: str) -> float:
    _, body = daemon.get("/metrics")
    for line in body.splitlines():
        if line.startswith(name + "{") and f'receiver="{receiver}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_delivery_per_receiver_retry_after_and_permanent_errors(
    tmp_path: Path, receiver: Receiver
) -> None:
    hanging = Answering(200, hang=True)
    limited = Answering(429, {"Retry-After": "3600"})
    gone = Answering(404)
    try:
        receivers = [
            # PagerDuty that never answers: must not delay the chat.
            {
                "name": "stuck",
                "pagerduty": {
                    "routing_key": "k" * 32,
                    "api_base": f"http://127.0.0.1:{hanging.port}",
                },
            },
            {"name": "chat", "apprise": [f"json://127.0.0.1:{receiver.port}/chat"]},
            # 429 with Retry-After: one attempt, then nothing for an hour.
            {
                "name": "limited",
                "pagerduty": {
                    "routing_key": "k" * 32,
                    "api_base": f"http://127.0.0.1:{limited.port}",
                },
            },
            # A Slack-like 404 through apprise: given up at once, counted as dropped.
            {"name": "gone", "apprise": [f"json://127.0.0.1:{gone.port}/hook"]},
        ]
        config = unseen(rules={"cluster_unseen": {"for": "2s"}}, receivers=receivers)
        with Daemon(tmp_path, config) as daemon:
            wait(lambda: receiver.at("/chat"), "the chat page while PagerDuty hangs")
            assert hanging.posts >= 1
            daemon.wait(
                lambda: counter(daemon, "kafka_watchdog_notifications_dropped_total", "gone") == 1,
                "the 404 given up",
            )
            daemon.wait(lambda: limited.posts == 1, "one attempt to the rate-limited receiver")
            daemon.wait(lambda: "retrying in 3600s" in daemon.log(), "Retry-After honoured")
            assert gone.posts == 1
            assert "k" * 32 not in daemon.log()
            assert daemon.terminate() == 0
    finally:
        for server in (hanging, limited, gone):
            server.close()


def test_ha_with_zookeeper_unreachable_keeps_running_and_does_not_notify(
    tmp_path: Path,
) -> None:
    """It used to exit with a KazooTimeoutError traceback. Now it serves, says once that it
    does not notify without the lock, and shows it (kafka_watchdog_alerting_notifier 0)."""
    config = unseen(
        ha={"zookeeper": {"connect": f"127.0.0.1:{free_port()}", "connect_timeout": "2s"}}
    )
    with Daemon(tmp_path, config) as daemon:
        daemon.wait(
            lambda: "is unreachable; this replica does not notify" in daemon.log(),
            "the clear error",
        )
        status, body = daemon.get("/metrics")
        assert status == 200 and "kafka_watchdog_alerting_notifier 0\n" in body
        assert daemon.get("/healthz")[0] == 200
        assert "Traceback" not in daemon.log() and "KazooTimeoutError" not in daemon.log()
        assert daemon.terminate() == 0
