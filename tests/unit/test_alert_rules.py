"""The Prometheus rule files under alerts/: valid (promtool check rules), unit-tested
(promtool test rules), every alert tested both ways, annotated, with a runbook, documented."""

from __future__ import annotations

import shutil
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from kafka_watchdog.rules.registry import PROMETHEUS_ONLY, RULES
from kafka_watchdog.rules.spec import DEFAULT_RUNBOOK_BASE_URL, DaemonOnly, PromQL
from kafka_watchdog.sinks.metrics.catalogue import BROKER_METRICS, CATALOGUE
from tools import broker_rules, watchdog_rules
from tools.promql import metric_names
from tools.rulefile import duration

ROOT = Path(__file__).resolve().parents[2]
RULE_FILES = sorted((ROOT / "alerts").glob("*.rules.yml"))
TEST_FILES = sorted((ROOT / "alerts" / "tests").glob("*.yml"))
SEVERITIES = {"critical", "warning", "info"}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary, "promtool is missing: run `make promtool` (Debian package prometheus)"
    return subprocess.run(
        [binary, *args], capture_output=True, text=True, timeout=120, check=False, cwd=ROOT
    )


def alerts(path: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text())
    return [rule for group in data["groups"] for rule in group["rules"] if "alert" in rule]


def test_01_rule_files_are_valid() -> None:
    assert RULE_FILES
    result = promtool("check", "rules", *map(str, RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_02_rule_unit_tests_pass() -> None:
    assert TEST_FILES
    result = promtool("test", "rules", *map(str, TEST_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_03_every_alert_has_a_case_that_fires_and_one_that_must_not() -> None:
    fires: dict[str, int] = defaultdict(int)
    silent: dict[str, int] = defaultdict(int)
    tested_files: set[Path] = set()
    for path in TEST_FILES:
        suite = yaml.safe_load(path.read_text())
        tested_files |= {(path.parent / f).resolve() for f in suite["rule_files"]}
        for case in suite["tests"]:
            for check in case.get("alert_rule_test", []):
                if check.get("exp_alerts"):
                    fires[check["alertname"]] += 1
                    for expected in check["exp_alerts"]:
                        # Fired alerts are checked with their annotations, not only labels.
                        assert expected.get("exp_annotations"), check["alertname"]
                else:
                    silent[check["alertname"]] += 1
    for path in RULE_FILES:
        assert path.resolve() in tested_files, f"{path.name} has no promtool tests"
        for alert in alerts(path):
            assert fires[alert["alert"]], f"{alert['alert']}: no case where it fires"
            assert silent[alert["alert"]], f"{alert['alert']}: no case where it must not fire"


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_04_alerts_are_annotated_with_a_runbook(path: Path) -> None:
    names = [a["alert"] for a in alerts(path)]
    assert len(names) == len(set(names))
    for alert in alerts(path):
        assert alert["labels"]["severity"] in SEVERITIES, alert["alert"]
        notes = alert["annotations"]
        assert notes.get("summary") and notes.get("description"), alert["alert"]
        url = notes["runbook_url"]
        assert url.startswith("https://"), f"{alert['alert']}: runbook links must be absolute"
        runbook = ROOT / "docs" / "runbooks" / url.rsplit("/", 1)[1]
        assert runbook.is_file(), f"{alert['alert']}: {runbook} does not exist"


def test_05_broker_rules_are_generated_and_read_only_broker_metrics() -> None:
    path = ROOT / "alerts" / "kafka-broker.rules.yml"
    assert path.read_text() == broker_rules.render(DEFAULT_RUNBOOK_BASE_URL), (
        "alerts/kafka-broker.rules.yml is stale: run `make generate`"
    )
    known = {sample for m in BROKER_METRICS for sample in m.samples}
    for alert in alerts(path):
        assert metric_names(alert["expr"]) <= known, alert["alert"]
        # Per-cluster aggregation: one cluster's trouble never sums with another's.
        assert "by (kafka_cluster" in alert["expr"], alert["alert"]


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_06_alerts_are_documented(path: Path) -> None:
    operating = (ROOT / "docs" / "operating.md").read_text()
    for alert in alerts(path):
        assert f"`{alert['alert']}`" in operating, f"{alert['alert']} not in docs/operating.md"


def test_07_watchdog_rules_come_from_the_registry_and_read_only_its_metrics() -> None:
    path = ROOT / "alerts" / "kafka-watchdog.rules.yml"
    assert path.read_text() == watchdog_rules.render(DEFAULT_RUNBOOK_BASE_URL), (
        "alerts/kafka-watchdog.rules.yml is stale: run `make generate`"
    )
    expected = {r.name for r in RULES if isinstance(r.prometheus, PromQL)}
    expected |= {a.name for a in PROMETHEUS_ONLY}
    found = {a["alert"]: a for a in alerts(path)}
    assert set(found) == expected
    # A query naming a metric the exporter does not have would never fire: every name is in
    # the catalogue (`up` is Prometheus' own, per target).
    known = {sample for m in CATALOGUE for sample in m.samples} | {"up"}
    for name, alert in found.items():
        assert metric_names(alert["expr"]) <= known, name
        # Named like the daemon's rule, with its labels: one Alertmanager config for both.
        assert alert["labels"] == {"severity": alert["labels"]["severity"], "rule": name}
    groups = [g["name"] for g in yaml.safe_load(path.read_text())["groups"]]
    assert groups == [f"kafka-watchdog-{c}" for c in ("availability", "replication",
                      "controller", "consumers", "self")]  # fmt: skip


def test_08_daemon_alerts_match_their_rules_and_say_why_for_differs() -> None:
    found = {a["alert"]: a for a in alerts(ROOT / "alerts" / "kafka-watchdog.rules.yml")}
    for rule in RULES:
        query = rule.prometheus
        if isinstance(query, DaemonOnly):
            assert query.why.strip(), f"{rule.name}: say why it is daemon-only"
            continue
        alert = found[rule.name]
        assert alert["labels"]["severity"] == rule.severity
        if rule.threshold is not None:
            assert f"{rule.threshold:g}" in alert["expr"], rule.name
        if query.for_ is None:
            assert alert["for"] == duration(rule.for_), rule.name
        if query.keep_firing:
            assert alert["keep_firing_for"] == duration(rule.keep_firing_for)


def test_09_placeholders_are_filled_or_refused() -> None:
    for alert in watchdog_rules.alerts():
        for text in (alert.expr, alert.summary, alert.description):
            assert not watchdog_rules.PLACEHOLDER.search(text), (alert.name, text)
    # A placeholder the rule has no value for is an error, not an empty string.
    with pytest.raises(ValueError, match=r"\$threshold is used but the rule has none"):
        watchdog_rules.fill("x > $threshold", "x", {"threshold": None})


def test_10_runbook_base_is_one_setting() -> None:
    base = "https://wiki.example.com/kafka/runbooks/"
    for text in (watchdog_rules.render(base), broker_rules.render(base)):
        urls = [a["annotations"]["runbook_url"] for g in yaml.safe_load(text)["groups"]
                for a in g["rules"]]  # fmt: skip
        assert urls and all(u.startswith(base) and "//" not in u[8:] for u in urls)
    with pytest.raises(ValueError, match="absolute http"):
        watchdog_rules.render("docs/runbooks")
