"""The daemon against a secured KRaft cluster: SASL_SSL (SCRAM-SHA-512) and mTLS with
secrets from files, ACLs enforced (testcluster/secure.py).

- With the ACLs docs/security.md lists, every stage works through either listener.
- With one ACL less, only the stage that needs it fails, its error names the ACL (one log
  line, /api/clusters, kafka_watchdog_collection_failing) and every other metric stays.
- A wrong password, an untrusted broker certificate or a client certificate the brokers do
  not trust are reported as such, naming the setting to fix, by the daemon and by
  `validate-config --connect` alike.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import Consumer, Producer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from testcluster.certs import CertificateAuthority
from testcluster.secure import WATCHDOG_ACLS, SecureKraftCluster
from tests.integration.daemon import Daemon

pytestmark = pytest.mark.integration

VALIDATE = (sys.executable, "-m", "kafka_watchdog", "validate-config", "--connect")
STAGES = ("metadata", "offsets", "groups", "configs", "quorum")


def sasl_client(cluster: SecureKraftCluster, user: str, **extra: str) -> dict[str, Any]:
    return {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": user,
        "sasl.password_file": str(cluster.password_file(user)),
        "ssl.ca.location": str(cluster.ca.cert),
        **extra,
    }


def mtls_client(cluster: SecureKraftCluster, user: str) -> dict[str, Any]:
    identity = cluster.identity(user)
    return {
        "security.protocol": "SSL",
        "ssl.ca.location": str(cluster.ca.cert),
        "ssl.certificate.location": str(identity.cert),
        "ssl.key.location": str(identity.key),
    }


def config(*clusters: dict[str, Any]) -> dict[str, Any]:
    return {
        # configs_interval is at its minimum: the degraded-configs test waits for two
        # failures.
        "collection": {
            "metadata_interval": "1s",
            "offsets_interval": "1s",
            "configs_interval": "5s",
            "request_timeout": "5s",
        },
        "clusters": list(clusters),
    }


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    ]


def has_series(text: str, name: str, cluster: str, **labels: str) -> bool:
    return any(
        got.get("kafka_cluster") == cluster and all(got.get(k) == v for k, v in labels.items())
        for got, _ in samples(text, name)
    )


def topic_with_group(cluster: SecureKraftCluster) -> tuple[str, str]:
    """A topic with records and a consumer group that committed, made as the harness's
    super user: what the watchdog principals must then be allowed to see."""
    topic = f"secure-{uuid.uuid4().hex[:8]}"
    group = f"{topic}-group"
    cluster.create_topic(topic, partitions=2, rf=3)
    with Producer({**cluster.client_config, "acks": "all"}) as producer:
        for _ in range(10):
            producer.produce(topic, b"x", partition=0)
        assert producer.flush(30) == 0
    consumer = Consumer({**cluster.client_config, "group.id": group})
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, 4)], asynchronous=False)
    finally:
        consumer.close()
    return topic, group


def test_the_watchdog_principal_has_exactly_the_documented_acls(
    secure_cluster: SecureKraftCluster,
) -> None:
    """Kafka's own AclCommand is the oracle: the principal the next test watches with holds
    WATCHDOG_ACLS and nothing else (tests/unit checks docs/security.md lists the same)."""
    listed = secure_cluster.acls_of("watchdog")
    granted = [line for line in listed.splitlines() if "principal=User:watchdog," in line]
    assert len(granted) == len(WATCHDOG_ACLS), listed
    for kind, name, operation in WATCHDOG_ACLS:
        resource = "CLUSTER" if kind.name == "BROKER" else kind.name
        block = listed.split(f"resourceType={resource}, name={name},")[1].split("Current ACLs")[0]
        assert f"operation={operation.name}, permissionType=ALLOW" in block, listed


def test_watches_through_sasl_ssl_and_mtls_with_secrets_from_files(
    tmp_path: Path, secure_cluster: SecureKraftCluster
) -> None:
    topic, group = topic_with_group(secure_cluster)
    watched = config(
        {
            "name": "sasl",
            "bootstrap_servers": secure_cluster.sasl_bootstrap,
            "kafka_client": sasl_client(secure_cluster, "watchdog"),
        },
        {
            "name": "mtls",
            "bootstrap_servers": secure_cluster.mtls_bootstrap,
            "kafka_client": mtls_client(secure_cluster, "watchdog"),
        },
    )
    with Daemon(tmp_path, watched) as daemon:

        def every_stage_ok() -> bool:
            clusters = daemon.clusters()
            return all(
                clusters[name]["stages"][stage]["last_success"] is not None
                for name in ("sasl", "mtls")
                for stage in STAGES
            )

        daemon.wait(every_stage_ok, "every stage of both clusters to succeed", timeout=120)
        daemon.wait(
            lambda: all(
                has_series(daemon.get("/metrics")[1], "kafka_watchdog_consumergroup_lag", name)
                for name in ("sasl", "mtls")
            ),
            "the group's lag through both listeners",
        )
        state = daemon.clusters()
        controller = secure_cluster.controller_id()  # MetadataQuorumCommand, as the admin
        for name in ("sasl", "mtls"):
            assert state[name]["brokers"] == [1, 2, 3]
            # The active controller comes from DescribeQuorum (Describe on the cluster).
            assert state[name]["controller_id"] == controller
            for stage in STAGES:
                assert state[name]["stages"][stage]["last_error"] is None, state[name]
        text = daemon.get("/metrics")[1]
        for name in ("sasl", "mtls"):
            assert has_series(text, "kafka_watchdog_partition_in_sync_replicas", name, topic=topic)
            assert has_series(
                text, "kafka_watchdog_consumergroup_committed_offset", name, group=group
            )
            assert not has_series(text, "kafka_watchdog_collection_failing", name)
        assert daemon.terminate() == 0
    log = daemon.log()
    assert secure_cluster.passwords["watchdog"] not in log
    assert "Traceback" not in log


def test_missing_acls_fail_only_their_stage_and_name_the_acl(
    tmp_path: Path, secure_cluster: SecureKraftCluster
) -> None:
    topic, group = topic_with_group(secure_cluster)
    watched = config(
        {
            "name": "no-configs",
            "bootstrap_servers": secure_cluster.sasl_bootstrap,
            "kafka_client": sasl_client(secure_cluster, "watchdog-no-configs"),
        },
        {
            "name": "no-groups",
            "bootstrap_servers": secure_cluster.mtls_bootstrap,
            "kafka_client": mtls_client(secure_cluster, "watchdog-no-groups"),
        },
    )
    refused = {"no-configs": "configs", "no-groups": "groups"}
    with Daemon(tmp_path, watched) as daemon:

        def degraded() -> bool:
            clusters = daemon.clusters()
            return all(
                clusters[name]["stages"][stage]["consecutive_failures"] >= 2
                and all(
                    clusters[name]["stages"][other]["last_success"] is not None
                    for other in STAGES
                    if other != stage
                )
                for name, stage in refused.items()
            )

        daemon.wait(degraded, "each refused stage to fail twice, the others to work", 120)
        state = daemon.clusters()
        configs = state["no-configs"]["stages"]["configs"]
        assert configs["last_error_reason"] == "authorization"
        assert "DescribeConfigs denied for" in configs["last_error"]
        assert "--allow-principal User:watchdog-no-configs" in configs["last_error"]
        assert "--operation DescribeConfigs --topic '*'" in configs["last_error"]
        groups = state["no-groups"]["stages"]["groups"]
        assert groups["last_error_reason"] == "authorization"
        assert "Describe on consumer groups denied for" in groups["last_error"]
        assert group in groups["last_error"]
        assert "--operation Describe --group '*'" in groups["last_error"]
        for name, stage in refused.items():
            for other in STAGES:
                if other != stage:  # (a busy machine may time one out, never refuse it)
                    reason = state[name]["stages"][other]["last_error_reason"]
                    assert reason != "authorization", (name, other, state[name])
            assert state[name]["ready"] is True

        text = daemon.get("/metrics")[1]
        refusals = [
            labelled
            for labelled in samples(text, "kafka_watchdog_collection_failing")
            if labelled[0]["reason"] == "authorization"
        ]
        assert refusals == [
            (
                {
                    "kafka_cluster": "no-configs",
                    "source": "admin",
                    "stage": "configs",
                    "reason": "authorization",
                },
                1.0,
            ),
            (
                {
                    "kafka_cluster": "no-groups",
                    "source": "admin",
                    "stage": "groups",
                    "reason": "authorization",
                },
                1.0,
            ),
        ]
        # Everything the refused ACL is not needed for is still there.
        for name in refused:
            for metric in (
                "kafka_watchdog_partition_in_sync_replicas",
                "kafka_watchdog_partition_log_end_offset",
            ):
                assert has_series(text, metric, name, topic=topic), (name, metric)
        assert has_series(text, "kafka_watchdog_consumergroup_lag", "no-configs", group=group)
        assert not has_series(text, "kafka_watchdog_consumergroup_lag", "no-groups")
        assert daemon.terminate() == 0
    log = daemon.log()
    # One warning per refused stage, however often it failed.
    assert log.count("DescribeConfigs denied for") == 1, log
    assert log.count("Describe on consumer groups denied for") == 1, log
    assert "Traceback" not in log


def test_wrong_credentials_are_named_not_reported_as_timeouts(
    tmp_path: Path, secure_cluster: SecureKraftCluster
) -> None:
    wrong_password = tmp_path / "wrong.password"
    wrong_password.write_text("not-the-password\n")
    stranger = CertificateAuthority(tmp_path / "stranger", name="stranger-ca")
    foreign = stranger.issue("watchdog")
    watched = config(
        {
            "name": "bad-password",
            "bootstrap_servers": secure_cluster.sasl_bootstrap,
            "kafka_client": sasl_client(
                secure_cluster, "watchdog", **{"sasl.password_file": str(wrong_password)}
            ),
        },
        {
            "name": "bad-ca",
            "bootstrap_servers": secure_cluster.sasl_bootstrap,
            "kafka_client": sasl_client(
                secure_cluster, "watchdog", **{"ssl.ca.location": str(stranger.cert)}
            ),
        },
        {
            "name": "bad-cert",
            "bootstrap_servers": secure_cluster.mtls_bootstrap,
            "kafka_client": {
                **mtls_client(secure_cluster, "watchdog"),
                "ssl.certificate.location": str(foreign.cert),
                "ssl.key.location": str(foreign.key),
            },
        },
    )
    expected = {
        "bad-password": (
            "authentication",
            "authentication failed (SCRAM-SHA-512)",
            "check sasl.username and sasl.password",
        ),
        "bad-ca": ("tls", "TLS handshake failed", "check ssl.ca.location"),
        "bad-cert": (
            "tls",
            "TLS handshake failed",
            "the brokers rejected this client's certificate (check ssl.certificate.location",
        ),
    }
    with Daemon(tmp_path, watched) as daemon:
        daemon.wait(
            lambda: all(
                daemon.clusters()[name]["stages"]["metadata"]["last_error_reason"] == reason
                for name, (reason, _, _) in expected.items()
            ),
            "every cluster's metadata stage to fail for its real reason",
            timeout=120,
        )
        state = daemon.clusters()
        for name, (_, what, fix) in expected.items():
            error = state[name]["stages"]["metadata"]["last_error"]
            assert what in error and fix in error, (name, error)
            assert "Timed out" not in error and "cannot reach" not in error, (name, error)
        status, body = daemon.get("/readyz")
        assert status == 503
        assert "authentication failed" in body and "TLS handshake failed" in body
        text = daemon.get("/metrics")[1]
        for name, (reason, _, _) in expected.items():
            assert has_series(
                text, "kafka_watchdog_collection_failing", name, stage="metadata", reason=reason
            )
        # Requests to brokers that never complete a handshake run to their timeout before
        # the sources close, cluster after cluster (see the report on shutdown time).
        assert daemon.terminate(timeout=90) == 0
    log = daemon.log()
    assert "not-the-password" not in log
    # One line per cluster says it, not librdkafka's error per broker per retry.
    assert log.count("authentication failed (SCRAM-SHA-512)") == 1, log

    result = subprocess.run(
        [*VALIDATE, str(daemon.config_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    for name, (_, what, fix) in expected.items():
        lines = [line for line in result.stdout.splitlines() if f"cluster {name!r}" in line]
        assert lines and all(what in line and fix in line for line in lines), (name, lines)
    assert "not-the-password" not in result.stdout + result.stderr


def test_validate_config_connect_names_the_missing_acls(
    tmp_path: Path, secure_cluster: SecureKraftCluster
) -> None:
    topic_with_group(secure_cluster)
    path = tmp_path / "acls.yaml"
    path.write_text(
        yaml.safe_dump(
            config(
                {
                    "name": "full",
                    "bootstrap_servers": secure_cluster.sasl_bootstrap,
                    "kafka_client": sasl_client(secure_cluster, "watchdog"),
                },
                {
                    "name": "no-configs",
                    "bootstrap_servers": secure_cluster.sasl_bootstrap,
                    "kafka_client": sasl_client(secure_cluster, "watchdog-no-configs"),
                },
                {
                    "name": "no-groups",
                    "bootstrap_servers": secure_cluster.sasl_bootstrap,
                    "kafka_client": sasl_client(secure_cluster, "watchdog-no-groups"),
                },
            )
        )
    )
    result = subprocess.run(
        [*VALIDATE, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == 2, out
    assert "cluster 'no-configs': DescribeConfigs denied" in errors[0] + errors[1]
    assert "cluster 'no-groups': Describe on consumer groups denied" in errors[0] + errors[1]
    assert "cluster 'full': Admin API OK" in out
