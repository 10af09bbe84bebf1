"""Config loading: each case is numbered and says what it proves."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from kafka_watchdog.config import ConfigError, WatchdogConfig, load_config, load_config_text
from kafka_watchdog.config.durations import parse_duration
from kafka_watchdog.config.load import PATH_KEYS

MINIMAL = """\
clusters:
  - name: prod
    bootstrap_servers: a:9092
"""


def load(text: str, **env: str) -> WatchdogConfig:
    return load_config_text(textwrap.dedent(text), "w.yaml", environ=env)


def problems(text: str, **env: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(text, **env)
    return [str(p) for p in info.value.problems]


def test_01_minimal_config_gets_every_default() -> None:
    config = load(MINIMAL)
    assert config.server.listen == "0.0.0.0:10308"
    assert config.collection.metadata_interval == 10.0
    assert config.collection.effective_stale_after == 40.0
    assert config.clusters[0].bootstrap_servers == ["a:9092"]
    assert config.clusters[0].zookeeper is None
    assert config.clusters[0].topics.allows("anything")


# (case, yaml, expected problem lines (regex, matched in order))
BAD = [
    (
        "02 unknown key: named with its line and a suggestion",
        "server:\n  listn: x\n" + MINIMAL,
        [r"^w\.yaml:2: server\.listn: unknown key 'listn'; did you mean 'listen'\?$"],
    ),
    (
        "03 wrong type: key path, line, what was found",
        "collection:\n  max_concurrent_requests: many\n" + MINIMAL,
        [r"^w\.yaml:2: collection\.max_concurrent_requests: .*integer.*\(got 'many'\)$"],
    ),
    (
        "04 out of range duration",
        "collection:\n  metadata_interval: 100ms\n" + MINIMAL,
        [r"^w\.yaml:2: collection\.metadata_interval: .*greater than or equal to 1"],
    ),
    (
        "05 not a duration",
        "collection:\n  request_timeout: soon\n" + MINIMAL,
        [r"^w\.yaml:2: collection\.request_timeout: 'soon' is not a duration"],
    ),
    (
        "06 missing required keys inside a list item",
        "clusters:\n  - name: prod\n",
        [r"^w\.yaml:2: clusters\[0\]\.bootstrap_servers: required key is missing$"],
    ),
    (
        "07 no clusters at all",
        "server: {listen: '127.0.0.1:1'}\n",
        [r"clusters: required key is missing"],
    ),
    (
        "08 every problem is reported, in line order, not just the first",
        "log:\n  format: xml\nclusters:\n  - name: 'bad name'\n    bootstrap_servers: b\n",
        [
            r"^w\.yaml:2: log\.format: Input should be 'text' or 'json'",
            r"^w\.yaml:4: clusters\[0\]\.name: String should match pattern",
            r"^w\.yaml:5: clusters\[0\]\.bootstrap_servers: bootstrap server 'b' must be host:port",
        ],
    ),
    (
        "09 duplicate cluster names",
        MINIMAL + "  - name: prod\n    bootstrap_servers: b:9092\n",
        [r"^w\.yaml:4: clusters\[1\]\.name: cluster name 'prod' is already used by clusters\[0\]"],
    ),
    (
        "10 duplicate YAML keys would silently win: rejected",
        "server:\n  listen: 'a:1'\n  listen: 'b:2'\n" + MINIMAL,
        [r"^w\.yaml:3: server\.listen: key appears twice"],
    ),
    (
        "11 bad chroot",
        MINIMAL + "    zookeeper: {connect: 'z:2181/kafka/'}\n",
        [r"^w\.yaml:4: clusters\[0\]\.zookeeper\.connect: chroot '/kafka/' must look like"],
    ),
    (
        "12 bad regex names the regex error",
        MINIMAL + "    topics: {include: ['(oops']}\n",
        [r"clusters\[0\]\.topics\.include\[0\]: not a valid regular expression: missing \)"],
    ),
    (
        "13 reserved librdkafka key",
        MINIMAL + "    kafka_client: {bootstrap.servers: 'x:1'}\n",
        [r"kafka_client: 'bootstrap\.servers' is set by kafka-watchdog itself"],
    ),
    (
        "14 invalid YAML gets its line",
        "clusters: [\n  - name: a\n",
        [r"^w\.yaml:\d+: not valid YAML"],
    ),
    (
        "15 a list where a mapping is expected",
        "- a\n- b\n",
        [r"the config must be a mapping"],
    ),
    (
        "16 listen without a port",
        "server: {listen: 'localhost'}\n" + MINIMAL,
        [r"^w\.yaml:1: server\.listen: listen address 'localhost' must be host:port"],
    ),
    (
        "29 unknown rule: the closest name in the rule registry is suggested",
        "alerting:\n  rules:\n    under_replication: {for: 1m}\n" + MINIMAL,
        [
            r"^w\.yaml:2: alerting\.rules: .*unknown rule\(s\) under_replication \(did you "
            r"mean 'under_replicated'\?\); the rules are: under_replicated, under_min_isr, "
        ],
    ),
]


@pytest.mark.parametrize(("case", "text", "expected"), BAD, ids=[c[0][:2] for c in BAD])
def test_bad_config_is_reported_precisely(case: str, text: str, expected: list[str]) -> None:
    found = problems(text)
    assert len(found) == len(expected), (case, found)
    for pattern, line in zip(expected, found, strict=True):
        assert re.search(pattern, line), (case, pattern, line)


def test_17_env_overrides_keys_by_path_and_cluster_name() -> None:
    config = load(
        MINIMAL,
        KAFKA_WATCHDOG__SERVER__LISTEN="127.0.0.1:9999",
        KAFKA_WATCHDOG__CLUSTERS__PROD__BOOTSTRAP_SERVERS="x:1,y:2",
        KAFKA_WATCHDOG__CLUSTERS__0__KAFKA_CLIENT__SECURITY_PROTOCOL="SSL",
        KAFKA_WATCHDOG__COLLECTION__METADATA_INTERVAL="30s",
    )
    assert config.server.listen == "127.0.0.1:9999"
    assert config.clusters[0].bootstrap_servers == ["x:1", "y:2"]
    assert config.clusters[0].kafka_client == {"security.protocol": "SSL"}
    assert config.collection.metadata_interval == 30.0


def test_18_env_override_errors_name_the_variable() -> None:
    found = problems(MINIMAL, KAFKA_WATCHDOG__COLLECTION__METADATA_INTERVAL="fast")
    assert found == [
        "env KAFKA_WATCHDOG__COLLECTION__METADATA_INTERVAL: collection.metadata_interval: "
        "'fast' is not a duration: use a number of seconds or units ms, s, m, h, d "
        "(for example 10s, 500ms, 1m30s) (got 'fast')"
    ]
    found = problems(MINIMAL, KAFKA_WATCHDOG__CLUSTERS__STAGING__NAME="x")
    assert found == [
        "env KAFKA_WATCHDOG__CLUSTERS__STAGING__NAME: clusters: no item 'STAGING' to override"
    ]


def test_19_secret_from_file_and_env_and_never_in_errors(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cr3t-from-file\n")
    text = MINIMAL + (
        "    kafka_client:\n"
        "      sasl.password_file: pw\n"
        "      sasl.oauthbearer.client.secret_env: OAUTH\n"
        "    zookeeper:\n"
        "      connect: z:2181\n"
        "      sasl: {password_env: ZKPW}\n"
    )
    config = load_config_text(
        text, "w.yaml", {"OAUTH": "oauth-secret", "ZKPW": "zk-secret"}, tmp_path
    )
    props = config.clusters[0].client_properties()
    assert props["sasl.password"] == "s3cr3t-from-file"
    assert props["sasl.oauthbearer.client.secret"] == "oauth-secret"
    zk = config.clusters[0].zookeeper
    assert zk is not None and zk.sasl is not None and zk.sasl.password is not None
    assert zk.sasl.password.get_secret_value() == "zk-secret"
    assert "zk-secret" not in repr(config)
    assert config.clusters[0].redacted_client_properties()["sasl.password"] == "***"


def test_20_secret_value_with_a_type_error_is_not_echoed() -> None:
    text = MINIMAL + "    kafka_client:\n      sasl.password: [hunter2hunter2]\n"
    found = problems(text)
    assert found and all("hunter2" not in line for line in found)


def test_21_missing_secret_file_and_env_are_clear(tmp_path: Path) -> None:
    text = MINIMAL + "    kafka_client:\n      sasl.password_file: /nope/pw\n"
    assert problems(text) == [
        "w.yaml:5: clusters[0].kafka_client.sasl.password_file: cannot read secret file "
        "'/nope/pw': No such file or directory"
    ]
    text = MINIMAL + "    kafka_client:\n      sasl.password_env: NOT_SET_ANYWHERE\n"
    assert problems(text) == [
        "w.yaml:5: clusters[0].kafka_client.sasl.password_env: environment variable "
        "'NOT_SET_ANYWHERE' is not set"
    ]


def test_22_missing_config_file_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file '.*nope\.yaml' does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_23_filters_match_whole_names() -> None:
    config = load(MINIMAL + "    topics: {include: ['orders.*'], exclude: ['.*-dlq']}\n")
    topics = config.clusters[0].topics
    assert topics.allows("orders") and topics.allows("orders-eu")
    assert not topics.allows("orders-dlq")
    assert not topics.allows("my-orders")  # fullmatch, not search


def test_24_zookeeper_connect_splits_hosts_and_chroot() -> None:
    config = load(MINIMAL + "    zookeeper: {connect: 'a:2181,b:2181/kafka/prod'}\n")
    zk = config.clusters[0].zookeeper
    assert zk is not None
    assert (zk.hosts, zk.chroot) == ("a:2181,b:2181", "/kafka/prod")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10", 10.0), (2.5, 2.5), ("500ms", 0.5), ("1m30s", 90.0), ("2h", 7200.0), ("1d", 86400.0)],
)
def test_25_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10x", "s", "-1", "1s2", True])
def test_26_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


REPO = Path(__file__).resolve().parents[2]


def _keys(model: type[BaseModel]) -> set[str]:
    out = {info.alias or name for name, info in model.model_fields.items()}
    for info in model.model_fields.values():
        for arg in _models_in(info.annotation):
            out |= _keys(arg)
    return out


def _models_in(tp: object) -> list[type[BaseModel]]:
    import typing

    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    return [m for arg in typing.get_args(tp) for m in _models_in(arg)]


def test_27_reference_config_is_valid_and_documents_every_key(tmp_path: Path) -> None:
    text = (REPO / "docs/reference-config.yaml").read_text()
    (tmp_path / "pw").write_text("pw")
    text = text.replace("/run/secrets/kafka-password", str(tmp_path / "pw"))
    load_config_text(text, "ref.yaml", {"ZK_PASSWORD": "x", "PAGERDUTY_ROUTING_KEY": "k"}, tmp_path)
    documented = {
        key if key in PATH_KEYS else re.sub(r"_(file|env)$", "", key)  # password_env: password
        for key in re.findall(r"^\s*-?\s*([a-z_]+):", text, re.MULTILINE)
    }
    missing = _keys(WatchdogConfig) - documented
    assert not missing, f"docs/reference-config.yaml does not document: {sorted(missing)}"


def test_28_example_configs_are_valid() -> None:
    for path in sorted((REPO / "examples").glob("*.yaml")):
        load_config(path, environ={})
        assert yaml.safe_load(path.read_text())
