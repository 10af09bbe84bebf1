"""ZooKeeper SASL (DIGEST-MD5) and TLS settings reach kazoo, the password from a file.

Not yet tested against a real ZooKeeper with TLS and SASL (docs/security.md, "ZooKeeper").
"""

from __future__ import annotations

from pathlib import Path

from kafka_watchdog.cli import _masked
from kafka_watchdog.config import load_config_text


def test_digest_md5_password_from_a_file_reaches_kazoo_and_is_masked(tmp_path: Path) -> None:
    (tmp_path / "zk.password").write_text("zk-digest-secret\n")
    config = load_config_text(
        """
clusters:
  - name: zk
    bootstrap_servers: "k:9092"
    zookeeper:
      connect: "zk-1:2182/kafka"
      tls: {ca: /etc/zk/ca.pem, certfile: /etc/zk/c.pem, keyfile: /etc/zk/c.key}
      sasl: {mechanism: DIGEST-MD5, username: watchdog, password_file: zk.password}
""",
        base_dir=tmp_path,
        environ={},
    )
    zk = config.clusters[0].zookeeper
    assert zk is not None
    options = zk.kazoo_options()
    assert options["sasl_options"] == {
        "mechanism": "DIGEST-MD5",
        "service": "zookeeper",
        "username": "watchdog",
        "password": "zk-digest-secret",
    }
    assert options["use_ssl"] is True and options["check_hostname"] is True
    assert "zk-digest-secret" not in str(_masked(config))
