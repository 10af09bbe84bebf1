"""Peak resident memory of the cluster JVMs, sampled in the background while tests run."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import psutil

MIB = 1024 * 1024


@dataclass
class RssPeaks:
    per_process: dict[str, int] = field(default_factory=dict)
    total: int = 0
    samples: int = 0

    def format(self) -> str:
        lines = [
            f"peak RSS of all cluster JVMs together: {self.total / MIB:.0f} MiB "
            f"({self.samples} samples)"
        ]
        lines += [
            f"  {name}: {rss / MIB:.0f} MiB" for name, rss in sorted(self.per_process.items())
        ]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        return {
            "total_mib": round(self.total / MIB),
            "samples": self.samples,
            "per_process_mib": {k: round(v / MIB) for k, v in sorted(self.per_process.items())},
        }


class RssSampler:
    """Every `interval` seconds, reads the RSS of the pids `source()` names (name -> pid)."""

    def __init__(self, source: Callable[[], dict[str, int]], interval: float = 1.0) -> None:
        self.source = source
        self.interval = interval
        self.peaks = RssPeaks()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> RssPeaks:
        self._stop.set()
        self._thread.join(5)
        return self.peaks

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def sample(self) -> None:
        total = 0
        for name, pid in self.source().items():
            try:
                rss = int(psutil.Process(pid).memory_info().rss)
            except psutil.Error:
                continue
            total += rss
            self.peaks.per_process[name] = max(self.peaks.per_process.get(name, 0), rss)
        self.peaks.total = max(self.peaks.total, total)
        self.peaks.samples += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sample()
            except Exception:  # a cluster mid-restart must not kill the sampler
                continue
