"""The benchmarks' one percentile (bench/stats.py): docs/performance.md quotes its p95s."""

from __future__ import annotations

import pytest

from bench.stats import nearest_rank


def test_p95_is_a_measured_value_at_or_above_95_percent_of_them() -> None:
    assert nearest_rank(range(1, 101), 0.95) == 95
    assert nearest_rank(range(1, 19), 0.95) == 18  # 18 scrapes: p95 is the largest
    assert nearest_rank([3.0, 1.0, 2.0], 0.5) == 2.0  # unsorted input is fine
    assert nearest_rank([7.0], 0.95) == 7.0


def test_no_values_is_an_error_not_a_zero() -> None:
    with pytest.raises(ValueError, match="no values"):
        nearest_rank([], 0.95)
