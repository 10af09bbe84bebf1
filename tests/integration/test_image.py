"""The container image, built for real and run the way the chart's pod runs it.

The image is built from the repository's Dockerfile by Debian's buildah on a debootstrap'ed
bookworm base (tools/image.sh; the base is made once per machine, unchanged layers are
reused). Its pod comes from the Helm chart itself (`helm template`): the same user, read-only
root, volumes, Secret files and variables, probes and stop signal, run by
tests/integration/container.py against the session's KRaft cluster. The one deviation is the
listen address: the container shares this machine's network, so it listens on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from kafka_watchdog import __version__
from testcluster import KraftCluster
from tests.deploy.chart import (
    CHART,
    ROOT,
    SIDECAR_EXAMPLE,
    SIDECAR_VALUES,
    load_yaml_docs,
    one,
    render,
    workload,
)
from tests.integration.container import PodContainer, http_get, image_config, probe
from tests.integration.daemon import free_port

IMAGE = "localhost/kafka-watchdog:test"
UID = 10308


@pytest.fixture(scope="module")
def image() -> str:
    if shutil.which("buildah") is None:
        pytest.fail("buildah is missing: make image-tools installs it", pytrace=False)
    began = time.monotonic()
    out = subprocess.run(
        [str(ROOT / "tools" / "image.sh"), "build", IMAGE], capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-5000:]
    print(f"image {IMAGE} built in {time.monotonic() - began:.1f} s")
    return IMAGE


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    # The container's user must reach its volumes under here.
    tmp_path.chmod(0o755)
    return tmp_path


def _wait(what: str, check: Any, container: PodContainer, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert container.proc is not None
        if container.proc.poll() is not None:
            pytest.fail(f"the container exited ({container.proc.returncode}) before {what}:\n"
                        f"{container.log()[-4000:]}")  # fmt: skip
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout} s:\n{container.log()[-4000:]}")
        time.sleep(0.5)


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


def test_image_metadata(image: str) -> None:
    config = image_config(image)
    assert config["User"] == f"{UID}:{UID}"
    assert "10308/tcp" in config["ExposedPorts"]
    assert config["StopSignal"] == "SIGTERM"
    assert config["Entrypoint"] == ["/opt/venv/bin/kafka-watchdog"]  # exec form: no shell
    assert config["Cmd"] == ["run", "--config", "/etc/kafka-watchdog/config.yaml"]
    assert config["Healthcheck"]["Test"][:2] == ["CMD", "/opt/venv/bin/python"]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == __version__
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert "org.opencontainers.image.source" in labels


def test_the_final_image_has_no_compiler(image: str) -> None:
    ctr = subprocess.run(["buildah", "from", "--pull-never", image], capture_output=True,
                         text=True, check=True).stdout.strip()  # fmt: skip
    try:
        root = Path(subprocess.run(["buildah", "mount", ctr], capture_output=True, text=True,
                                   check=True).stdout.strip())  # fmt: skip
        tools = ("cc", "gcc", "c++", "g++", "clang", "ld", "as", "make", "pip", "pip3")
        found = [
            str(d / t)
            for d in (root / "usr/bin", root / "usr/local/bin", root / "opt/venv/bin")
            for t in tools
            if (d / t).exists() or any(d.glob(f"{t}-[0-9]*"))
        ]
        assert not found
        assert (root / "opt/venv/bin/kafka-watchdog").exists()
    finally:
        subprocess.run(["buildah", "umount", ctr], capture_output=True, check=False)
        subprocess.run(["buildah", "rm", ctr], capture_output=True, check=False)


def _chart_pod(
    kraft: KraftCluster, port: int, workdir: Path
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The chart's pod for a deployment that takes its credentials from an existing Secret."""
    values = {
        "image": {"repository": IMAGE.rsplit(":", 1)[0], "tag": IMAGE.rsplit(":", 1)[1]},
        "port": port,
        "existingSecret": "kw-credentials",
        "secretEnv": {
            "KAFKA_WATCHDOG__ALERTING__RECEIVERS__CHAT__APPRISE": "apprise-urls",
        },
        "config": {
            "clusters": [{"name": "kraft", "bootstrap_servers": kraft.bootstrap_servers}],
            "collection": {"metadata_interval": "2s", "offsets_interval": "2s"},
            "alerting": {
                "receivers": [
                    {
                        "name": "oncall",
                        "pagerduty": {
                            "routing_key_file": "/etc/kafka-watchdog/secrets/pagerduty-key",
                            "api_base": "http://127.0.0.1:9",
                        },
                    },
                    {"name": "chat"},
                ]
            },
        },
    }
    file = workdir / "values.yaml"
    file.write_text(yaml.safe_dump(values))
    docs = render(CHART, [file], release="kw")
    return docs, workload(docs)["spec"]["template"]["spec"]


SECRET = {
    "pagerduty-key": "pd-routing-key-not-real\n",
    "apprise-urls": "[json://127.0.0.1:9/hook]",
}


