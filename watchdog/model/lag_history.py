"""Each group's total lag over the last hour, as published for the status page's sparklines."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LagSeries:
    """Fixed buckets of `step` seconds, the first starting at `start`; each holds the largest
    total lag (messages, every partition of the group) seen in it, None where no cycle ran."""

    start: float
    step: float
    values: tuple[int | None, ...]

    def points(self) -> list[tuple[float, int]]:
        """(bucket start, lag) of the buckets that hold a value."""
        return [(self.start + i * self.step, v) for i, v in enumerate(self.values) if v is not None]
