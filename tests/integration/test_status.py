"""The status page in a real browser, and the operator commands, on a real cluster (issue 14).

- The page (`/`) of a real daemon, opened in Debian's chromium driven by playwright: a paused
  follower's partition shows as under-replicated with the broker out of its ISR, a lagging
  group shows with its lag, a group named `<script>alert(1)</script>` shows as text and no
  dialog opens, and the page fits a phone's width (its tables scroll inside themselves).
  Screenshots are written to $KAFKA_WATCHDOG_ARTIFACTS (default: the test's tmp dir).
- `kafka-watchdog check` in each state, with Nagios exit codes: healthy 0, a lagging group 1,
  a paused follower 1 (under-replicated) and 2 on a topic whose min.insync.replicas it
  breaks, an unreachable cluster 2, an unknown rule 3.
- `kafka-watchdog status` from the daemon (--url, --json) and from one collection
  (--config) shows the same partitions and groups, names printed as text.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import NewTopic

from testcluster import KraftCluster
from tests.integration.daemon import Daemon

pytestmark = pytest.mark.integration

EVIL = "<script>alert(1)</script>"
CHROMIUM = "/usr/bin/chromium"
# Debian's chromium headless as root on a machine without outside network (see
# docs/testing.md): the background-networking flags keep it from calling home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def artifacts(tmp_path: Path) -> Path:
    where = Path(os.environ.get("KAFKA_WATCHDOG_ARTIFACTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


def commit(cluster: KraftCluster, group: str, offsets: dict[tuple[str, int], int]) -> None:
    """Commit as a group without joining it: the group stays Empty, its lag stays."""
    consumer = Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": group})
    try:
        consumer.commit(
            offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()], asynchronous=False
        )
    finally:
        consumer.close()


class Scene:
    """One topic with a follower to pause, a lagging group and one with a hostile name."""

    def __init__(self, cluster: KraftCluster) -> None:
        self.cluster = cluster
        self.topic = f"page-{uuid.uuid4().hex[:6]}"
        cluster.create_topic(self.topic, partitions=2, rf=3)
        # Same placement, but one more failure than it tolerates: min.insync.replicas 3.
        self.strict = f"strict-{uuid.uuid4().hex[:6]}"
        cluster.create_topic(self.strict, partitions=1, rf=3, config={"min.insync.replicas": "3"})
        leader = cluster.leader_of(self.topic)
        controller = cluster.controller_id()
        followers = [b for b in cluster.replicas_of(self.topic) if b != leader]
        self.follower = next((b for b in followers if b != controller), followers[0])
        self.lagging = f"lagging-{uuid.uuid4().hex[:6]}"
        producer = Producer({"bootstrap.servers": cluster.bootstrap_servers, "acks": "all"})
        for partition in (0, 1):
            for _ in range(300):
                producer.produce(self.topic, b"x" * 50, partition=partition)
        assert producer.flush(60) == 0
        commit(cluster, self.lagging, {(self.topic, 0): 1, (self.topic, 1): 1})
        commit(cluster, EVIL, {(self.topic, 0): 2})

    def out_of_sync(self, view: dict[str, Any]) -> set[str]:
        (c,) = view["clusters"]
        return {
            f"{p['topic']}-{p['partition']}"
            for p in c["at_risk"]
            if self.follower in p["out_of_sync"]
        }


@pytest.fixture(scope="module")
def scene(kraft_cluster: KraftCluster) -> Scene:
    return Scene(kraft_cluster)


def config(cluster: KraftCluster, name: str = "kraft") -> dict[str, Any]:
    return {
        "collection": {
            "metadata_interval": "1s",
            "offsets_interval": "1s",
            "request_timeout": "5s",
        },
        "clusters": [{"name": name, "bootstrap_servers": cluster.bootstrap_servers}],
        "alerting": {
            "evaluation_interval": "0.5s",
            "rules": {
                "risky_topic_config": {"enabled": False},
                "under_replicated": {"for": "0s"},
            },
            "silences": [
                {
                    "matchers": {"rule": "consumer_lag"},
                    "ends_at": "2099-01-01T00:00:00Z",
                    "comment": "lag is expected in this test",
                }
            ],
        },
    }


@pytest.fixture
def daemon(kraft_cluster: KraftCluster, tmp_path: Path) -> Iterator[Daemon]:
    cfg = config(kraft_cluster)
    cfg["alerting"]["state_dir"] = str(tmp_path / "state")
    with Daemon(tmp_path, cfg) as d:
        yield d


def view(daemon: Daemon) -> dict[str, Any]:
    status, body = daemon.get("/api/status?groups=1000")
    assert status == 200, body
    return json.loads(body)  # type: ignore[no-any-return]


def group(v: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((g for g in v["clusters"][0]["groups"] if g["group"] == name), None)


async def test_the_page_shows_a_paused_follower_and_a_lagging_group_in_a_real_browser(
    kraft_cluster: KraftCluster, scene: Scene, daemon: Daemon, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    # Kafka refuses such a topic name (legal: [a-zA-Z0-9._-]); group ids are free text, so
    # the hostile name comes through a group.
    with pytest.raises(KafkaException, match=r"(?i)invalid"):
        kraft_cluster.admin.create_topics([NewTopic(EVIL, 1, 1)])[EVIL].result(30)

    kraft_cluster.broker(scene.follower).pause()
    daemon.wait(
        lambda: (
            scene.out_of_sync(view(daemon)) >= {f"{scene.topic}-0", f"{scene.topic}-1"}
            and (group(view(daemon), scene.lagging) or {}).get("lag") == 598
            and group(view(daemon), EVIL) is not None
            and any(a["rule"] == "under_replicated" for a in view(daemon)["alerts"])
        ),
        "the paused follower, the lagging groups and the alert in /api/status",
        120,
    )

    dialogs: list[str] = []
    out = artifacts(tmp_path)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("dialog", lambda d: dialogs.append(d.message))
            await page.goto(daemon.url + "/?refresh=0")
            text = await page.inner_text("main")
            assert "UNDER-REPLICATED" in text
            assert f"{scene.topic}-0" in text and f"{scene.topic}-1" in text
            at_risk = page.get_by_role("region", name="Partitions at risk")
            row = at_risk.locator("tr", has_text=f"{scene.topic}-0")
            assert "UNDER-REPLICATED" in await row.inner_text()
            groups = page.get_by_role("region", name="Consumer groups")
            lagging = groups.locator("tr", has_text=scene.lagging)
            assert "598" in await lagging.inner_text()  # 2 x 299 behind
            assert await page.get_by_text(EVIL, exact=True).count() == 1  # as text, once
            assert await page.locator("main script").count() == 0
            assert "under_replicated" in await page.inner_text("#alerts")
            assert "lag is expected in this test" in await page.inner_text("#silences")
            assert await page.locator("svg.spark").count() >= 1
            # Landmarks a screen reader navigates by.
            for role in ("banner", "navigation", "main", "contentinfo"):
                assert await page.get_by_role(role).count() >= 1, role
            await page.screenshot(path=str(out / "status-page.png"), full_page=True)

            phone = await browser.new_page(viewport={"width": 375, "height": 812})
            phone.on("dialog", lambda d: dialogs.append(d.message))
            await phone.goto(daemon.url + "/?refresh=0")
            # Nothing wider than the phone but the tables' own scrolling regions.
            overflow = await phone.evaluate(
                "document.documentElement.scrollWidth - window.innerWidth"
            )
            assert overflow <= 1, f"the page is {overflow}px wider than the phone"
            await phone.screenshot(path=str(out / "status-page-phone.png"), full_page=False)
        finally:
            await browser.close()
    assert dialogs == []
    print(f"screenshots: {out / 'status-page.png'}, {out / 'status-page-phone.png'}")


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kafka_watchdog", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200", **env},
    )


def test_check_exit_codes_in_each_state_and_status_from_the_daemon_and_once(
    kraft_cluster: KraftCluster, scene: Scene, daemon: Daemon, tmp_path: Path
) -> None:
    path = tmp_path / "check.yaml"
    cfg = config(kraft_cluster)
    cfg["collection"]["offsets_interval"] = "1s"
    path.write_text(yaml.safe_dump(cfg))
    replication = ["--only", "under_replicated", "--only", "under_min_isr"]

    healthy = cli("check", "--config", str(path), *replication)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert healthy.stdout.startswith("KAFKA-WATCHDOG OK - kraft: 3 brokers")
    assert "'under_replicated'=0;0;;0" in healthy.stdout.splitlines()[0]

    lag = cli("check", "--config", str(path), "--only", "consumer_lag", "--max-lag", "500")
    assert lag.returncode == 1, lag.stdout + lag.stderr
    assert f"group {scene.lagging} lags 598 messages on {scene.topic}" in lag.stdout
    assert "'max_lag'=" in lag.stdout and ";500;;0" in lag.stdout.splitlines()[0]

    kraft_cluster.broker(scene.follower).pause()
    daemon.wait(
        lambda: scene.out_of_sync(view(daemon)) >= {f"{scene.topic}-0", f"{scene.strict}-0"},
        "the follower out of the ISRs",
        120,
    )
    warn = cli("check", "--config", str(path), "--only", "under_replicated")
    assert warn.returncode == 1, warn.stdout + warn.stderr
    assert f"WARNING under_replicated: {scene.topic}-0" in warn.stdout
    crit = cli("check", "--config", str(path), *replication)
    assert crit.returncode == 2, crit.stdout + crit.stderr
    assert crit.stdout.startswith("KAFKA-WATCHDOG CRITICAL - 1 critical")
    assert f"CRITICAL under_min_isr: {scene.strict}-0" in crit.stdout

    # The same view from the daemon and from one collection: the partitions, the groups.
    shown = cli("status", "--url", daemon.url)
    once = cli("status", "--config", str(path))
    for out in (shown, once):
        assert out.returncode == 0, out.stderr
        assert f"{scene.topic}-0" in out.stdout and "UNDER-REPLICATED" in out.stdout
        assert EVIL in out.stdout and scene.lagging in out.stdout
    assert "lag is expected in this test" in shown.stdout  # silences come from the daemon
    as_json = json.loads(cli("status", "--url", daemon.url, "--json").stdout)
    assert scene.out_of_sync(as_json) >= {f"{scene.topic}-0"}

    unreachable = tmp_path / "down.yaml"
    unreachable.write_text(
        yaml.safe_dump(
            {
                "collection": {"request_timeout": "2s"},
                "clusters": [{"name": "down", "bootstrap_servers": "127.0.0.1:9"}],
            }
        )
    )
    down = cli("check", "--config", str(unreachable))
    assert down.returncode == 2 and "cluster_unseen" in down.stdout, down.stdout
    assert "'up'=0" in down.stdout
    unknown = cli("check", "--config", str(path), "--only", "no_such_rule")
    assert unknown.returncode == 3 and unknown.stdout.startswith("KAFKA-WATCHDOG UNKNOWN")


def test_the_page_api_and_status_command_behind_tls_and_basic_auth(tmp_path: Path) -> None:
    """The status page and /api/status are routes like the others: behind the web config's
    TLS and basic auth (web/security.py), and `status --url` passes both. No Kafka needed:
    the watched cluster is a closed port, which the page shows as unseen."""
    from testcluster.certs import CertificateAuthority
    from tests.integration.test_http_hardening import fetch, hashed, unseen

    ca = CertificateAuthority(tmp_path / "ca")
    server = ca.issue("watchdog", server=True)
    web = tmp_path / "web.yml"
    web.write_text(
        json.dumps(
            {
                "tls_server_config": {"cert_file": str(server.cert), "key_file": str(server.key)},
                "basic_auth_users": {"alice": hashed("pw-alice")},
            }
        )
    )
    trusted = ssl.create_default_context(cafile=str(ca.cert))
    with Daemon(tmp_path, unseen(), "--web-config-file", str(web)) as daemon:
        url = f"https://127.0.0.1:{daemon.port}"
        daemon.wait(lambda: fetch(url + "/healthz", trusted)[0] == 200, "HTTPS up")
        for path in ("/", "/api/status"):
            assert fetch(url + path, trusted)[0] == 401, path
            assert fetch(url + path, trusted, ("alice", "wrong"))[0] == 401, path
        status, page = fetch(url + "/", trusted, ("alice", "pw-alice"))
        assert status == 200 and "<main" in page and "gone" in page
        status, body = fetch(url + "/api/status", trusted, ("alice", "pw-alice"))
        assert status == 200 and [c["name"] for c in json.loads(body)["clusters"]] == ["gone"]

        args = ("status", "--url", url, "--cacert", str(ca.cert), "--json")
        refused = cli(*args)
        assert refused.returncode != 0 and "401" in refused.stderr, refused.stderr
        shown = cli(*args, "--user", "alice", KAFKA_WATCHDOG_PASSWORD="pw-alice")
        assert shown.returncode == 0, shown.stderr
        assert [c["name"] for c in json.loads(shown.stdout)["clusters"]] == ["gone"]
        assert "pw-alice" not in daemon.log()
