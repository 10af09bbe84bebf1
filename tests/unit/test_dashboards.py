"""The generated Grafana dashboards: current, strictly valid, provisionable, and naming only
metrics the catalogue declares (the queries themselves run against a real Prometheus in
tests/integration/test_prometheus_kit.py)."""

from __future__ import annotations

import json
import os
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from kafka_watchdog.sinks.metrics.catalogue import BROKER_METRICS, CATALOGUE
from tools.dashboards import DASHBOARDS
from tools.promql import metric_names

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "dashboards").glob("*.json"))
KNOWN = {sample: m for m in (*CATALOGUE, *BROKER_METRICS) for sample in m.samples}
# Variables must come from series that exist whatever the cluster is doing: not from consumer
# group series, which appear only once a group commits.
ALWAYS_THERE = {
    "kafka_watchdog_up",
    "kafka_watchdog_topic_partitions",
    "kafka_server_replicamanager_partitioncount",
}


def validator() -> Path:
    cache = os.environ.get("KAFKA_WATCHDOG_CACHE") or str(Path.home() / ".cache/kafka-watchdog")
    return Path(cache).expanduser() / "bin" / "grafana-validate"


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def targets(board: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(row title, panel title, target) for every query, rows by position (an expanded row
    owns the panels that follow it)."""
    out = []
    row = ""
    for panel in board["panels"]:
        if panel["type"] == "row":
            row = panel["title"]
            continue
        out += [(row, panel["title"], t) for t in panel.get("targets", [])]
    return out


def test_01_committed_dashboards_are_the_generated_ones() -> None:
    assert [p.stem for p in FILES] == sorted(DASHBOARDS)
    for name, build in DASHBOARDS.items():
        committed = (ROOT / "dashboards" / f"{name}.json").read_text()
        assert committed == build().json(), f"dashboards/{name}.json is stale: `make generate`"


def test_02_every_dashboard_passes_the_strict_schema_check() -> None:
    binary = validator()
    assert binary.is_file(), f"{binary} is missing: run `make grafana-validator`"
    result = subprocess.run(
        [str(binary), *map(str, FILES)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


def test_03_the_validator_rejects_a_broken_dashboard(tmp_path: Path) -> None:
    # The check above can fail: an unknown panel option and a mistyped field are refused.
    board = load(FILES[0])
    panel = next(p for p in board["panels"] if p["type"] == "timeseries")
    panel["options"]["not_an_option"] = True
    panel["gridPos"]["w"] = "wide"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(board))
    result = subprocess.run(
        [str(validator()), str(broken)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert "not_an_option" in result.stderr and "gridPos.w" in result.stderr


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_04_provisionable_from_a_file(path: Path) -> None:
    text = path.read_text()
    board = load(path)
    assert "${DS_" not in text and "__inputs" not in board, "import-only placeholders"
    assert board["uid"] and len(board["uid"]) <= 40
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert "kafka_cluster" in variables
    for variable in variables.values():
        if variable["type"] != "query":
            continue
        names = metric_names(variable["query"].removeprefix("label_values(").rsplit(",", 1)[0])
        if variable["name"] == "kafka_cluster":
            assert names <= ALWAYS_THERE, f"{variable['name']} built on {names}"
        assert variable["includeAll"] and variable["allValue"] == ".*"
    for _, title, target in targets(board):
        assert target["datasource"]["uid"] == "${datasource}", title
        assert target["refId"], title
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))


def test_05_queries_name_only_declared_metrics() -> None:
    unknown = {
        (path.stem, title, name)
        for path in FILES
        for _, title, target in targets(load(path))
        for name in metric_names(target["expr"])
        if name not in KNOWN
    }
    assert not unknown, f"not in the catalogue (nor the broker metrics): {sorted(unknown)}"


def test_06_queries_filter_by_the_cluster_variable() -> None:
    # Multi-cluster: every series with a kafka_cluster label is filtered by the variable.
    for path in FILES:
        for _, title, target in targets(load(path)):
            for name in metric_names(target["expr"]):
                if "kafka_cluster" in KNOWN[name].labels or KNOWN[name].section == "broker":
                    assert f'{name}{{kafka_cluster=~"$kafka_cluster"' in target["expr"], (
                        f"{path.stem} / {title}: {name} not filtered by $kafka_cluster"
                    )


def test_07_catalogue_rows_are_the_dashboards_rows() -> None:
    """Both ways: what the catalogue says each row charts is what the rows' queries read."""
    charted: dict[str, set[str]] = defaultdict(set)
    for path in FILES:
        board = load(path)
        for row, _, target in targets(board):
            for name in metric_names(target["expr"]):
                charted[KNOWN[name].name].add(f"{board['title']} / {row}")
    wrong = {
        metric.name: (sorted(metric.rows), sorted(charted.get(metric.name, set())))
        for metric in (*CATALOGUE, *BROKER_METRICS)
        if set(metric.rows) != charted.get(metric.name, set())
    }
    assert not wrong, "catalogue rows -> charted in:\n" + "\n".join(
        f"{name}: {declared} -> {actual}" for name, (declared, actual) in wrong.items()
    )


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        # 1: matchers, ranges and grouping labels are not metric names
        (
            'sum by (kafka_cluster) (increase(x_total{a="b"}[$__range])) > 0',
            {"x_total"},
        ),
        # 2: strings are not names, count_values' label is not a metric
        ('count_values by (k) ("broker", leader{k=~"$k"})', {"leader"}),
        # 3: both sides of a set operation; on (...) is grouping
        ("rate(cpu_total[5m]) and on (instance, job) build_info", {"cpu_total", "build_info"}),
        # 4: numbers with exponents, offsets and durations are not names
        ("sum(x) by (y) / 1e9 offset 5m", {"x"}),
        # 5: group_right () and a nested expression
        ("a * on (x) group_right () (0 * b + 1)", {"a", "b"}),
        # 6: functions without arguments
        ("time() - t", {"t"}),
    ],
)
def test_08_metric_names_of_an_expression(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names