def test_the_charts_pod_runs_the_image_against_a_cluster(
    image: str, kraft_cluster: KraftCluster, workdir: Path
) -> None:
    port = free_port()
    docs, pod = _chart_pod(kraft_cluster, port, workdir)
    configmap = one(docs, "ConfigMap")
    data = {configmap["metadata"]["name"]: configmap["data"], "kw-credentials": SECRET}
    spec = pod["containers"][0]
    listen = {"KAFKA_WATCHDOG__SERVER__LISTEN": f"127.0.0.1:{port}"}
    with PodContainer(image, pod, "kafka-watchdog", workdir, data=data, env=listen) as container:
        _wait("startup probe success", lambda: probe(spec, "startupProbe")[0] == 200, container)
        _wait("readiness (/readyz 200)", lambda: probe(spec, "readinessProbe")[0] == 200, container)
        assert probe(spec, "livenessProbe")[0] == 200
        status, metrics = http_get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        assert re.search(r'^kafka_watchdog_up\{kafka_cluster="kraft"\} 1(\.0)?$', metrics, re.M)

        # The pod's user, no capabilities, no privilege escalation; the daemon is PID 1.
        pid = container.main_pid()
        fields = _status(pid)
        assert fields["Uid"].split()[:2] == [str(UID), str(UID)]
        assert fields["Gid"].split()[:2] == [str(UID), str(UID)]
        assert fields["CapEff"] == fields["CapPrm"] == "0000000000000000"
        assert fields["NoNewPrivs"] == "1"
        assert fields["NSpid"].split()[-1] == "1"

        # Alert state went to the state volume, the only writable place besides /tmp.
        assert (container.volume("watchdog-state") / "alerting.sqlite").exists()

        # The image's HEALTHCHECK, run inside the image as a runtime would, answers for a
        # live daemon and fails for a dead port; the root filesystem refuses writes.
        check = image_config(image)["Healthcheck"]["Test"][1:]
        assert (
            _exec(
                image,
                pod,
                workdir,
                data,
                check,
                {"KAFKA_WATCHDOG_HEALTHCHECK_URL": f"http://127.0.0.1:{port}/healthz"},
            )
            == 0
        )
        assert (
            _exec(
                image,
                pod,
                workdir,
                data,
                check,
                {"KAFKA_WATCHDOG_HEALTHCHECK_URL": f"http://127.0.0.1:{free_port()}/healthz"},
            )
            != 0
        )
        write = ["/opt/venv/bin/python", "-c", "open('/opt/venv/probe', 'w')"]
        assert _exec(image, pod, workdir, data, write) != 0

        # SIGTERM (the image's STOPSIGNAL) to PID 1: a clean stop, not a kill.
        assert container.stop(timeout=60) == 0
    log = container.log()
    assert "Traceback" not in log, log[-4000:]
    assert "pd-routing-key-not-real" not in log and "127.0.0.1:9/hook" not in log


def _exec(
    image: str,
    pod: dict[str, Any],
    workdir: Path,
    data: dict[str, Any],
    argv: list[str],
    env: dict[str, str] | None = None,
) -> int:
    """Run argv in a second container of the same pod (same user, mounts, read-only root)."""
    spec = {**pod["containers"][0], "command": argv, "args": []}
    here = workdir / f"exec-{time.monotonic_ns()}"
    here.mkdir()
    with PodContainer(image, {**pod, "containers": [spec]}, spec["name"], here, data=data,
                      env=env) as container:  # fmt: skip
        assert container.proc is not None
        try:
            return container.proc.wait(60)
        finally:
            print(container.log()[-2000:])


def test_the_sidecar_example_runs_beside_its_broker(
    image: str, kraft_cluster: KraftCluster, workdir: Path
) -> None:
    """examples/kubernetes/sidecar.yaml's watchdog container, its config from the chart in
    sidecar mode, reaching "its" broker on localhost (the pod shares the network namespace)."""
    port = free_port()
    broker = kraft_cluster.bootstrap_servers.split(",")[0].rsplit(":", 1)[1]
    docs = render(
        CHART,
        [SIDECAR_VALUES],
        [f"config.clusters[0].bootstrap_servers=localhost:{broker}"],
        release="kafka-watchdog",
    )
    configmap = one(docs, "ConfigMap")
    (example,) = load_yaml_docs(SIDECAR_EXAMPLE)
    pod = example["spec"]["template"]["spec"]
    (spec,) = [c for c in pod["containers"] if c["name"] == "kafka-watchdog"]
    spec["image"] = image
    for item in spec["ports"]:
        item["containerPort"] = port  # the probes go to the port it listens on here
    data = {configmap["metadata"]["name"]: configmap["data"]}
    listen = {"KAFKA_WATCHDOG__SERVER__LISTEN": f"127.0.0.1:{port}"}
    with PodContainer(image, pod, "kafka-watchdog", workdir, data=data, env=listen) as container:
        _wait("startup probe success", lambda: probe(spec, "startupProbe")[0] == 200, container)
        _wait("/readyz 200", lambda: http_get(f"http://127.0.0.1:{port}/readyz")[0] == 200,
              container)  # fmt: skip
        status, body = http_get(f"http://127.0.0.1:{port}/api/clusters")
        assert status == 200
        (cluster,) = json.loads(body)
        assert cluster["name"] == "dev"
        assert container.stop(timeout=60) == 0
