"""Alerting end to end: the real daemon, the real cluster with real faults, and real HTTP
receivers on loopback standing in for Slack (apprise's json:// form) and PagerDuty (its
Events API v2 shape; the API base is configurable)."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import Producer
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.daemon import Daemon, free_port
from tests.integration.loopback import Receiver

pytestmark = pytest.mark.integration


# The alerting timings of these tests, short so that an incident is told within seconds.
EVALUATION_INTERVAL = 0.5
GROUP_WAIT = 2.0
GROUP_INTERVAL = 3.0


def alerting_config(
    cluster: Any, receiver: Receiver, state_dir: Path, **extra: Any
) -> dict[str, Any]:
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
            "evaluation_interval": f"{EVALUATION_INTERVAL}s",
            "state_dir": str(state_dir),
            "group_wait": f"{GROUP_WAIT}s",
            "group_interval": f"{GROUP_INTERVAL}s",
            "retry_max_interval": "2s",
            "rules": {"risky_topic_config": {"enabled": False}},
            **extra,
        },
    }


def topic_with_a_follower(cluster: Any, prefix: str) -> tuple[str, int]:
    """A new RF 3 topic and one of its followers (the broker the tests pause), not the
    controller if it can help it: pausing the controller also moves controllership and
    unregisters the broker, incidents these tests are not about."""
    topic = f"{prefix}-{uuid.uuid4().hex[:6]}"
    cluster.create_topic(topic, partitions=1, rf=3)
    leader, controller = cluster.leader_of(topic), cluster.controller_id()
    followers = [b for b in cluster.replicas_of(topic) if b != leader]
    return topic, next((b for b in followers if b != controller), followers[0])


def under_replicated_only(topic: str) -> dict[str, Any]:
    """Rules for tests that break one topic's replication: only its under_replicated fires."""
    return {
        "risky_topic_config": {"enabled": False},
        "under_replicated": {"for": "0s", "topics": {"include": [topic]}},
        "broker_gone": {"enabled": False},
    }


def chat_receiver(receiver: Receiver) -> dict[str, Any]:
    """A chat room (apprise's json:// webhook) that hears the under_replicated warnings."""
    return {
        "name": "chat",
        "severities": ["warning"],
        "matchers": {"rule": "under_replicated"},
        "apprise": [f"json://127.0.0.1:{receiver.port}/chat"],
    }


