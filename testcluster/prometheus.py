"""A real Prometheus (Debian's `prometheus`) for the tests: loopback, a free port, a generated
config that scrapes the given targets and loads the given rule files, torn down afterwards.

    with PrometheusServer(tmp_path, [ScrapeJob("brokers", {"127.0.0.1:7071": {...}})],
                          rule_files=[Path("alerts/kafka-broker.rules.yml")]) as prom:
        prom.query('up{job="brokers"}')

The process runs in its own session, with a parent-death signal when started from the main
thread and an atexit kill, like the harness's JVMs, so a crashed test leaves none behind.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import yaml

from testcluster.ports import free_ports
from testcluster.process import tail, with_death_signal

_live: set[subprocess.Popen[bytes]] = set()


@atexit.register
def _kill_leftovers() -> None:
    for proc in list(_live):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


class PrometheusError(RuntimeError):
    pass


class QueryError(PrometheusError):
    """Prometheus refused a query (a parse error is HTTP 400 `bad_data`)."""

    def __init__(self, expr: str, status: int, error_type: str, error: str) -> None:
        super().__init__(f"{error_type} ({status}): {error} in {expr!r}")
        self.expr = expr
        self.status = status
        self.error_type = error_type
        self.error = error


@dataclass(frozen=True)
class ScrapeJob:
    """One scrape job: target host:port -> the extra labels Prometheus gives its series."""

    name: str
    targets: Mapping[str, Mapping[str, str]]
    metrics_path: str = "/metrics"
    params: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def config(self, interval: str) -> dict[str, Any]:
        job: dict[str, Any] = {
            "job_name": self.name,
            "scrape_interval": interval,
            "scrape_timeout": interval,
            "metrics_path": self.metrics_path,
            "static_configs": [
                {"targets": [target], "labels": dict(labels)}
                for target, labels in sorted(self.targets.items())
            ],
        }
        if self.params:
            job["params"] = {k: list(v) for k, v in self.params.items()}
        return job


class PrometheusServer:
    def __init__(
        self,
        workdir: Path,
        jobs: Sequence[ScrapeJob],
        rule_files: Sequence[Path] = (),
        *,
        scrape_interval: str = "1s",
        evaluation_interval: str = "1s",
    ) -> None:
        self.workdir = Path(workdir) / "prometheus"
        self.jobs = list(jobs)
        self.rule_files = [Path(p).resolve() for p in rule_files]
        self.scrape_interval = scrape_interval
        self.evaluation_interval = evaluation_interval
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "prometheus.log"

    def config(self) -> dict[str, Any]:
        return {
            "global": {
                "scrape_interval": self.scrape_interval,
                "evaluation_interval": self.evaluation_interval,
            },
            "rule_files": [str(p) for p in self.rule_files],
            "scrape_configs": [job.config(self.scrape_interval) for job in self.jobs],
        }

    def start(self, timeout: float = 60.0) -> Self:
        binary = shutil.which("prometheus")
        if binary is None:
            raise PrometheusError("prometheus is not on PATH: run `make promtool` (Debian package)")
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir.mkdir(parents=True)
        config = self.workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        (self.port,) = free_ports(1)
        command = [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--storage.tsdb.retention.time=1d",
            "--log.level=warn",
        ]
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                with_death_signal(command),
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _live.add(self._proc)
        try:
            self.wait_for(self._ready, timeout, "Prometheus to be ready")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        _live.discard(proc)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def log_tail(self, lines: int = 30) -> str:
        return tail(self.log_path, lines)

    # ---- the HTTP API ------------------------------------------------------------------

    def _check_alive(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            code = None if self._proc is None else self._proc.returncode
            raise PrometheusError(f"prometheus is not running ({code}):\n{self.log_tail()}")

    def _ready(self) -> bool:
        self._check_alive()
        try:
            with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    def api(self, path: str, params: Mapping[str, str | Sequence[str]] | None = None) -> Any:
        """GET /api/v1/<path>; the `data` of a success, QueryError on an error answer."""
        self._check_alive()
        query = urllib.parse.urlencode(params or {}, doseq=True)
        request = urllib.request.Request(f"{self.url}/api/v1/{path}?{query}")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                body = json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read() or b"{}")
            raise QueryError(
                str((params or {}).get("query", path)),
                exc.code,
                body.get("errorType", ""),
                body.get("error", ""),
            ) from None
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query at the current time: the result vector (or matrix, scalar)."""
        data = self.api("query", {"query": expr})
        result = data["result"]
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": result}]
        return list(result)

    def label_values(self, label: str, match: str) -> list[str]:
        values: list[str] = self.api(f"label/{label}/values", {"match[]": match})
        return values

    def targets(self) -> list[dict[str, Any]]:
        active: list[dict[str, Any]] = self.api("targets")["activeTargets"]
        return active

    def alerts(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.api("alerts")["alerts"]
        return found

    def rules(self) -> list[dict[str, Any]]:
        groups = self.api("rules")["groups"]
        return [rule for group in groups for rule in group["rules"]]

    def wait_for(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                value = predicate()
            except QueryError as exc:
                last = str(exc)
                value = None
            if value:
                return value
            time.sleep(0.5)
        raise PrometheusError(f"timed out after {timeout:.0f}s waiting for {what} {last}")
