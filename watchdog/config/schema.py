"""The config file's shape. Every model forbids unknown keys so that typos are errors.

Field descriptions double as documentation: docs/reference-config.yaml is checked against
these models by a unit test, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BeforeValidator,
    Field,
    field_validator,
    model_validator,
)

from kafka_watchdog.config.alerting import AlertingConfig
from kafka_watchdog.config.durations import Duration
from kafka_watchdog.config.oauth import OAuthBearerConfig
from kafka_watchdog.config.schema_base import NameFilter as NameFilter
from kafka_watchdog.config.schema_base import StrictModel, _host_port, _split_list
from kafka_watchdog.config.zookeeper import ZooKeeperConfig as ZooKeeperConfig
from kafka_watchdog.config.zookeeper import ZooKeeperSasl as ZooKeeperSasl
from kafka_watchdog.config.zookeeper import ZooKeeperTls as ZooKeeperTls

DEFAULT_PORT = 10308
"""The 9100-9999 block of Prometheus' default port allocations is exhausted (9308 is
kafka_exporter's); new exporters are allocated above it (see the README, "Running it")."""


class ServerConfig(StrictModel):
    listen: str = Field(
        default=f"0.0.0.0:{DEFAULT_PORT}",
        description="Address of the HTTP server (/metrics, /healthz, /readyz).",
    )
    web_config_file: Path | None = Field(
        default=None,
        description="TLS and basic auth for the HTTP server: a web config file in the "
        "Prometheus exporter-toolkit format (tls_server_config, basic_auth_users with bcrypt "
        "hashes); docs/security.md. Also --web-config-file.",
    )
    allow_unauthenticated_writes: bool = Field(
        default=False,
        description="Let anyone who reaches the port add and expire silences when the web "
        "config file sets no authentication. Off: such requests get 403.",
    )
    max_connections: int = Field(
        default=64,
        ge=4,
        le=10_000,
        description="Open HTTP connections at most; past it the longest-idle one is closed.",
    )
    keepalive_timeout: Duration = Field(
        default=15.0,
        ge=1.0,
        le=600.0,
        description="An idle HTTP connection (or one that has not finished sending its "
        "request headers) is closed after this long.",
    )
    request_timeout: Duration = Field(
        default=30.0,
        ge=1.0,
        le=600.0,
        description="One HTTP request (reading it, handling it, writing the answer) at most.",
    )

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        return _host_port(value, "listen address")

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class LogConfig(StrictModel):
    format: Literal["text", "json"] = Field(
        default="text", description="text for people, json for log pipelines."
    )
    level: Literal["debug", "info", "warning", "error"] = Field(default="info")


class CollectionConfig(StrictModel):
    metadata_interval: Duration = Field(
        default=10.0,
        ge=1.0,
        le=3600.0,
        description="How often brokers, topics, partitions are read.",
    )
    offsets_interval: Duration = Field(
        default=10.0,
        ge=1.0,
        le=3600.0,
        description="How often log offsets and group offsets are read.",
    )
    configs_interval: Duration = Field(
        default=60.0,
        ge=5.0,
        le=86400.0,
        description="How often topic and broker configs are read.",
    )
    log_dirs_interval: Duration = Field(
        default=30.0,
        ge=1.0,
        description="How often each broker's log dirs are read (DescribeLogDirs: state, "
        "sizes); an ISR shrink triggers a read at once.",
    )
    request_timeout: Duration = Field(
        default=10.0, gt=0.0, le=300.0, description="Timeout of one Admin API request."
    )
    stale_after: Duration | None = Field(
        default=None,
        gt=0.0,
        description="A cluster's view older than this makes /readyz fail and "
        "kafka_watchdog_up 0. Default: three metadata intervals plus the request timeout.",
    )
    max_concurrent_requests: int = Field(
        default=8, ge=1, le=256, description="Admin API requests in flight per cluster."
    )

    @property
    def effective_stale_after(self) -> float:
        if self.stale_after is not None:
            return self.stale_after
        return 3 * self.metadata_interval + self.request_timeout


class LagConfig(StrictModel):
    window: Duration = Field(
        default=300.0,
        ge=1.0,
        description="Lag status (OK, WARN, STALL, STOP, REWIND) is judged over this window.",
    )
    min_samples: int = Field(
        default=3, ge=2, le=1000, description="Samples needed in the window before judging."
    )
    caught_up_within: Duration = Field(
        default=60.0,
        ge=0.0,
        description="A partition whose oldest unread record is younger than this counts as "
        "caught up (time to catch up 0): a consumer that keeps pace always trails by what "
        "was produced since its last commit.",
    )
    history_points: int = Field(
        default=64,
        ge=2,
        le=10000,
        description="(log end offset, time) points kept per partition for lag in seconds.",
    )


class MetricsConfig(StrictModel):
    partition_level: bool = Field(
        default=True,
        description="Per-partition series; false keeps only topic-level aggregates "
        "(cardinality control for very large clusters).",
    )
    kafka_exporter_compat: bool = Field(
        default=False,
        description="Also export danielqsj/kafka_exporter's metric names and labels.",
    )
    min_replication_factor: int = Field(
        default=2, ge=1, le=16, description="Topics below this factor get a config hazard."
    )


