"""The Helm chart, checked offline: lint, render a values matrix, validate every manifest
strictly against the Kubernetes and prometheus-operator schemas, feed the rendered config to
the daemon's own validator, and make wrong values fail with a message that says what to do.

helm is built once per machine (tests/deploy/chart.py); no cluster is needed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy import validate
from tests.deploy.chart import (
    CHART,
    CI_VALUES,
    FIXTURES,
    ROOT,
    SIDECAR_EXAMPLE,
    SIDECAR_VALUES,
    RenderError,
    chart_with_fixtures,
    helm,
    load_yaml_docs,
    one,
    render,
    rendered_config,
    tool,
    workload,
)

# Kubernetes versions the manifests must be valid for: the oldest and the newest that
# kubernetes-validate bundles among the ones still served by the big providers.
KUBE_VERSIONS = ("1.25.0", "1.30.0", "1.37.0")

# name -> values files; each scenario renders with the fixture rule file and dashboard.
SCENARIOS: dict[str, list[Path]] = {
    "default": [CI_VALUES / "default-values.yaml"],
    "ha": [CI_VALUES / "ha-values.yaml"],
    "statefulset": [CI_VALUES / "statefulset-values.yaml"],
    "monitoring": [CI_VALUES / "monitoring-values.yaml"],
    "existing-secret": [CI_VALUES / "existing-secret-values.yaml"],
    "sidecar": [SIDECAR_VALUES],
}


@pytest.fixture(scope="module")
def chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return chart_with_fixtures(tmp_path_factory.mktemp("chart"))


@pytest.fixture(scope="module")
def rendered(chart: Path) -> dict[str, list[dict[str, Any]]]:
    return {name: render(chart, values) for name, values in SCENARIOS.items()}


def test_every_ci_values_file_is_a_scenario() -> None:
    assert sorted(CI_VALUES.glob("*.yaml")) == sorted(
        f for files in SCENARIOS.values() for f in files if f.parent == CI_VALUES
    )


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_lint_strict(chart: Path, scenario: str) -> None:
    args = ["lint", "--strict", str(chart), "--kube-version", "1.30.0"]
    for file in SCENARIOS[scenario]:
        args += ["--values", str(file)]
    out = helm(*args)
    assert out.returncode == 0, out.stdout + out.stderr


def test_lint_of_the_chart_as_committed() -> None:
    # The real files/ (whatever make chart-files copied) and the CI values it ships with.
    out = helm("lint", "--strict", str(CHART), "--values", str(CI_VALUES / "default-values.yaml"))
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_manifest_is_valid(
    rendered: dict[str, list[dict[str, Any]]], scenario: str, kube_version: str
) -> None:
    docs = rendered[scenario]
    assert docs
    found = [p for doc in docs for p in validate.problems(doc, kube_version)]
    assert not found, "\n".join(found)


def test_the_sidecar_example_is_valid() -> None:
    for version in KUBE_VERSIONS:
        for doc in load_yaml_docs(SIDECAR_EXAMPLE):
            assert not validate.problems(doc, version)


def test_the_scenarios_render_what_they_promise(rendered: dict[str, list[dict[str, Any]]]) -> None:
    kinds = {name: sorted(d["kind"] for d in docs) for name, docs in rendered.items()}
    assert kinds["default"] == sorted(
        ["ConfigMap", "Deployment", "PodDisruptionBudget", "Service", "ServiceAccount"]
    )
    assert workload(rendered["ha"])["kind"] == "Deployment"
    assert workload(rendered["ha"])["spec"]["replicas"] == 3
    assert workload(rendered["statefulset"])["kind"] == "StatefulSet"
    assert {"ServiceMonitor", "PrometheusRule", "NetworkPolicy"} <= set(kinds["monitoring"])
    assert "Deployment" not in kinds["sidecar"] and "StatefulSet" not in kinds["sidecar"]


def _secret_files(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """What the pod sees of existing-secret-values.yaml's Secret: files and variables."""
    mount = tmp_path / "secrets"
    mount.mkdir()
    (mount / "kafka-password").write_text("not-a-real-password\n")
    env = {
        "PAGERDUTY_ROUTING_KEY": "R0UT1NGKEY-not-real",
        "KAFKA_WATCHDOG__ALERTING__RECEIVERS__CHAT__APPRISE": "[json://127.0.0.1:9/hook]",
    }
    return mount, env


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_rendered_config_passes_validate_config(
    rendered: dict[str, list[dict[str, Any]]], scenario: str, tmp_path: Path
) -> None:
    text = rendered_config(rendered[scenario])
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_WATCHDOG__")}
    if scenario == "existing-secret":
        # The Secret's mount exists only in the pod: here it is a temporary folder (the image
        # test runs this config with the real mount paths).
        mount, secret_env = _secret_files(tmp_path)
        text = text.replace("/etc/kafka-watchdog/secrets/", f"{mount}/")
        env.update(secret_env)
    config = tmp_path / "config.yaml"
    config.write_text(text)
    out = subprocess.run(
        [sys.executable, "-m", "kafka_watchdog", "validate-config", str(config), "--print"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    effective = yaml.safe_load(out.stdout.split("\n", 1)[1])
    assert effective["server"]["listen"] == "0.0.0.0:10308"
    assert effective["alerting"]["state_dir"] == "/var/lib/kafka-watchdog"
    assert "not-a-real-password" not in out.stdout and "R0UT1NGKEY" not in out.stdout


def test_secrets_stay_out_of_the_configmap(rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered["existing-secret"]
    text = rendered_config(docs)
    assert "password_file: /etc/kafka-watchdog/secrets/kafka-password" in text
    pod = workload(docs)["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert {
        "name": "watchdog-secrets",
        "secret": {"secretName": "kafka-watchdog-credentials", "defaultMode": 0o440},
    } in pod["volumes"]
    assert {
        "name": "watchdog-secrets",
        "mountPath": "/etc/kafka-watchdog/secrets",
        "readOnly": True,
    } in container["volumeMounts"]
    assert {
        "name": "PAGERDUTY_ROUTING_KEY",
        "valueFrom": {
            "secretKeyRef": {"name": "kafka-watchdog-credentials", "key": "pagerduty-routing-key"}
        },
    } in container["env"]


def test_pods_are_hardened(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for scenario in ("default", "ha", "statefulset", "existing-secret"):
        pod = workload(rendered[scenario])["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["enableServiceLinks"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10308
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        context = pod["containers"][0]["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        probes = {
            k: pod["containers"][0][k]["httpGet"]["path"]
            for k in ("livenessProbe", "readinessProbe", "startupProbe")
        }
        assert probes == {
            "livenessProbe": "/healthz",
            "readinessProbe": "/readyz",
            "startupProbe": "/healthz",
        }


def test_the_prometheus_rule_is_the_rule_files(
    rendered: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    rule = one(rendered["monitoring"], "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    expected = yaml.safe_load((FIXTURES / "alerts" / "fixture.rules.yml").read_text())
    assert rule["spec"] == expected  # Prometheus' {{ $labels... }} reached it untouched
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: make promtool"
    rules = tmp_path / "from-chart.rules.yml"
    rules.write_text(yaml.safe_dump(rule["spec"]))
    out = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_dashboards_are_configmaps_for_the_grafana_sidecar(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    maps = [
        d
        for d in rendered["monitoring"]
        if d["kind"] == "ConfigMap" and "dashboard" in d["metadata"]["name"]
    ]
    assert [m["metadata"]["name"] for m in maps] == ["kw-kafka-watchdog-dashboard-fixture-overview"]
    (dashboard,) = maps
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["metadata"]["annotations"] == {"grafana_folder": "Kafka"}
    source = FIXTURES / "dashboards" / "Fixture_Overview.json"
    assert json.loads(dashboard["data"]["Fixture_Overview.json"]) == json.loads(source.read_text())


def test_the_service_monitor_finds_the_service(rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered["monitoring"]
    monitor = one(docs, "ServiceMonitor")
    service = one(docs, "Service")
    labels = service["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["monitoring"]}
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def _without(mapping: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k not in keys}


def test_the_sidecar_example_is_the_charts_container(chart: Path) -> None:
    """examples/kubernetes/sidecar.yaml cannot drift from the chart: its watchdog container
    is what the chart renders for the same values, but for the two documented differences."""
    as_deployment = render(
        chart, [SIDECAR_VALUES], ["sidecar.enabled=false"], release="kafka-watchdog"
    )
    pod = workload(as_deployment)["spec"]["template"]["spec"]
    (chart_container,) = pod["containers"]
    (example,) = load_yaml_docs(SIDECAR_EXAMPLE)
    example_pod = example["spec"]["template"]["spec"]
    (sidecar,) = [c for c in example_pod["containers"] if c["name"] == chart_container["name"]]

    assert _without(sidecar, "securityContext") == _without(
        chart_container, "securityContext", "readinessProbe"
    )
    expected_context = {
        **chart_container["securityContext"],
        **{
            k: pod["securityContext"][k]
            for k in ("runAsNonRoot", "runAsUser", "runAsGroup", "seccompProfile")
        },
    }
    assert sidecar["securityContext"] == expected_context
    watchdog_volumes = [v for v in example_pod["volumes"] if v["name"].startswith("watchdog-")]
    assert sorted(watchdog_volumes, key=str) == sorted(pod["volumes"], key=str)

    in_sidecar_mode = render(chart, [SIDECAR_VALUES], release="kafka-watchdog")
    configmap = one(in_sidecar_mode, "ConfigMap")
    assert configmap["metadata"]["name"] == "kafka-watchdog"
    service = one(in_sidecar_mode, "Service")
    assert (
        service["spec"]["selector"].items()
        <= example["spec"]["template"]["metadata"]["labels"].items()
    )
    config = yaml.safe_load(rendered_config(in_sidecar_mode))
    assert config["clusters"][0]["bootstrap_servers"] == ["localhost:9092"]


# Wrong values: (values given, words the error must contain). Each fails at `helm template`,
# before anything reaches a cluster.
WRONG: dict[str, tuple[list[str], list[str]]] = {
    "missing cluster": ([], ["config.clusters is empty", "bootstrap_servers"]),
    "negative replicas": (["replicaCount=-1"], ["/replicaCount", "minimum"]),
    "unknown key": (["replicas=3"], ["additional properties 'replicas' not allowed"]),
    "unknown config key": (
        ["config.colection.metadata_interval=5s"],
        ["/config", "additional properties 'colection'"],
    ),
    "cluster without servers": (["config.clusters[0].name=prod"], ["bootstrap_servers"]),
    "bad cluster name": (
        ["config.clusters[0].name=prod cluster", "config.clusters[0].bootstrap_servers=kafka:9092"],
        ["/config/clusters/0/name"],
    ),
    "replicas without HA": (
        [
            "replicaCount=2",
            "config.clusters[0].name=prod",
            "config.clusters[0].bootstrap_servers=kafka:9092",
        ],
        ["replicaCount 2 needs config.alerting.ha"],
    ),
    "listen set": (
        [
            "config.server.listen=0.0.0.0:9999",
            "config.clusters[0].name=prod",
            "config.clusters[0].bootstrap_servers=kafka:9092",
        ],
        ["config.server.listen is set by the chart", "set port instead"],
    ),
    "inline password": (
        [
            "config.clusters[0].name=prod",
            "config.clusters[0].bootstrap_servers=kafka:9092",
            "config.clusters[0].kafka_client.sasl\\.password=hunter2",
        ],
        ["config.clusters[0].kafka_client.sasl.password", "sasl.password_file with existingSecret"],
    ),
    "secretEnv without secret": (
        [
            "config.clusters[0].name=prod",
            "config.clusters[0].bootstrap_servers=kafka:9092",
            "secretEnv.X=y",
        ],
        ["existingSecret, which is not set"],
    ),
    "sidecar without selector": (
        [
            "config.clusters[0].name=prod",
            "config.clusters[0].bootstrap_servers=kafka:9092",
            "sidecar.enabled=true",
        ],
        ["sidecar.podSelector"],
    ),
}


@pytest.mark.parametrize("case", WRONG)
def test_wrong_values_fail_with_a_clear_message(chart: Path, case: str) -> None:
    sets, words = WRONG[case]
    with pytest.raises(RenderError) as failure:
        render(chart, [], sets)
    message = str(failure.value)
    assert "hunter2" not in message
    for word in words:
        assert word in message, message


def test_monitoring_objects_need_the_operator(chart: Path) -> None:
    values = [CI_VALUES / "monitoring-values.yaml"]
    with pytest.raises(RenderError, match="needs the Prometheus operator's CRDs"):
        render(chart, values, operator=False)


def test_rules_and_dashboards_need_their_files(tmp_path: Path) -> None:
    empty = tmp_path / "kafka-watchdog"
    shutil.copytree(CHART, empty, ignore=shutil.ignore_patterns("files"))
    with pytest.raises(RenderError, match="run `make chart-files`"):
        render(empty, [CI_VALUES / "monitoring-values.yaml"])


def test_helm_unittest_suites(chart: Path) -> None:
    out = subprocess.run(
        [tool("helm-unittest"), "--color=false", str(chart)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
    assert "Charts:      1 passed" in out.stdout, out.stdout[-3000:]


def test_values_schema_covers_every_value() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert set(schema["properties"]) == set(values)
    assert schema["additionalProperties"] is False


def test_chart_version_follows_the_daemon() -> None:
    from kafka_watchdog import __version__

    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert meta["appVersion"] == __version__


def test_the_committed_rules_and_dashboards_render_valid_objects(tmp_path: Path) -> None:
    """The real copies in files/ (make chart-files), not the fixtures: once alerts/ and
    dashboards/ exist in the repository, their PrometheusRule and ConfigMaps must validate."""
    rules = sorted((CHART / "files" / "alerts").glob("*.rules.yml"))
    boards = sorted((CHART / "files" / "dashboards").glob("*.json"))
    if not rules and not boards:
        # Nothing generated yet: then the repository has nothing to copy either.
        assert not list(ROOT.glob("alerts/*.rules.yml")) and not list(
            ROOT.glob("dashboards/*.json")
        )
        return
    sets = [
        f"prometheusRule.enabled={str(bool(rules)).lower()}",
        f"dashboards.enabled={str(bool(boards)).lower()}",
    ]
    docs = render(CHART, [CI_VALUES / "default-values.yaml"], sets)
    found = [p for doc in docs for p in validate.problems(doc, "1.30.0")]
    assert not found, "\n".join(found)
    if rules:
        spec = one(docs, "PrometheusRule")["spec"]
        file = tmp_path / "rules.yml"
        file.write_text(yaml.safe_dump(spec))
        promtool = shutil.which("promtool")
        assert promtool, "promtool is missing: make promtool"
        out = subprocess.run([promtool, "check", "rules", str(file)], capture_output=True,
                             text=True, check=False)  # fmt: skip
        assert out.returncode == 0, out.stdout + out.stderr
    names = [d["metadata"]["name"] for d in docs if d["kind"] == "ConfigMap"]
    assert len(names) == len(set(names)) == 1 + len(boards)
