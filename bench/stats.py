"""The one percentile every benchmark reports, so their figures compare."""

from __future__ import annotations

import math
from collections.abc import Iterable


def nearest_rank(values: Iterable[float], q: float) -> float:
    """The q-quantile by the nearest-rank method (0 < q <= 1): the smallest value with at
    least q of the values at or below it, always one that was measured (with 18 samples,
    p95 is the largest). Raises ValueError for no values."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values to take a percentile of")
    return ordered[max(0, math.ceil(len(ordered) * q) - 1)]
