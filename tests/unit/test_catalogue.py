"""The metric catalogue against the exporter's real output, both ways.

A synthetic view with everything in it (controller and epoch, ZooKeeper session, events of
every kind, hazards, groups with lag, alerts in every state, notifications of every outcome,
kafka_exporter names) is rendered by the real MetricsRenderer, parsed back with
prometheus_client's parser, and compared with the catalogue: no family missing from either
side, same type, same labels, same help text.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.synthetic import populated_alerting, populated_watcher
from kafka_watchdog.config.schema import MetricsConfig
from kafka_watchdog.model.state import ClusterBoard
from kafka_watchdog.sinks.metrics import MetricsRenderer
from kafka_watchdog.sinks.metrics.catalogue import (
    BROKER_METRICS,
    BY_NAME,
    CATALOGUE,
    Section,
)
from kafka_watchdog.sinks.metrics.families import SCHEDULE_NOTE, Families
from tools import metrics_doc

ROOT = Path(__file__).resolve().parents[2]
CONVENTIONAL_LABELS = {"kafka_cluster", "topic", "partition", "broker", "group"}


def exposition(clusters: int) -> dict[str, tuple[str, set[str], str]]:
    """family name -> (type, label names over all samples, help), as /metrics serves it."""
    board = ClusterBoard()
    for i in range(clusters):
        populated_watcher(40, 2, name=f"c{i}", board=board)
    renderer = MetricsRenderer(
        board,
        MetricsConfig(kafka_exporter_compat=True),
        alerting=populated_alerting([board]),
    )
    text = renderer.exposition(now=time.time()).decode()
    return {
        f.name: (f.type, {k for s in f.samples for k in s.labels}, f.documentation)
        for f in text_string_to_metric_families(text)
    }


@pytest.mark.parametrize("clusters", [1, 2])
def test_01_exporter_emits_exactly_the_catalogue(clusters: int) -> None:
    got = exposition(clusters)
    declared = {m.name: m for m in CATALOGUE}
    assert sorted(set(declared) - set(got)) == [], "declared but not emitted"
    assert sorted(set(got) - set(declared)) == [], "emitted but not in the catalogue"
    for name, (kind, labels, _) in got.items():
        spec = declared[name]
        assert kind == spec.type, name
        # kafka_exporter's names get kafka_cluster only when several clusters are rendered.
        expected = set(spec.labels) | (set(spec.optional_labels) if clusters > 1 else set())
        assert labels == expected, name


def test_02_help_texts_are_the_catalogue_s() -> None:
    for name, (_, _, help_text) in exposition(1).items():
        spec = BY_NAME[name]
        if spec.section is Section.PROCESS:
            assert help_text == spec.help, name
        elif name == "kafka_watchdog_build_info":  # the only family not collected on schedule
            assert help_text == spec.help
        else:
            assert help_text == spec.help + SCHEDULE_NOTE, name


@pytest.mark.parametrize(
    ("kind", "name", "labels", "error"),
    [
        # 1: a family nobody declared is refused, so it cannot reach /metrics undocumented.
        ("gauge", "made_up", ["kafka_cluster"], "not declared"),
        # 2: a declared family with other labels is refused.
        ("gauge", "up", ["kafka_cluster", "extra"], "declares a gauge"),
        # 3: a declared gauge emitted as a counter is refused.
        ("counter", "up", ["kafka_cluster"], "declares a gauge"),
    ],
)
def test_03_undeclared_or_different_families_are_refused(
    kind: str, name: str, labels: list[str], error: str
) -> None:
    fams = Families()
    make = fams.gauge if kind == "gauge" else fams.counter
    with pytest.raises(ValueError, match=error):
        make(name, labels)


def test_03b_a_caller_cannot_pass_a_help_text() -> None:
    # The catalogue owns help texts: the old (name, help, labels) call fails loudly.
    fams = Families()
    with pytest.raises(TypeError, match="positional"):
        fams.gauge("up", "1 when up.", ["kafka_cluster"])  # type: ignore[misc]
    with pytest.raises(TypeError, match="help text is the catalogue's"):
        fams.counter("collections", "Collections attempted.")


def test_04_catalogue_follows_the_naming_conventions() -> None:
    names = [m.name for m in CATALOGUE] + [m.name for m in BROKER_METRICS]
    assert len(names) == len(set(names)), "a name is declared twice"
    for m in CATALOGUE:
        if m.section is Section.PROCESS:
            continue
        if m.section is not Section.COMPAT:
            assert m.name.startswith("kafka_watchdog_"), m.name
            assert "cluster" not in m.labels, f"{m.name}: use kafka_cluster"
        assert not m.name.endswith("_total"), f"{m.name}: the family name has no _total"
        assert m.help.endswith("."), m.name
        if m.name.endswith("_seconds") or "_seconds_" in m.name:
            assert "seconds" in m.unit, m.name
        if m.name.endswith("_info"):
            assert m.type == "gauge" and m.unit == "", m.name
    for m in BROKER_METRICS:
        assert m.rows, f"{m.name}: declared for the kit but charted nowhere"
        assert set(m.modes) <= {"zookeeper", "kraft"}


def test_05_conventional_labels_keep_their_meaning() -> None:
    # kafka_cluster, topic, partition, broker, group: the same label always names the same
    # thing, so dashboards can join across families.
    for m in CATALOGUE:
        if m.section in (Section.WATCHDOG, Section.CLUSTER, Section.GROUPS):
            unusual = set(m.labels) - CONVENTIONAL_LABELS
            allowed = {
                "source",
                "stage",
                "state",
                "status",
                "hazard",
                "cluster_id",
                "mode",
                "reason",
                "cause",
                "log_dir",  # a broker's log directory (its path), with `broker`
            }
            allowed |= {"version", "python_version", "librdkafka_version"}
            assert unusual <= allowed, f"{m.name}: {unusual}"


def test_06_docs_are_generated_from_the_catalogue() -> None:
    committed = (ROOT / "docs" / "metrics.md").read_text()
    assert committed == metrics_doc.render(), "docs/metrics.md is stale: run `make generate`"
    for m in [*CATALOGUE, *BROKER_METRICS]:
        for sample in m.samples:
            assert f"`{sample}`" in committed
