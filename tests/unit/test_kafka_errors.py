"""What librdkafka's errors are reported as: the setting to fix, not a timeout.

The texts are the ones librdkafka 2.x gave against the secured test cluster
(tests/integration/test_security.py reproduces each for real)."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException

from kafka_watchdog.config.schema import ClusterConfig
from kafka_watchdog.sources import kafka_errors
from kafka_watchdog.sources.admin import describe_kafka_error
from kafka_watchdog.sources.errors import PartialAnswer, SourceError
from kafka_watchdog.sources.kafka_errors import ClientErrorLog, diagnose_client_error

BAD_PASSWORD = (
    "sasl_ssl://127.0.0.1:48589/bootstrap: SASL authentication error: Authentication failed "
    "during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512 "
    "(after 333ms in state AUTH_REQ)"
)
BAD_MECHANISM = (
    "sasl_ssl://127.0.0.1:39245/bootstrap: SASL PLAIN mechanism handshake failed: Broker: "
    "Unsupported SASL mechanism: broker's supported mechanisms: SCRAM-SHA-512 (after 307ms "
    "in state AUTH_HANDSHAKE)"
)
BAD_CA = (
    "sasl_ssl://127.0.0.1:39245/bootstrap: SSL handshake failed: error:0A000086:SSL "
    "routines::certificate verify failed: broker certificate could not be verified, verify "
    "that ssl.ca.location is correctly configured or root CA certificates are installed "
    "(install ca-certificates package) (after 7ms in state SSL_HANDSHAKE)"
)
BAD_HOST = (
    "ssl://10.0.0.1:9093/bootstrap: SSL handshake failed: error:0A000086:SSL routines::"
    "certificate verify failed: hostname mismatch (after 4ms in state SSL_HANDSHAKE)"
)
CERT_REFUSED = (
    "ssl://127.0.0.1:52957/bootstrap: Receive failed: error:0A000412:SSL routines::ssl/tls "
    "alert bad certificate: SSL alert number 42 (after 4ms in state APIVERSION_QUERY)"
)
CERT_REQUIRED = (
    "ssl://127.0.0.1:52957/bootstrap: Receive failed: error:0A00045C:SSL routines::tlsv13 "
    "alert certificate required: SSL alert number 116 (after 1ms in state APIVERSION_QUERY)"
)
REFUSED = "127.0.0.1:9092/bootstrap: Connect to ipv4#127.0.0.1:9092 failed: Connection refused"

# (case, error name, text, mechanism, reason or None, must appear, must not appear)
CASES = [
    (1, "_AUTHENTICATION", BAD_PASSWORD, "SCRAM-SHA-512", "authentication",
     ["authentication failed (SCRAM-SHA-512)", "sasl.password_file"], ["after 333ms"]),
    (2, "_AUTHENTICATION", BAD_MECHANISM, "PLAIN", "authentication",
     ["do not offer sasl.mechanism PLAIN; they offer SCRAM-SHA-512"], []),
    (3, "_SSL", BAD_CA, None, "tls",
     ["TLS handshake failed", "check ssl.ca.location"], ["sasl_ssl://"]),
    (4, "_SSL", BAD_HOST, None, "tls",
     ["does not name the host in bootstrap_servers"], []),
    # mTLS: the broker refuses our certificate; librdkafka calls it a transport error.
    (5, "_TRANSPORT", CERT_REFUSED, None, "tls",
     ["the brokers rejected this client's certificate", "ssl.certificate.location"], []),
    (6, "_TRANSPORT", CERT_REQUIRED, None, "tls", ["rejected this client's certificate"], []),
    # A broker that is down says nothing about our settings.
    (7, "_TRANSPORT", REFUSED, None, None, [], []),
    (8, "_ALL_BROKERS_DOWN", "3/3 brokers are down", None, None, [], []),
    (9, "SASL_AUTHENTICATION_FAILED", "Broker: SASL Authentication failed", "PLAIN",
     "authentication", ["authentication failed (PLAIN)"], []),
]  # fmt: skip


@pytest.mark.parametrize(("case", "name", "text", "mechanism", "reason", "has", "lacks"), CASES)
def test_client_errors_are_diagnosed(
    case: int,
    name: str,
    text: str,
    mechanism: str | None,
    reason: str | None,
    has: list[str],
    lacks: list[str],
) -> None:
    found = diagnose_client_error(name, text, mechanism)
    if reason is None:
        assert found is None, case
        return
    assert found is not None and found.reason == reason, case
    for part in has:
        assert part in found.detail, (case, found.detail)
    for part in lacks:
        assert part not in found.detail, (case, found.detail)


def test_the_last_diagnosis_explains_later_failures_until_a_success_or_it_ages() -> None:
    errors = ClientErrorLog("SCRAM-SHA-512", keep_for=60)
    assert errors.record("_TRANSPORT", REFUSED, now=0) is None
    assert errors.recent(now=1) is None
    errors.record("_AUTHENTICATION", BAD_PASSWORD, now=10)
    errors.record("_ALL_BROKERS_DOWN", "3/3 brokers are down", now=11)  # does not hide it
    assert errors.recent(now=69).reason == "authentication"  # type: ignore[union-attr]
    assert errors.recent(now=71) is None
    errors.record("_SSL", BAD_CA, now=100)
    errors.clear()
    assert errors.recent(now=101) is None


def cluster(**client: str) -> ClusterConfig:
    return ClusterConfig(name="prod", bootstrap_servers=["k:9093"], kafka_client=client)


def kafka_exception(name: str, text: str) -> KafkaException:
    code = getattr(KafkaError, name)
    return KafkaException(KafkaError(code, text))


SASL = {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512"}

# (case, client settings, error name, text, cause seen through error_cb, reason, must appear)
DESCRIBED = [
    # A timeout after a refused password is an authentication failure.
    (1, SASL, "_TIMED_OUT", "Timed out", BAD_PASSWORD, "authentication",
     "cluster 'prod' at k:9093 (Metadata): authentication failed (SCRAM-SHA-512)"),
    (2, SASL, "_TRANSPORT", "Broker transport failure", BAD_CA, "tls",
     "(Metadata): TLS handshake failed"),
    # Without a cause, a transport error stays "cannot reach".
    (3, SASL, "_TRANSPORT", "Broker transport failure", None, "unreachable",
     "cannot reach cluster 'prod' at k:9093 (Metadata)"),
    # An authorization error is told as such even when a TLS problem was seen earlier.
    (4, SASL, "TOPIC_AUTHORIZATION_FAILED", "Topic authorization failed", BAD_CA,
     "authorization", "refused access (Metadata)"),
    # The error itself may carry the cause.
    (5, {}, "_SSL", BAD_CA, None, "tls", "check ssl.ca.location"),
    (6, {}, "POLICY_VIOLATION", "boom", None, "error",
     "cluster 'prod' (Metadata): POLICY_VIOLATION"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "client", "name", "text", "cause", "reason", "has"), DESCRIBED)
def test_failed_calls_are_described_with_their_real_cause(
    case: int,
    client: dict[str, str],
    name: str,
    text: str,
    cause: str | None,
    reason: str,
    has: str,
) -> None:
    config = cluster(**client)
    seen = None
    if cause is not None:
        seen = diagnose_client_error(
            "_SSL" if "SSL" in cause else "_AUTHENTICATION", cause, "SCRAM-SHA-512"
        )
    error = describe_kafka_error(kafka_exception(name, text), config, "Metadata", seen)
    assert error.reason == reason, (case, str(error))
    assert has in str(error), (case, str(error))


def test_a_timeout_is_a_timeout() -> None:
    error = describe_kafka_error(TimeoutError(), cluster(), "ListOffsets")
    assert error.reason == "timeout"
    assert "did not answer in time (ListOffsets)" in str(error)


def test_errors_keep_their_reason_and_value_across_the_worker_boundary() -> None:
    error = pickle.loads(pickle.dumps(SourceError("no", kafka_errors.TLS)))
    assert (str(error), error.reason) == ("no", "tls")
    partial = pickle.loads(pickle.dumps(PartialAnswer("some refused", {"t": 1})))
    assert isinstance(partial, SourceError)
    assert (str(partial), partial.value, partial.reason) == (
        "some refused",
        {"t": 1},
        "authorization",
    )


def test_missing_acl_hints_name_the_principal_and_resource() -> None:
    hint = kafka_errors.missing_acl_hint("DescribeConfigs", "topic", "watchdog")
    assert hint.endswith("--allow-principal User:watchdog --operation DescribeConfigs --topic '*'")
    assert "User:<the watchdog's principal>" in kafka_errors.missing_acl_hint(
        "Describe", "group", None
    )
    assert kafka_errors.sample([f"g{i}" for i in range(7)]) == "g0, g1, g2, g3, g4 and 2 more"


def test_docs_list_exactly_the_acls_the_test_cluster_grants() -> None:
    """docs/security.md's ACL table and the ACLs the secured test cluster gives the
    watchdog principal (which the integration tests watch with) are the same list."""
    from testcluster.secure import WATCHDOG_ACLS

    docs = (Path(__file__).resolve().parents[2] / "docs/security.md").read_text()
    table = re.findall(r"^\| (Cluster|Topic|Group) \| `([^`]+)` \| (\w+) \|", docs, re.MULTILINE)
    names = {"BROKER": "Cluster", "TOPIC": "Topic", "GROUP": "Group"}
    granted = {(names[k.name], n, op.name.replace("_", "").lower()) for k, n, op in WATCHDOG_ACLS}
    assert {(r, n, op.lower()) for r, n, op in table} == granted
