"""The `zookeeper:` section, shared by clusters and by alerting's high availability."""

from __future__ import annotations

import re
from typing import Literal

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


# librdkafka property names: dotted lower-case words (a few contain underscores).
