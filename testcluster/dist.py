"""Kafka distributions assembled from Maven Central jars, cached outside the repository.

There is no tarball mirror here, only Maven Central, so a distribution is the runtime
classpath of `kafka_2.13` + `kafka-tools` (+ logging) copied by Maven into
`<cache>/kafka-<version>/lib`. Maven gets its own local repository inside the cache so that
deleting the cache really measures a cold start and nothing leaks into ~/.m2.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from testcluster.process import with_death_signal

# Pinned so the generated pom resolves the same way on every machine.
DEPENDENCY_PLUGIN_VERSION = "3.8.1"
SCALA = "2.13"


@dataclass(frozen=True)
class Artifact:
    group: str
    name: str
    version: str


@dataclass(frozen=True)
class Flavour:
    """One kind of cluster and the Kafka versions that can serve it, best first."""

    name: str
    versions: tuple[str, ...]

    def artifacts(self, version: str) -> tuple[Artifact, ...]:
        kafka = (
            Artifact("org.apache.kafka", f"kafka_{SCALA}", version),
            # kafka-tools carries every CLI class (TopicCommand, ConsumerGroupCommand, ...).
            Artifact("org.apache.kafka", "kafka-tools", version),
        )
        log4j2 = LOG4J2_FOR.get(version)
        if log4j2 is None:
            # Kafka 3.x: kafka-tools already brings slf4j-reload4j, the binding 3.x ships.
            return kafka
        # Kafka 4.x still compiles against slf4j-api 1.7.36, so the slf4j 1.x binding
        # (log4j-slf4j-impl) is the one that works; log4j-slf4j2-impl binds nothing and
        # the broker would log via NOP. Same log4j2 version as kafka-server's own log4j-core.
        return (
            *kafka,
            Artifact("org.apache.logging.log4j", "log4j-api", log4j2),
            Artifact("org.apache.logging.log4j", "log4j-core", log4j2),
            Artifact("org.apache.logging.log4j", "log4j-slf4j-impl", log4j2),
        )


# The log4j2 version each 4.x release depends on (kafka-server's runtime log4j-core).
LOG4J2_FOR = {"4.4.0": "2.25.5"}

ZOOKEEPER_MODE = Flavour("zookeeper", ("3.9.2", "3.9.1"))
KRAFT_MODE = Flavour("kraft", ("4.4.0",))
FLAVOURS = (ZOOKEEPER_MODE, KRAFT_MODE)

MARKER = ".complete"


class DistError(RuntimeError):
    """The distribution could not be assembled (no network, version not served, ...)."""


@dataclass(frozen=True)
class KafkaDist:
    version: str
    home: Path

    @property
    def lib(self) -> Path:
        return self.home / "lib"

    @property
    def classpath(self) -> str:
        # A wildcard keeps the java command line short; the JVM expands it itself.
        return str(self.lib / "*")

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    def fetched_by_this_process(self) -> bool:
        try:
            marker = json.loads((self.home / MARKER).read_text())
        except (OSError, ValueError):
            return False
        return bool(marker.get("fetched_by_pid") == os.getpid())

    @property
    def jars(self) -> list[str]:
        return sorted(p.name for p in self.lib.glob("*.jar"))


def cache_root() -> Path:
    configured = os.environ.get("KAFKA_WATCHDOG_CACHE")
    if configured:
        return Path(configured).expanduser().resolve()
    return Path.home() / ".cache" / "kafka-watchdog"


def installed(flavour: Flavour, cache: Path | None = None) -> KafkaDist | None:
    """The best already-complete distribution of `flavour`, without touching the network."""
    root = cache or cache_root()
    for version in flavour.versions:
        home = root / f"kafka-{version}"
        if (home / MARKER).is_file():
            return KafkaDist(version, home)
    return None


def fetch(flavour: Flavour, cache: Path | None = None, *, verbose: bool = False) -> KafkaDist:
    """Return a complete distribution of `flavour`, downloading it on first use.

    The second call finds the marker and returns at once: no Maven, no network.
    """
    root = cache or cache_root()
    found = installed(flavour, root)
    if found is not None:
        return found
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / ".fetch.lock"):
        # Another process may have finished the same fetch while we waited for the lock.
        found = installed(flavour, root)
        if found is not None:
            return found
        # Staging directories of a fetch that was killed; nobody else assembles while we
        # hold the lock, so none of them is in use.
        for stale in root.glob(".kafka-*"):
            shutil.rmtree(stale, ignore_errors=True)
        failures: list[str] = []
        for version in flavour.versions:
            try:
                return _assemble(root, flavour, version, verbose=verbose)
            except DistError as exc:
                failures.append(f"kafka {version}: {exc}")
        raise DistError(
            f"could not fetch any of Kafka {', '.join(flavour.versions)} ({flavour.name} mode) "
            f"from Maven Central into {root}:\n" + "\n".join(failures)
        )


def zookeeper_dist(cache: Path | None = None) -> KafkaDist:
    return fetch(ZOOKEEPER_MODE, cache)


def kraft_dist(cache: Path | None = None) -> KafkaDist:
    return fetch(KRAFT_MODE, cache)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _assemble(root: Path, flavour: Flavour, version: str, *, verbose: bool) -> KafkaDist:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise DistError("Maven (mvn) is not on PATH; install it (apt-get install maven)")
    home = root / f"kafka-{version}"
    # A directory without the marker is the remains of an interrupted fetch.
    shutil.rmtree(home, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".kafka-{version}-", dir=root))
    try:
        pom = staging / "pom.xml"
        pom.write_text(_pom(flavour.artifacts(version)))
        command = [
            mvn,
            "-B",
            *([] if verbose else ["-q"]),
            "-f",
            str(pom),
            f"-Dmaven.repo.local={root / 'm2'}",
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={staging / 'lib'}",
        ]
        started = time.monotonic()
        # With a parent-death signal: a killed fetch must not leave Maven writing into the
        # cache after the lock is gone.
        result = subprocess.run(
            with_death_signal(command), capture_output=not verbose, text=True, check=False
        )
        if result.returncode != 0:
            output = (result.stdout or "") + (result.stderr or "")
            tail = "\n".join(output.strip().splitlines()[-15:])
            raise DistError(f"mvn exited {result.returncode}:\n{tail}")
        jars = sorted(p.name for p in (staging / "lib").glob("*.jar"))
        if not any(j.startswith(f"kafka_{SCALA}-") for j in jars):
            raise DistError(f"mvn succeeded but no kafka_{SCALA} jar in {staging / 'lib'}")
        pom.unlink()
        # Marker last: a crash anywhere before leaves no marker, so the next run refetches.
        staging.rename(home)
        (home / MARKER).write_text(
            json.dumps(
                {
                    "flavour": flavour.name,
                    "version": version,
                    "seconds": round(time.monotonic() - started, 1),
                    "fetched_by_pid": os.getpid(),
                    "jars": jars,
                },
                indent=1,
            )
        )
        return KafkaDist(version, home)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _pom(artifacts: tuple[Artifact, ...]) -> str:
    deps = "\n".join(
        "    <dependency>"
        f"<groupId>{a.group}</groupId><artifactId>{a.name}</artifactId>"
        f"<version>{a.version}</version>"
        "</dependency>"
        for a in artifacts
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kafka-watchdog</groupId>
  <artifactId>testcluster-dist</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
{deps}
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>{DEPENDENCY_PLUGIN_VERSION}</version>
      </plugin>
    </plugins>
  </build>
</project>
"""
