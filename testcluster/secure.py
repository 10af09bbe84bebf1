"""A KRaft cluster secured the way production clusters are: TLS everywhere, SCRAM and mTLS
client authentication, ACLs enforced.

Every node has four listeners:

| listener   | protocol  | who                                                     |
| ---------- | --------- | ------------------------------------------------------- |
| INTERNAL   | SSL, mTLS | brokers to each other, and the harness (a super user)    |
| CONTROLLER | SSL, mTLS | the KRaft quorum                                         |
| SASL_SSL   | SASL_SSL  | clients with a SCRAM-SHA-512 user (`sasl_bootstrap`)     |
| MTLS       | SSL, mTLS | clients with a certificate of the test CA (`mtls_bootstrap`) |

ACLs are enforced by the StandardAuthorizer; only the brokers' and the harness's principals
are super users, so nothing reaches a client on the SASL_SSL or MTLS listener without an
ACL. `ssl.principal.mapping.rules` maps a certificate "CN=name" to the principal
"User:name", so a SCRAM user and a certificate of the same name share their ACLs.

The certificates (CA, broker, clients) are made by `testcluster.certs` in the workdir; the
SCRAM users are written by `StorageTool format --add-scram`, so they exist before any
broker starts; their ACLs are created through the Admin API once the cluster is ready.
`WATCHDOG_PRINCIPALS` names the watchdog principals and the ACLs each one gets.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from os import PathLike
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)

from testcluster.certs import CertificateAuthority, Identity
from testcluster.cluster import ADMIN_TIMEOUT, ClusterError
from testcluster.dist import KafkaDist
from testcluster.kraft import KraftCluster
from testcluster.ports import free_ports

BROKER_PRINCIPAL = "kafka-broker"
ADMIN_PRINCIPAL = "testcluster-admin"
SCRAM_MECHANISM = "SCRAM-SHA-512"

# The ACLs docs/security.md says the watchdog needs, as (resource type, name, operation).
WATCHDOG_ACLS: tuple[tuple[ResourceType, str, AclOperation], ...] = (
    (ResourceType.BROKER, "kafka-cluster", AclOperation.DESCRIBE),
    (ResourceType.TOPIC, "*", AclOperation.DESCRIBE),
    (ResourceType.TOPIC, "*", AclOperation.DESCRIBE_CONFIGS),
    (ResourceType.GROUP, "*", AclOperation.DESCRIBE),
)

# Watchdog principals: name -> ACLs left out of WATCHDOG_ACLS (the degraded cases).
WATCHDOG_PRINCIPALS: dict[str, frozenset[tuple[ResourceType, AclOperation]]] = {
    "watchdog": frozenset(),
    "watchdog-no-configs": frozenset({(ResourceType.TOPIC, AclOperation.DESCRIBE_CONFIGS)}),
    "watchdog-no-groups": frozenset({(ResourceType.GROUP, AclOperation.DESCRIBE)}),
}

# Tools that take a client config file, and the option that names it.
_CONFIG_OPTION = {
    "org.apache.kafka.tools.LeaderElectionCommand": "--admin.config",
    "org.apache.kafka.tools.ClusterTool": "--config",
}
_NO_CONFIG = {"kafka.tools.StorageTool", "org.apache.kafka.tools.ProducerPerformance"}


class SecureKraftCluster(KraftCluster):
    kind = "secure-kraft"
    node_dir_patterns: tuple[str, ...] = ("kraft-*", "tls")

    def __init__(
        self,
        workdir: str | PathLike[str] | None = None,
        nodes: int = 3,
        *,
        broker_config: Mapping[str, str] | None = None,
        dist: KafkaDist | None = None,
    ) -> None:
        super().__init__(workdir, nodes, broker_config=broker_config, dist=dist)
        self.sasl_ports: dict[int, int] = {}
        self.mtls_ports: dict[int, int] = {}
        self.passwords: dict[str, str] = {}
        self.identities: dict[str, Identity] = {}
        self._ca: CertificateAuthority | None = None

    # ---- what clients need to connect ------------------------------------------------------

    @property
    def tls_dir(self) -> Path:
        return self.workdir / "tls"

    @property
    def ca(self) -> CertificateAuthority:
        if self._ca is None:
            raise ClusterError("the cluster has not been started")
        return self._ca

    @property
    def sasl_bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for _, p in sorted(self.sasl_ports.items()))

    @property
    def mtls_bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for _, p in sorted(self.mtls_ports.items()))

    def password_file(self, user: str) -> Path:
        """A file holding the SCRAM password of `user` (mode 0600)."""
        return self.tls_dir / f"{user}.password"

    def identity(self, name: str) -> Identity:
        """The client certificate of `name` (issued on first use, by the cluster's CA)."""
        if name not in self.identities:
            self.identities[name] = self.ca.issue(name)
        return self.identities[name]

    @property
    def client_config(self) -> dict[str, str]:
        admin = self.identity(ADMIN_PRINCIPAL)
        return {
            **super().client_config,
            "security.protocol": "SSL",
            "ssl.ca.location": str(self.ca.cert),
            "ssl.certificate.location": str(admin.cert),
            "ssl.key.location": str(admin.key),
        }

    # ---- building the nodes ----------------------------------------------------------------

    def _build(self, dist: KafkaDist) -> None:
        super()._build(dist)
        self._make_credentials()
        broker = self.identity(BROKER_PRINCIPAL)
        ports = free_ports(2 * len(self.brokers))
        for index, (node_id, node) in enumerate(sorted(self.brokers.items())):
            sasl, mtls = ports[2 * index], ports[2 * index + 1]
            self.sasl_ports[node_id], self.mtls_ports[node_id] = sasl, mtls
            controller = self.controller_ports[node_id]
            node.config.update(
                {
                    "listeners": (
                        f"INTERNAL://127.0.0.1:{node.port},"
                        f"CONTROLLER://127.0.0.1:{controller},"
                        f"SASL_SSL://127.0.0.1:{sasl},"
                        f"MTLS://127.0.0.1:{mtls}"
                    ),
                    "advertised.listeners": (
                        f"INTERNAL://127.0.0.1:{node.port},"
                        f"SASL_SSL://127.0.0.1:{sasl},"
                        f"MTLS://127.0.0.1:{mtls}"
                    ),
                    "listener.security.protocol.map": (
                        "INTERNAL:SSL,CONTROLLER:SSL,SASL_SSL:SASL_SSL,MTLS:SSL"
                    ),
                    "inter.broker.listener.name": "INTERNAL",
                    # TLS on every listener, with the broker's certificate; Kafka reads PEM.
                    "ssl.keystore.type": "PEM",
                    "ssl.keystore.location": str(broker.bundle),
                    "ssl.truststore.type": "PEM",
                    "ssl.truststore.location": str(self.ca.cert),
                    # A certificate is required everywhere but on the SASL listener, where
                    # the password is the credential.
                    "ssl.client.auth": "required",
                    "listener.name.sasl_ssl.ssl.client.auth": "none",
                    "ssl.principal.mapping.rules": "RULE:^CN=([^,]+)$/$1/,DEFAULT",
                    "listener.name.sasl_ssl.sasl.enabled.mechanisms": SCRAM_MECHANISM,
                    "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": (
                        "org.apache.kafka.common.security.scram.ScramLoginModule required;"
                    ),
                    "authorizer.class.name": (
                        "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
                    ),
                    "super.users": f"User:{BROKER_PRINCIPAL};User:{ADMIN_PRINCIPAL}",
                    "allow.everyone.if.no.acl.found": "false",
                    **self.broker_config,
                }
            )

    def _make_credentials(self) -> None:
        self.tls_dir.mkdir(parents=True, exist_ok=True)
        self._ca = CertificateAuthority(self.tls_dir)
        self.identities = {BROKER_PRINCIPAL: self._ca.issue(BROKER_PRINCIPAL, server=True)}
        self.identity(ADMIN_PRINCIPAL)
        self.passwords = {}
        for user in WATCHDOG_PRINCIPALS:
            self.identity(user)
            password = secrets.token_urlsafe(18)
            self.passwords[user] = password
            path = self.password_file(user)
            path.touch(mode=0o600)
            path.write_text(password + "\n")

    def _format_args(self) -> list[str]:
        # The users exist in the bootstrap metadata, before any broker serves. (The
        # passwords show on this short-lived command line: test passwords of a loopback-only
        # cluster; a real cluster would use the Admin API, AlterUserScramCredentials.)
        args = []
        for user, password in self.passwords.items():
            args += ["--add-scram", f"{SCRAM_MECHANISM}=[name={user},password={password}]"]
        return args

    # ---- readiness: the ACLs ------------------------------------------------------------

    def wait_ready(self, timeout: float = 120.0) -> None:
        super().wait_ready(timeout)
        self.grant_watchdog_acls()

    def watchdog_acls(self, principal: str) -> list[AclBinding]:
        """The ACL bindings `principal` gets (WATCHDOG_ACLS minus what it is denied)."""
        left_out = WATCHDOG_PRINCIPALS.get(principal, frozenset())
        return [
            AclBinding(
                kind,
                name,
                ResourcePatternType.LITERAL,
                f"User:{principal}",
                "*",
                operation,
                AclPermissionType.ALLOW,
            )
            for kind, name, operation in WATCHDOG_ACLS
            if (kind, operation) not in left_out
        ]

    def grant_watchdog_acls(self) -> None:
        bindings = [b for user in WATCHDOG_PRINCIPALS for b in self.watchdog_acls(user)]
        futures = self.admin.create_acls(bindings, request_timeout=ADMIN_TIMEOUT)
        for binding, future in futures.items():
            try:
                future.result()
            except KafkaException as exc:
                raise ClusterError(f"creating ACL {binding}: {exc}") from exc

    def acls_of(self, principal: str) -> str:
        """The ACLs Kafka holds for `principal`, as its own AclCommand lists them (oracle)."""
        return self.run_tool(
            "org.apache.kafka.tools.AclCommand", "--list", "--principal", f"User:{principal}"
        )

    # ---- Kafka's tools, authenticated as the harness ---------------------------------------

    def tool_properties(self) -> Path:
        """The harness's client settings for Kafka's Java tools (mTLS as the admin)."""
        admin = self.identity(ADMIN_PRINCIPAL)
        path = self.tls_dir / "admin-client.properties"
        path.write_text(
            "security.protocol=SSL\n"
            "ssl.keystore.type=PEM\n"
            f"ssl.keystore.location={admin.bundle}\n"
            "ssl.truststore.type=PEM\n"
            f"ssl.truststore.location={self.ca.cert}\n"
        )
        return path

    def run_tool(
        self,
        main_class: str,
        *args: str,
        timeout: float = 60.0,
        check: bool = True,
        bootstrap: str | None = None,
    ) -> str:
        from testcluster.tools import resolve_tool

        main = resolve_tool(main_class, self.dist)
        extra: list[str] = []
        if main not in _NO_CONFIG:
            extra = [_CONFIG_OPTION.get(main, "--command-config"), str(self.tool_properties())]
        return super().run_tool(
            main_class, *extra, *args, timeout=timeout, check=check, bootstrap=bootstrap
        )
