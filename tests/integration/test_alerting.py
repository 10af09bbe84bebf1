"""Alerting end to end: the real daemon, the real cluster with real faults, and real HTTP
receivers on loopback standing in for Slack (apprise's json:// form) and PagerDuty (its
Events API v2 shape; the API base is configurable)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from tests.integration.daemon import Daemon

pytestmark = pytest.mark.integration


class Receiver:
    """Records every POST; answers 503 while `down` (a receiver outage)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.down = False
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                doc = json.loads(self.rfile.read(length) or b"{}")
                if receiver.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                with receiver.lock:
                    receiver.posts.append((self.path, doc))
                self.send_response(202)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status":"success"}')

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def at(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [doc for p, doc in self.posts if p == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def alerting_config(cluster: Any, receiver: Receiver, state_dir: Path, **extra: Any) -> dict:
    return {
        "log": {"level": "info"},
        "collection": {
            "metadata_interval": "1s",
            "offsets_interval": "1s",
            "request_timeout": "3s",
        },
        "clusters": [
            {
                "name": "zk",
                "bootstrap_servers": cluster.bootstrap_servers,
                "zookeeper": {"connect": cluster.zk_connect},
            }
        ],
        "alerting": {
            "evaluation_interval": "500ms",
            "state_dir": str(state_dir),
            "group_wait": "2s",
            "group_interval": "3s",
            "retry_max_interval": "2s",
            "rules": {"risky_topic_config": {"enabled": False}},
            **extra,
        },
    }


def wait(predicate: Any, what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def produce(bootstrap: str, topic: str, count: int, acks: str) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": acks, "linger.ms": 5})
    for i in range(count):
        producer.produce(topic, value=b"x" * 100, key=str(i).encode())
    assert producer.flush(60) == 0


def test_seed_incident_pages_once_with_partition_brokers_and_records_lost(
    tmp_path: Path, zk_cluster: Any, receiver: Receiver
) -> None:
    cluster = zk_cluster
    config = alerting_config(
        cluster,
        receiver,
        tmp_path / "state",
        receivers=[
            {
                "name": "pager",
                "severities": ["critical"],
                "matchers": {"rule": "unclean_leader_election"},
                "pagerduty": {
                    "routing_key": "test-routing-key",
                    "api_base": f"http://127.0.0.1:{receiver.port}/pd",
                },
            }
        ],
    )
    topic = f"seed-{uuid.uuid4().hex[:6]}"
    cluster.create_topic(
        topic,
        partitions=1,
        rf=2,
        config={"unclean.leader.election.enable": "true", "min.insync.replicas": "1"},
    )
    with Daemon(tmp_path, config) as daemon:
        daemon.wait(lambda: daemon.clusters()["zk"]["ready"], "the cluster in view")
        leader = cluster.leader_of(topic)
        stale = next(b for b in cluster.replicas_of(topic) if b != leader)
        produce(cluster.bootstrap_servers, topic, 50, "all")
        cluster.broker(stale).stop()
        wait(lambda: cluster.isr_of(topic) == [leader], "the ISR to be the leader alone")
        produce(cluster.bootstrap_servers, topic, 200, "1")
        time.sleep(3)  # the watchdog reads the 250 records' log end
        cluster.broker(leader).kill()
        wait(lambda: cluster.leader_of(topic) == -1, "the partition to go offline")
        cluster.broker(stale).start()
        events = wait(lambda: receiver.at("/pd/v2/enqueue"), "a PagerDuty event", 120)
        time.sleep(8)  # more evaluations and group intervals: nothing more may come
        events = receiver.at("/pd/v2/enqueue")
        assert len(events) == 1, events
        (event,) = events
        assert event["routing_key"] == "test-routing-key"
        assert event["event_action"] == "trigger"
        summary = event["payload"]["summary"]
        assert event["payload"]["severity"] == "critical"
        assert f"{topic}-0" in summary
        assert f"broker {stale} became leader outside the ISR [{leader}]" in summary
        assert "200 records lost" in summary, summary
        assert "test-routing-key" not in daemon.log()


def test_outage_and_restart_lose_nothing_and_repeat_nothing(
    tmp_path: Path, zk_cluster: Any, receiver: Receiver
) -> None:
    """Under-replication fires (one message); the receiver goes down; the partition heals
    and the resolve is queued; the watchdog restarts; the receiver comes back: exactly one
    resolve arrives, and the firing message is not repeated."""
    cluster = zk_cluster
    topic = f"outage-{uuid.uuid4().hex[:6]}"
    cluster.create_topic(topic, partitions=1, rf=3)
    config = alerting_config(
        cluster,
        receiver,
        tmp_path / "state",
        rules={
            "risky_topic_config": {"enabled": False},
            "under_replicated": {"for": "0s", "topics": {"include": [topic]}},
            "broker_gone": {"enabled": False},
        },
        receivers=[
            {
                "name": "chat",
                "severities": ["warning"],
                "matchers": {"rule": "under_replicated"},
                "apprise": [f"json://127.0.0.1:{receiver.port}/chat"],
            }
        ],
    )
    follower = next(b for b in cluster.replicas_of(topic) if b != cluster.leader_of(topic))
    chat = "/chat"
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
    with Daemon(tmp_path / "first", config) as daemon:
        daemon.wait(lambda: daemon.clusters()["zk"]["ready"], "the cluster in view")
        cluster.broker(follower).pause()
        first = wait(lambda: receiver.at(chat), "the firing message")
        assert "under_replicated" in first[0]["title"] and topic in first[0]["message"]
        receiver.down = True
        cluster.broker(follower).resume()
        wait(lambda: len(cluster.isr_of(topic)) == 3, "the ISR to heal", 60)
        daemon.wait(
            lambda: (
                "notifications_failed_total" in daemon.get("/metrics")[1]
                and 'kafka_watchdog_notifications_queued{receiver="chat"} 1'
                in daemon.get("/metrics")[1]
            ),
            "the resolve queued while the receiver is down",
        )
        assert daemon.terminate() == 0
    receiver.down = False
    with Daemon(tmp_path / "second", config) as daemon:
        resolved = wait(lambda: receiver.at(chat)[1:], "the queued resolve after the restart")
        time.sleep(6)
        posts = receiver.at(chat)
    assert len(posts) == 2, posts
    assert resolved[0]["title"].startswith("[RESOLVED] under_replicated")
    assert posts[0]["title"].startswith("[WARNING] under_replicated")
