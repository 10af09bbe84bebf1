"""The folder is watchdog/ but the import name is kafka_watchdog (pyproject's package-dir):
every subpackage must be listed there, or an installed wheel silently lacks it."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_subpackage_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {"kafka_watchdog": "watchdog"}
    on_disk = {
        ".".join(("kafka_watchdog", *init.parent.relative_to(ROOT / "watchdog").parts))
        for init in (ROOT / "watchdog").rglob("__init__.py")
    }
    folders = {
        ".".join(("kafka_watchdog", *d.relative_to(ROOT / "watchdog").parts))
        for d in (ROOT / "watchdog").rglob("*")
        if d.is_dir() and d.name != "__pycache__" and any(d.glob("*.py"))
    }
    assert folders <= on_disk, f"folders without __init__.py: {sorted(folders - on_disk)}"
    # Folders of data files only (the status page's templates) are importable namespaces to
    # setuptools, which warns at every install unless they are listed too.
    data_only = {
        ".".join(("kafka_watchdog", *d.relative_to(ROOT / "watchdog").parts))
        for d in (ROOT / "watchdog").rglob("*")
        if d.is_dir() and d.name != "__pycache__" and not any(d.glob("*.py"))
    }
    assert set(config["packages"]) == on_disk | data_only | {"kafka_watchdog"}


def test_the_import_name_is_kafka_watchdog() -> None:
    import kafka_watchdog.cli

    assert Path(kafka_watchdog.cli.__file__).resolve().parent == ROOT / "watchdog"
