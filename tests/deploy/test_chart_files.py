"""tools/chart-files.sh: the chart's copies of alerts/*.rules.yml and dashboards/*.json."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.deploy.chart import ROOT


def _run(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(repo / "tools" / "chart-files.sh"), *args], capture_output=True, text=True, check=False
    )


def test_the_committed_copies_are_current() -> None:
    out = _run(ROOT, "--check")
    assert out.returncode == 0, out.stderr


def test_copies_mirror_the_sources_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "tools").mkdir()
    shutil.copy(ROOT / "tools" / "chart-files.sh", tmp_path / "tools")
    files = tmp_path / "helm" / "kafka-watchdog" / "files"
    assert _run(tmp_path).returncode == 0  # no alerts/ or dashboards/ yet: nothing to copy
    assert not list(files.rglob("*.*"))

    (tmp_path / "alerts").mkdir()
    (tmp_path / "alerts" / "kafka.rules.yml").write_text("groups: []\n")
    (tmp_path / "alerts" / "notes.md").write_text("not a rule file\n")
    (tmp_path / "dashboards").mkdir()
    (tmp_path / "dashboards" / "overview.json").write_text("{}\n")
    (files / "dashboards" / "removed.json").write_text("{}\n")  # its source is gone

    assert _run(tmp_path, "--check").returncode == 1
    assert _run(tmp_path).returncode == 0
    copied = sorted(str(p.relative_to(files)) for p in files.rglob("*.*"))
    assert copied == ["alerts/kafka.rules.yml", "dashboards/overview.json"]
    before = {p: p.stat().st_mtime_ns for p in files.rglob("*.*")}
    assert _run(tmp_path).returncode == 0
    assert {p: p.stat().st_mtime_ns for p in files.rglob("*.*")} == before
    assert _run(tmp_path, "--check").returncode == 0

    (tmp_path / "alerts" / "kafka.rules.yml").write_text("groups: [{name: x, rules: []}]\n")
    out = _run(tmp_path, "--check")
    assert out.returncode == 1 and "kafka.rules.yml" in out.stderr
