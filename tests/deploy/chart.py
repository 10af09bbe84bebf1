"""Render the Helm chart the way `helm install` would, offline, for the chart and image tests.

helm and helm-unittest are Go programs built once per machine by tools/go-tool.sh (into
~/.cache/kafka-watchdog/tools/); the first call builds them, later calls only find them.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "kafka-watchdog"
FIXTURES = CHART / "tests" / "fixtures"
CI_VALUES = CHART / "ci"
SIDECAR_VALUES = ROOT / "examples" / "kubernetes" / "sidecar-values.yaml"
SIDECAR_EXAMPLE = ROOT / "examples" / "kubernetes" / "sidecar.yaml"
KUBE_VERSION = "1.30.0"
# The Prometheus operator's kinds, as `helm install` sees them where its CRDs are installed.
OPERATOR_APIS = (
    "monitoring.coreos.com/v1/ServiceMonitor",
    "monitoring.coreos.com/v1/PrometheusRule",
)


@functools.cache
def tool(name: str) -> str:
    """Path of helm or helm-unittest, built on first use (minutes) and cached per machine."""
    out = subprocess.run(
        [str(ROOT / "tools" / "go-tool.sh"), name], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"tools/go-tool.sh {name} failed:\n{out.stderr[-3000:]}")
    return out.stdout.strip().splitlines()[-1]


def chart_with_fixtures(dest: Path) -> Path:
    """A copy of the chart whose files/ holds the test fixtures only (one rule file, one
    dashboard), so that assertions do not depend on what `make chart-files` copied in."""
    chart = dest / "kafka-watchdog"
    shutil.copytree(CHART, chart, ignore=shutil.ignore_patterns("files"))
    shutil.copytree(FIXTURES, chart / "files")
    return chart


def helm(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("helm"), *args], capture_output=True, text=True, check=check)


def template_args(
    chart: Path,
    values: Iterable[Path] = (),
    sets: Sequence[str] = (),
    *,
    operator: bool = True,
    release: str = "kw",
    namespace: str = "monitoring",
) -> list[str]:
    args = ["template", release, str(chart), "--namespace", namespace]
    args += ["--kube-version", KUBE_VERSION]
    if operator:
        for api in OPERATOR_APIS:
            args += ["--api-versions", api]
    for file in values:
        args += ["--values", str(file)]
    for item in sets:
        args += ["--set", item]
    return args


def render(
    chart: Path,
    values: Iterable[Path] = (),
    sets: Sequence[str] = (),
    *,
    operator: bool = True,
    release: str = "kw",
    namespace: str = "monitoring",
) -> list[dict[str, Any]]:
    """Every manifest `helm template` renders, parsed; raises with helm's message on failure."""
    out = helm(
        *template_args(chart, values, sets, operator=operator, release=release, namespace=namespace)
    )
    if out.returncode != 0:
        raise RenderError(out.stderr.strip())
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


class RenderError(Exception):
    pass


def one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {len(found)}"
    return found[0]


def rendered_config(docs: list[dict[str, Any]]) -> str:
    """The daemon's config.yaml from the rendered ConfigMap."""
    for doc in docs:
        if doc["kind"] == "ConfigMap" and "config.yaml" in doc.get("data", {}):
            return str(doc["data"]["config.yaml"])
    raise AssertionError("no ConfigMap with config.yaml rendered")


def workload(docs: list[dict[str, Any]]) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
    assert len(found) == 1, f"expected one Deployment or StatefulSet, got {len(found)}"
    return found[0]


def load_yaml_docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
