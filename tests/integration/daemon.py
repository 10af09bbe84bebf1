"""Runs the real `kafka-watchdog` command as a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from testcluster.ports import free_ports


def free_port() -> int:
    # Reserved machine-wide: a pytest-xdist worker beside this one binds ports too.
    (port,) = free_ports(1)
    return port


class Daemon:
    def __init__(
        self,
        workdir: Path,
        config: dict[str, Any],
        *extra: str,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        config.setdefault("server", {})["listen"] = f"127.0.0.1:{self.port}"
        self.config_path = workdir / "watchdog.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.log_path = workdir / "watchdog.log"
        self.extra = extra
        self.env = env or {}  # added to the environment (a benchmark's PYTHONPATH)
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Daemon:
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kafka_watchdog",
                "run",
                "--config",
                str(self.config_path),
                *self.extra,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
        )
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text()

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def clusters(self) -> dict[str, dict[str, Any]]:
        _, body = self.get("/api/clusters")
        return {c["name"]: c for c in json.loads(body)}

    def wait(self, predicate: Callable[[], bool], what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"watchdog exited ({self.proc.returncode}):\n{self.log()}")
            try:
                if predicate():
                    return
            except (OSError, ValueError, KeyError):
                pass  # not serving yet
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}\nlog:\n{self.log()}")

    def terminate(self, timeout: float = 20) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)
