"""The daemon end to end against the real clusters: what a user sees on day one."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from testcluster import KraftCluster
from tests.integration.daemon import Daemon, free_port

pytestmark = pytest.mark.integration


def metric_values(text: str, name: str) -> dict[str, float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                out[sample.labels["kafka_cluster"]] = sample.value
    return out


def fast(clusters: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "collection": {"metadata_interval": "1s", "request_timeout": "2s"},
        "metrics": {"kafka_exporter_compat": True},
        "clusters": clusters,
    }


def test_watches_zookeeper_and_kraft_clusters_and_reports_the_unreachable_one(
    tmp_path: Path, zk_cluster: Any
) -> None:
    # A private one-node KRaft cluster beside the session's ZooKeeper-mode one: the session
    # KRaft cluster lives on the other pytest-xdist worker (grouping.py: worker_group).
    with KraftCluster(tmp_path / "kraft", nodes=1) as kraft_cluster:
        _watch_both_and_a_ghost(tmp_path, zk_cluster, kraft_cluster)


def _watch_both_and_a_ghost(tmp_path: Path, zk_cluster: Any, kraft_cluster: Any) -> None:
    ghost = f"127.0.0.1:{free_port()}"
    config = fast(
        [
            {
                "name": "zk",
                "bootstrap_servers": zk_cluster.bootstrap_servers,
                "zookeeper": {"connect": zk_cluster.zk_connect},
            },
            {"name": "kraft", "bootstrap_servers": kraft_cluster.bootstrap_servers},
            {"name": "ghost", "bootstrap_servers": ghost},
        ]
    )
    with Daemon(tmp_path, config) as daemon:
        daemon.wait(lambda: daemon.get("/healthz")[0] == 200, "/healthz")
        daemon.wait(
            lambda: all(daemon.clusters()[n]["ready"] for n in ("zk", "kraft")),
            "both real clusters ready",
        )
        state = daemon.clusters()
        assert state["zk"]["brokers"] == [1, 2, 3] and state["kraft"]["brokers"] == [1]
        assert state["zk"]["zookeeper_session"] == "CONNECTED"
        daemon.wait(
            lambda: daemon.clusters()["ghost"]["stages"]["metadata"]["consecutive_failures"] >= 3,
            "three failed attempts on the unreachable cluster",
        )
        status, body = daemon.get("/readyz")
        assert status == 503
        assert f"cannot reach cluster 'ghost' at {ghost}" in body

        status, text = daemon.get("/metrics")
        assert status == 200
        lint = subprocess.run(
            ["promtool", "check", "metrics"], input=text, capture_output=True, text=True
        )
        # kafka_exporter's own names end in _sum on gauges, which promtool's lint dislikes;
        # they are kept as they are for its dashboards. Everything else must be clean.
        problems = [
            line
            for line in (lint.stdout + lint.stderr).splitlines()
            if line and not re.match(r"kafka_consumergroup_\w+_sum non-histogram", line)
        ]
        assert not problems, problems
        assert "kafka_topic_partition_in_sync_replica{" in text  # kafka_exporter names too
        broker_info = (
            r'(?m)^kafka_broker_info\{address="127\.0\.0\.1:\d+",id="1",kafka_cluster="zk"\} 1$'
        )
        assert re.search(broker_info, text), "kafka_exporter's kafka_broker_info"

        # Real curl with --compressed decodes only the first member of a gzip stream: the
        # whole exposition must be in one, or the families after the first are silently lost.
        curled = subprocess.run(
            ["curl", "-sS", "--compressed", "-w", "\n%header{content-encoding}",
             f"{daemon.url}/metrics"],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout  # fmt: skip
        body, encoding = curled.rsplit("\n", 1)
        assert encoding == "gzip"

        def families(exposition: str) -> set[str]:
            return set(re.findall(r"(?m)^# TYPE (\S+)", exposition))

        # Alerts come and go between two scrapes; every other family is in both.
        lost = families(text) - families(body) - {"kafka_watchdog_alerts"}
        assert not lost, f"curl --compressed did not see {sorted(lost)}"
        # `up` is judged at each scrape from the view's age; the clusters were ready a moment
        # ago, but on a busy machine a cycle may have been slow since: wait for the answer.
        daemon.wait(
            lambda: (
                metric_values(daemon.get("/metrics")[1], "kafka_watchdog_up")
                == {"zk": 1, "kraft": 1, "ghost": 0}
            ),
            "up 1 for the two real clusters and 0 for the unreachable one",
        )
        assert metric_values(text, "kafka_watchdog_brokers") == {"zk": 3, "kraft": 1}

        # Unreachable is retried, not fatal, and not logged on every attempt.
        assert daemon.log().count("cannot reach cluster 'ghost'") == 1
        assert daemon.terminate() == 0
    log = daemon.log()
    assert "stopped" in log.splitlines()[-1]
    assert "Traceback" not in log, log[log.find("Traceback") - 1500 :][:5000]


def test_wrong_chroot_is_named_with_the_right_one(tmp_path: Path, zk_cluster: Any) -> None:
    wrong = zk_cluster.zk_hosts + "/wrong"
    config = fast(
        [
            {
                "name": "zk",
                "bootstrap_servers": zk_cluster.bootstrap_servers,
                "zookeeper": {"connect": wrong},
            }
        ]
    )
    with Daemon(tmp_path, config) as daemon:
        daemon.wait(
            lambda: daemon.clusters()["zk"]["stages"]["zookeeper"]["last_error"] is not None,
            "the ZooKeeper check to fail",
        )
        error = daemon.clusters()["zk"]["stages"]["zookeeper"]["last_error"]
        assert "has no /wrong/brokers/ids for cluster 'zk': the chroot '/wrong'" in error
        assert f"set zookeeper.connect to {zk_cluster.zk_connect}" in error
        # The Admin API view does not depend on ZooKeeper: still ready.
        daemon.wait(lambda: daemon.get("/readyz")[0] == 200, "ready through the Admin API")
        assert daemon.terminate() == 0

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kafka_watchdog",
            "validate-config",
            "--connect",
            str(daemon.config_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert re.search(r"error: ZooKeeper .* has no /wrong/brokers/ids", result.stdout)


def test_validate_connect_checks_both_sources(tmp_path: Path, zk_cluster: Any) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(
        f"clusters:\n  - name: zk\n    bootstrap_servers: {zk_cluster.bootstrap_servers}\n"
        f"    zookeeper: {{connect: '{zk_cluster.zk_connect}'}}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "kafka_watchdog", "validate-config", "--connect", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "cluster 'zk': Admin API OK: cluster id " in result.stdout
    assert "3 brokers" in result.stdout
    assert f"cluster 'zk': ZooKeeper OK: {zk_cluster.zk_connect}" in result.stdout


def test_port_in_use_is_one_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = fast([{"name": "a", "bootstrap_servers": f"127.0.0.1:{free_port()}"}])
        with Daemon(tmp_path, config, "--listen", f"127.0.0.1:{port}") as daemon:
            assert daemon.proc is not None
            assert daemon.proc.wait(30) == 2
        log = daemon.log()
        assert f"server.listen: 127.0.0.1:{port} is already in use" in log
        assert "Traceback" not in log
