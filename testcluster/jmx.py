"""The Prometheus JMX exporter javaagent on the harness's brokers (opt-in per cluster).

The agent jar comes from Maven Central into the same cache as the Kafka jars
(`<cache>/jmx_prometheus_javaagent-<version>/`), under the same lock and with the same
"marker written last" rule, so a second run starts no Maven at all. Brokers load it as
`-javaagent:JAR=127.0.0.1:PORT:CONFIG`, with the project's own exporter config
(`alerts/jmx-exporter/kafka-broker.yml`) unless a test gives another.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from testcluster.dist import DEPENDENCY_PLUGIN_VERSION, MARKER, DistError, _locked, cache_root
from testcluster.process import with_death_signal

# 1.0.1 is the newest agent on Maven Central (later releases are not published there).
AGENT_VERSION = "1.0.1"
AGENT_ARTIFACT = f"io.prometheus.jmx:jmx_prometheus_javaagent:{AGENT_VERSION}"
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO_ROOT / "alerts" / "jmx-exporter" / "kafka-broker.yml"


@dataclass(frozen=True)
class JmxExporter:
    """What a broker needs to load the agent: the jar and the exporter config."""

    jar: Path
    config: Path = DEFAULT_CONFIG

    def javaagent_flag(self, port: int) -> str:
        # Bound to loopback only, like every other listener of the harness.
        return f"-javaagent:{self.jar}=127.0.0.1:{port}:{self.config}"


def agent_jar(cache: Path | None = None) -> Path:
    """The agent jar, downloaded on first use; later calls touch no network."""
    root = cache or cache_root()
    home = root / f"jmx_prometheus_javaagent-{AGENT_VERSION}"
    jar = home / f"jmx_prometheus_javaagent-{AGENT_VERSION}.jar"
    if (home / MARKER).is_file():
        return jar
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / ".fetch.lock"):
        if (home / MARKER).is_file():  # fetched by another process while we waited
            return jar
        mvn = shutil.which("mvn")
        if mvn is None:
            raise DistError("Maven (mvn) is not on PATH; install it (apt-get install maven)")
        shutil.rmtree(home, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=".jmx-agent-", dir=root))
        try:
            command = [
                mvn,
                "-B",
                "-q",
                f"-Dmaven.repo.local={root / 'm2'}",
                f"org.apache.maven.plugins:maven-dependency-plugin:{DEPENDENCY_PLUGIN_VERSION}:copy",
                f"-Dartifact={AGENT_ARTIFACT}",
                f"-DoutputDirectory={staging}",
            ]
            began = time.monotonic()
            result = subprocess.run(
                with_death_signal(command), capture_output=True, text=True, check=False
            )
            if result.returncode != 0 or not (staging / jar.name).is_file():
                tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
                raise DistError(
                    f"could not fetch {AGENT_ARTIFACT} from Maven Central into {root} "
                    f"(mvn exited {result.returncode}):\n{tail}"
                )
            staging.rename(home)
            # Marker last: a crash before this leaves no marker, so the next run refetches.
            (home / MARKER).write_text(f"{AGENT_ARTIFACT} in {time.monotonic() - began:.1f}s\n")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return jar
