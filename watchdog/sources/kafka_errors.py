"""What a librdkafka error means for the person who has to fix it. Pure: no I/O.

librdkafka tells the real cause of a failed connection (wrong password, untrusted
certificate) only through its error callback; the Admin request that needed the connection
just times out or fails with a transport error. The Admin source keeps the last such cause
(`ClientErrorLog`) and `describe_kafka_error` puts it in front of the timeout, naming the
setting to fix. Authorization errors name the ACL that is missing.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

# Why a stage failed, as exported in kafka_watchdog_collection_failing{reason}.
AUTHENTICATION = "authentication"
TLS = "tls"
AUTHORIZATION = "authorization"
UNREACHABLE = "unreachable"
TIMEOUT = "timeout"
ERROR = "error"
# A group's coordinator is not available (moving after a broker failure, or loading).
COORDINATOR = "coordinator"
# The Admin API worker died (a librdkafka abort) or hung with the answer in flight.
from kafka_watchdog.model.health import WORKER as WORKER  # noqa: E402  (shared with the model)

REASONS = (AUTHENTICATION, TLS, AUTHORIZATION, UNREACHABLE, TIMEOUT, COORDINATOR, WORKER, ERROR)

UNREACHABLE_ERRORS = frozenset({"_TRANSPORT", "_ALL_BROKERS_DOWN", "_TIMED_OUT", "_RESOLVE"})
AUTHENTICATION_ERRORS = frozenset({"_AUTHENTICATION", "SASL_AUTHENTICATION_FAILED"})
COORDINATOR_ERRORS = frozenset(
    {"COORDINATOR_NOT_AVAILABLE", "NOT_COORDINATOR", "COORDINATOR_LOAD_IN_PROGRESS"}
)
AUTHORIZATION_ERRORS = frozenset(
    {
        "CLUSTER_AUTHORIZATION_FAILED",
        "TOPIC_AUTHORIZATION_FAILED",
        "GROUP_AUTHORIZATION_FAILED",
    }
)

# The peer refused our certificate (mTLS): OpenSSL reports the alert it received.
_PEER_REJECTED_CERT = re.compile(
    r"alert (bad certificate|certificate required|unknown ca|certificate unknown|"
    r"handshake failure|certificate expired|certificate revoked|access denied)",
    re.IGNORECASE,
)
_VERIFY_FAILED = re.compile(r"certificate verify failed|could not be verified", re.IGNORECASE)
_HOSTNAME = re.compile(r"hostname mismatch|host ?name|IP address mismatch", re.IGNORECASE)
_UNSUPPORTED_MECHANISM = re.compile(
    r"Unsupported SASL mechanism.*?supported mechanisms: ([A-Z0-9_, -]+)", re.IGNORECASE
)
# librdkafka prefixes its errors with the broker ("sasl_ssl://h:p/bootstrap: ") and appends
# "(after 5ms in state SSL_HANDSHAKE)"; neither helps the reader.
_BROKER_PREFIX = re.compile(r"^[a-z_]+://\S+?: ")
_STATE_SUFFIX = re.compile(
    r"\s*\(after \d+ms in state \w+(, \d+ identical error\(s\) suppressed)?\)$"
)


@dataclass(frozen=True, slots=True)
class Diagnosis:
    reason: str  # one of REASONS
    detail: str  # what went wrong and which setting to check


def _clean(text: str) -> str:
    return _STATE_SUFFIX.sub("", _BROKER_PREFIX.sub("", text.strip()))


def diagnose_client_error(name: str, text: str, mechanism: str | None = None) -> Diagnosis | None:
    """An authentication or TLS failure reported through librdkafka's error callback, or
    None for anything else (a broker that is down says nothing about our settings)."""
    clean = _clean(text)
    if name in AUTHENTICATION_ERRORS:
        unsupported = _UNSUPPORTED_MECHANISM.search(clean)
        if unsupported:
            offered = unsupported.group(1).strip()
            return Diagnosis(
                AUTHENTICATION,
                f"authentication failed: the brokers do not offer sasl.mechanism "
                f"{mechanism or '(default GSSAPI)'}; they offer {offered}: {clean}",
            )
        return Diagnosis(
            AUTHENTICATION,
            "authentication failed"
            + (f" ({mechanism})" if mechanism else "")
            + f": {clean} (check sasl.username and sasl.password, or sasl.password_file / "
            "sasl.password_env, and sasl.mechanism)",
        )
    if name == "_SSL" or (name == "_TRANSPORT" and _PEER_REJECTED_CERT.search(clean)):
        if _PEER_REJECTED_CERT.search(clean):
            hint = (
                "the brokers rejected this client's certificate (check "
                "ssl.certificate.location and ssl.key.location; the brokers must trust the CA "
                "that signed it)"
            )
        elif _VERIFY_FAILED.search(clean) and _HOSTNAME.search(clean):
            hint = (
                "the brokers' certificate does not name the host in bootstrap_servers (check "
                "bootstrap_servers against the certificate's names, or "
                "ssl.endpoint.identification.algorithm)"
            )
        elif _VERIFY_FAILED.search(clean):
            hint = (
                "the brokers' certificate could not be verified (check ssl.ca.location: it must "
                "hold the CA that signed the brokers' certificates)"
            )
        else:
            hint = "check security.protocol, ssl.ca.location, ssl.certificate.location"
        return Diagnosis(TLS, f"TLS handshake failed: {clean}: {hint}")
    return None


class ClientErrorLog:
    """The last authentication or TLS failure librdkafka reported (its error callback runs
    when the client is polled). Deliberately no reference to the client or its owner:
    librdkafka aborts when a handle is freed by the cyclic GC on one of its threads."""

    def __init__(self, mechanism: str | None = None, keep_for: float = 60.0) -> None:
        self.mechanism = mechanism
        self.keep_for = keep_for
        self._last: tuple[float, Diagnosis] | None = None

    def record(self, name: str, text: str, now: float | None = None) -> Diagnosis | None:
        found = diagnose_client_error(name, text, self.mechanism)
        if found is not None:
            self._last = (time.monotonic() if now is None else now, found)
        return found

    def note(self, diagnosis: Diagnosis, now: float | None = None) -> None:
        """A cause found elsewhere (a token provider that failed)."""
        self._last = (time.monotonic() if now is None else now, diagnosis)

    def clear(self) -> None:
        """A request succeeded: whatever failed before is over."""
        self._last = None

    def recent(self, now: float | None = None) -> Diagnosis | None:
        if self._last is None:
            return None
        seen, diagnosis = self._last
        current = time.monotonic() if now is None else now
        return diagnosis if current - seen <= self.keep_for else None


def missing_acl_hint(operation: str, resource: str, principal: str | None) -> str:
    """The kafka-acls command that grants what is missing, for the docs' principal."""
    who = f"User:{principal}" if principal else "User:<the watchdog's principal>"
    target = {"topic": "--topic '*'", "group": "--group '*'", "cluster": "--cluster"}[resource]
    return (
        f"kafka-acls.sh --bootstrap-server ... --add --allow-principal {who} "
        f"--operation {operation} {target}"
    )


def sample(names: list[str], limit: int = 5) -> str:
    """A few names for a message, and how many more there are."""
    shown = ", ".join(sorted(names)[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