def wait(predicate: Any, what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def sample(daemon: Daemon, name: str, **labels: str) -> float | None:
    """One sample of the daemon's /metrics, None when it is not there."""
    for family in text_string_to_metric_families(daemon.get("/metrics")[1]):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


def evaluations(daemon: Daemon) -> int:
    return int(sample(daemon, "kafka_watchdog_alert_evaluations_total") or 0)


def settled(daemon: Daemon, receiver: str) -> None:
    """Wait until nothing more can be on its way to `receiver`: from now on the daemon has
    evaluated its alerts for longer than group_wait and group_interval (counted in
    evaluations, which are at least evaluation_interval apart, so a busy machine makes this
    take longer, never prove less) and its outbox holds nothing for `receiver` (a row leaves
    the outbox only once the receiver took it). A notification that has not arrived then was
    not going to: this replaces sleeping and hoping the machine kept up."""
    span = max(GROUP_WAIT, GROUP_INTERVAL)
    target = evaluations(daemon) + math.ceil(span / EVALUATION_INTERVAL) + 2
    daemon.wait(
        lambda: (
            evaluations(daemon) >= target
            and sample(daemon, "kafka_watchdog_notifications_queued", receiver=receiver) == 0
        ),
        f"{target} alert evaluations and an empty outbox for {receiver}",
        120,
    )


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
        # The loss is measured against the log end the watchdog last saw: let it see 250.
        end = f'kafka_watchdog_partition_log_end_offset{{kafka_cluster="zk",topic="{topic}",'
        daemon.wait(
            lambda: f'{end}partition="0"}} 250' in daemon.get("/metrics")[1],
            "the watchdog to see the 250 records' log end",
        )
        cluster.broker(leader).kill()
        wait(lambda: cluster.leader_of(topic) == -1, "the partition to go offline")
        cluster.broker(stale).start()
        wait(lambda: receiver.at("/pd/v2/enqueue"), "a PagerDuty event", 120)
        settled(daemon, "pager")  # nothing more may come
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
    topic, follower = topic_with_a_follower(cluster, "outage")
    config = alerting_config(
        cluster,
        receiver,
        tmp_path / "state",
        rules=under_replicated_only(topic),
        receivers=[chat_receiver(receiver)],
    )
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
        settled(daemon, "chat")  # and the firing message is not told again
        posts = receiver.at(chat)
    assert len(posts) == 2, posts
    assert resolved[0]["title"].startswith("[RESOLVED] under_replicated")
    assert posts[0]["title"].startswith("[WARNING] under_replicated")


@pytest.fixture
def alertmanager(tmp_path: Path, receiver: Receiver) -> Iterator[str]:
    """A real Alertmanager (Debian's package) that forwards to the recording receiver."""
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        pytest.fail("prometheus-alertmanager is missing: run `make alertmanager`")
    port = free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "route": {
                    "receiver": "hook",
                    "group_by": ["kafka_cluster", "alertname"],
                    "group_wait": "1s",
                    "group_interval": "2s",
                    "repeat_interval": "1h",
                },
                "receivers": [
                    {
                        "name": "hook",
                        "webhook_configs": [
                            {"url": f"http://127.0.0.1:{receiver.port}/am", "send_resolved": True}
                        ],
                    }
                ],
            }
        )
    )
    log = (tmp_path / "alertmanager.log").open("wb")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait(lambda: _up(url + "/-/ready"), "Alertmanager to be ready", 30)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def test_alertmanager_receives_firing_and_resolved(
    tmp_path: Path, zk_cluster: Any, receiver: Receiver, alertmanager: str
) -> None:
    cluster = zk_cluster
    topic, follower = topic_with_a_follower(cluster, "am")
    config = alerting_config(
        cluster,
        receiver,
        tmp_path / "state",
        rules=under_replicated_only(topic),
        receivers=[
            {
                "name": "am",
                "severities": ["warning"],
                # Far longer than the test: what arrives was posted as it happened.
                "alertmanager": {"url": alertmanager, "resend_interval": "1h"},
            }
        ],
    )

    def hooks(status: str) -> list[dict[str, Any]]:
        return [
            a
            for doc in receiver.at("/am")
            for a in doc.get("alerts", [])
            if a["status"] == status and a["labels"].get("topic") == topic
        ]

    with Daemon(tmp_path, config) as daemon:
        daemon.wait(lambda: daemon.clusters()["zk"]["ready"], "the cluster in view")
        cluster.broker(follower).pause()
        firing = wait(lambda: hooks("firing"), "Alertmanager to notify the firing alert")
        labels = firing[0]["labels"]
        assert labels["alertname"] == "under_replicated" and labels["kafka_cluster"] == "zk"
        assert labels["severity"] == "warning" and labels["partition"] == "0"
        assert topic in firing[0]["annotations"]["summary"]
        cluster.broker(follower).resume()
        wait(lambda: hooks("resolved"), "Alertmanager to notify the resolve", 90)