_RDKAFKA_KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")
# Set by the watchdog itself: users must not override them through kafka_client.
_RESERVED_CLIENT_KEYS = {"bootstrap.servers", "client.id", "error_cb", "stats_cb", "oauth_cb"}
_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_SASL_MECHANISMS = ("GSSAPI", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")
_SENSITIVE = re.compile(
    r"password|secret|token|credential|routing_key|ssl\.key\.pem|sasl\.oauthbearer\.config"
)


def is_sensitive_key(key: str) -> bool:
    """Whether a client property holds a secret (its value is never printed)."""
    return bool(_SENSITIVE.search(key.lower()))


ClientValue = str | int | float | bool


class ClusterConfig(StrictModel):
    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$",
        description="Label value kafka_cluster in every metric and alert.",
    )
    bootstrap_servers: Annotated[list[str], BeforeValidator(_split_list)] = Field(
        min_length=1, description="host:port list, or one comma-separated string."
    )
    zookeeper: ZooKeeperConfig | None = Field(
        default=None, description="Optional, ZooKeeper-mode clusters only."
    )
    kafka_client: dict[str, ClientValue] = Field(
        default_factory=dict,
        description="librdkafka properties passed through (security.protocol, sasl.*, ssl.*).",
    )
    oauthbearer: OAuthBearerConfig | None = Field(
        default=None,
        description="Token provider for sasl.mechanism OAUTHBEARER (AWS MSK IAM); "
        "docs/security.md.",
    )
    topics: NameFilter = Field(default_factory=NameFilter)
    groups: NameFilter = Field(default_factory=NameFilter)

    @field_validator("bootstrap_servers")
    @classmethod
    def _check_bootstrap(cls, value: list[str]) -> list[str]:
        for server in value:
            _host_port(server.split("://")[-1], "bootstrap server")
        return value

    @field_validator("kafka_client")
    @classmethod
    def _check_client(cls, value: dict[str, ClientValue]) -> dict[str, ClientValue]:
        for key in value:
            if key in _RESERVED_CLIENT_KEYS:
                raise ValueError(f"{key!r} is set by kafka-watchdog itself; remove it")
            if not _RDKAFKA_KEY.match(key):
                raise ValueError(
                    f"{key!r} is not a librdkafka property name (for example sasl.mechanism)"
                )
        # librdkafka only checks these in the worker, which then dies at every start.
        for key, allowed in (
            ("security.protocol", _SECURITY_PROTOCOLS),
            ("sasl.mechanism", _SASL_MECHANISMS),
            ("sasl.mechanisms", _SASL_MECHANISMS),
        ):
            if key in value and str(value[key]).upper() not in allowed:
                raise ValueError(
                    f"{key}: {str(value[key])[:64]!r} is not one of {', '.join(allowed)}"
                )
        return value

    @model_validator(mode="after")
    def _check_oauthbearer(self) -> ClusterConfig:
        props = {k.lower(): str(v) for k, v in self.kafka_client.items()}
        mechanism = (props.get("sasl.mechanism") or props.get("sasl.mechanisms") or "").upper()
        if self.oauthbearer is not None and mechanism != "OAUTHBEARER":
            raise ValueError(
                "oauthbearer is set, so kafka_client needs sasl.mechanism: OAUTHBEARER "
                "(and security.protocol: SASL_SSL)"
            )
        builtin = props.get("sasl.oauthbearer.method", "").lower() == "oidc" or props.get(
            "enable.sasl.oauthbearer.unsecure.jwt", ""
        ).lower() in ("true", "1")
        if mechanism == "OAUTHBEARER" and self.oauthbearer is None and not builtin:
            raise ValueError(
                "sasl.mechanism OAUTHBEARER needs a token: set oauthbearer (provider: "
                "aws_msk_iam) for AWS MSK IAM, or sasl.oauthbearer.method: oidc with its "
                "client id, secret and token endpoint for an OIDC provider"
            )
        return self

    def client_properties(self) -> dict[str, str]:
        """librdkafka configuration, values as strings as librdkafka wants them."""
        props = {
            k: (str(v).lower() if isinstance(v, bool) else str(v))
            for k, v in self.kafka_client.items()
        }
        props["bootstrap.servers"] = ",".join(self.bootstrap_servers)
        return props

    def redacted_client_properties(self) -> dict[str, str]:
        return {
            k: ("***" if is_sensitive_key(k) else v) for k, v in self.client_properties().items()
        }


class WatchdogConfig(StrictModel):
    server: ServerConfig = Field(default_factory=ServerConfig)
    log: LogConfig = Field(default_factory=LogConfig)
    collection: CollectionConfig = Field(default_factory=CollectionConfig)
    lag: LagConfig = Field(default_factory=LagConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    clusters: list[ClusterConfig] = Field(min_length=1, description="Clusters to watch.")
    alerting: AlertingConfig = Field(default_factory=AlertingConfig)

    def cluster(self, name: str) -> ClusterConfig:
        for cluster in self.clusters:
            if cluster.name == name:
                return cluster
        raise KeyError(name)
