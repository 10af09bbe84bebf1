"""The `zookeeper:` section, shared by clusters and by alerting's high availability."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator

from kafka_watchdog.config.durations import Duration
from kafka_watchdog.config.schema_base import StrictModel, _host_port


class ZooKeeperTls(StrictModel):
    ca: str | None = Field(default=None, description="CA bundle (PEM) to verify servers.")
    certfile: str | None = Field(default=None, description="Client certificate (PEM).")
    keyfile: str | None = Field(default=None, description="Client key (PEM).")
    keyfile_password: SecretStr | None = Field(default=None, description="Secret.")
    verify_certs: bool = True
    check_hostname: bool = Field(
        default=True, description="kazoo's own default is false; ours is true."
    )


class ZooKeeperSasl(StrictModel):
    mechanism: Literal["DIGEST-MD5", "GSSAPI"] = "DIGEST-MD5"
    username: str | None = None
    password: SecretStr | None = Field(default=None, description="Secret.")
    service: str = "zookeeper"
    principal: str | None = Field(default=None, description="GSSAPI principal.")


_CHROOT = re.compile(r"^(/[^/\s]+)+$")


class ZooKeeperConfig(StrictModel):
    connect: str = Field(
        description="host:port[,host:port...][/chroot], exactly as the brokers' "
        "zookeeper.connect (the chroot matters)."
    )
    session_timeout: Duration = Field(default=10.0, ge=1.0, le=120.0)
    connect_timeout: Duration = Field(default=10.0, gt=0.0, le=120.0)
    tls: ZooKeeperTls | None = None
    sasl: ZooKeeperSasl | None = None

    @field_validator("connect")
    @classmethod
    def _check_connect(cls, value: str) -> str:
        hosts, slash, chroot = value.partition("/")
        for host in hosts.split(","):
            _host_port(host.strip(), "ZooKeeper server")
        if slash and not _CHROOT.match("/" + chroot):
            raise ValueError(f"chroot {'/' + chroot!r} must look like /kafka or /a/b")
        return value

    @property
    def hosts(self) -> str:
        return self.connect.partition("/")[0]

    @property
    def chroot(self) -> str:
        _, slash, chroot = self.connect.partition("/")
        return "/" + chroot if slash else ""

    def kazoo_options(self) -> dict[str, Any]:
        """KazooClient's arguments for this ensemble (as client_properties() is for
        librdkafka): the cluster sources and alerting's HA lock connect with the same."""
        options: dict[str, Any] = {
            "hosts": self.hosts,
            "timeout": self.session_timeout,
            "read_only": True,  # the watchdog never writes; a read-only server still serves it
            # Reconnect forever: losing ZooKeeper is reported, never fatal.
            "connection_retry": {"max_tries": -1, "delay": 0.5, "backoff": 2, "max_delay": 10},
        }
        tls = self.tls
        if tls is not None:
            options.update(
                use_ssl=True,
                ca=tls.ca,
                certfile=tls.certfile,
                keyfile=tls.keyfile,
                keyfile_password=(
                    tls.keyfile_password.get_secret_value() if tls.keyfile_password else None
                ),
                verify_certs=tls.verify_certs,
                check_hostname=tls.check_hostname,
            )
        if self.sasl is not None:
            sasl: dict[str, Any] = {"mechanism": self.sasl.mechanism, "service": self.sasl.service}
            if self.sasl.username:
                sasl["username"] = self.sasl.username
            if self.sasl.password:
                sasl["password"] = self.sasl.password.get_secret_value()
            if self.sasl.principal:
                sasl["principal"] = self.sasl.principal
            options["sasl_options"] = sasl
        return options


# librdkafka property names: dotted lower-case words (a few contain underscores).