def test_silence_from_the_api_holds_notifications_until_it_is_expired(
    tmp_path: Path, zk_cluster: Any, receiver: Receiver
) -> None:
    cluster = zk_cluster
    topic, follower = topic_with_a_follower(cluster, "silence")
    config = alerting_config(
        cluster,
        receiver,
        tmp_path / "state",
        rules=under_replicated_only(topic),
        receivers=[chat_receiver(receiver)],
    )
    # No web config file here: writes need the explicit opt-in (docs/security.md).
    config["server"] = {"allow_unauthenticated_writes": True}
    with Daemon(tmp_path, config) as daemon:
        daemon.wait(lambda: daemon.clusters()["zk"]["ready"], "the cluster in view")
        request = urllib.request.Request(
            daemon.url + "/api/silences",
            data=json.dumps(
                {"matchers": {"topic": topic}, "duration": "10m", "comment": "maintenance"}
            ).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            silence = json.loads(response.read())
        cluster.broker(follower).pause()
        daemon.wait(lambda: firing(daemon, topic), "the alert to fire (silenced)")
        settled(daemon, "chat")  # past group_wait: a notification would have gone out
        assert receiver.at("/chat") == []
        expire = urllib.request.Request(
            f"{daemon.url}/api/silences/{silence['id']}", method="DELETE"
        )
        with urllib.request.urlopen(expire, timeout=5) as response:
            assert response.status == 204
        told = wait(lambda: receiver.at("/chat"), "the notification once the silence ended")
        assert topic in told[0]["message"]
        cluster.broker(follower).resume()


def test_two_replicas_one_notifier_and_failover_does_not_page_again(
    tmp_path: Path, zk_cluster: Any, receiver: Receiver
) -> None:
    """Two replicas share a ZooKeeper lock: an incident is told once; the notifier dies
    (kill -9) mid-incident; the standby takes over without telling it again, and tells its
    resolve. What is asserted is what on-call sees (one page, one resolve, the resolve from
    the standby), not how many alerts the cluster happened to raise meanwhile."""
    cluster = zk_cluster
    topic, follower = topic_with_a_follower(cluster, "ha")
    hosts = cluster.zk_connect.split("/")[0]
    config = alerting_config(
        cluster,
        receiver,
        tmp_path / "unused",
        rules=under_replicated_only(topic),
        receivers=[chat_receiver(receiver)],
        ha={"zookeeper": {"connect": f"{hosts}/watchdog-ha", "session_timeout": "3s"},
            "group": topic},
    )  # fmt: skip
    replicas = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        config["alerting"]["state_dir"] = str(tmp_path / name / "state")
        replicas.append(Daemon(tmp_path / name, json.loads(json.dumps(config))))
    a, b = replicas
    notifier = "\nkafka_watchdog_alerting_notifier 1\n"  # the sample, not its HELP line
    with a, b:
        for d in (a, b):
            d.wait(lambda d=d: d.clusters()["zk"]["ready"], "the cluster in view")  # type: ignore[misc]
        first = wait(
            lambda: [d for d in (a, b) if notifier in d.get("/metrics")[1]], "a notifier", 30
        )
        assert len(first) == 1
        leader, standby = (a, b) if first[0] is a else (b, a)
        cluster.broker(follower).pause()
        wait(lambda: receiver.at("/chat"), "the firing message")
        # The notifier has told it once, and published that (each evaluation publishes a
        # changed state first) before the evaluations `settled` waits for.
        settled(leader, "chat")
        assert len(receiver.at("/chat")) == 1, receiver.at("/chat")
        standby.wait(lambda: firing(standby, topic), "the standby to fire too, silently")
        assert leader.proc is not None
        leader.proc.kill()  # no goodbye: its lock goes with its ZooKeeper session
        standby.wait(lambda: notifier in standby.get("/metrics")[1], "the standby to take over")
        settled(standby, "chat")  # a re-page would be here by now
        assert len(receiver.at("/chat")) == 1, receiver.at("/chat")
        cluster.broker(follower).resume()
        resolved = wait(lambda: receiver.at("/chat")[1:], "the resolve from the new notifier")
        settled(standby, "chat")
        # Both messages the standby could have sent, only the resolve came from it.
        sent = sample(standby, "kafka_watchdog_notifications_sent_total", receiver="chat")
    assert len(receiver.at("/chat")) == 2, receiver.at("/chat")
    assert resolved[0]["title"].startswith("[RESOLVED] under_replicated")
    assert topic in resolved[0]["message"]
    assert sent == 1
    assert "alerting HA: took over" in standby.log()


def firing(daemon: Daemon, topic: str) -> bool:
    return any(
        a["state"] == "firing" and a["finding"]["labels"].get("topic") == topic
        for a in json.loads(daemon.get("/api/alerts")[1])
    )
