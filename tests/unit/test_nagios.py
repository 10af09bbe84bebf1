"""`kafka-watchdog check`'s answer (sinks/nagios.py): exit code, summary line, perfdata, from
the real rule registry on published states."""

from __future__ import annotations

import re

import pytest

from kafka_watchdog.model.health import ClusterHealth
from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.sinks import nagios
from tests.unit.test_status_page import NOW, state

PERF = re.compile(r"^'[^'=|\s]+'=[0-9.]+(s)?;[0-9.]*;[0-9.]*;[0-9.]*(;[0-9.]*)?$")


def blind(name: str = "lost") -> ClusterState:
    return ClusterState(name, ClusterHealth(name), stale_after=60)


def split(line: str) -> tuple[str, list[str]]:
    text, _, perf = line.partition(" | ")
    return text, perf.split()


@pytest.mark.parametrize(
    ("only", "code", "status"),
    [
        ((), 2, "CRITICAL"),  # a broker gone, an offline partition, retention due
        (("consumer_lag_seconds", "consumer_stalled"), 1, "WARNING"),
        (("consumer_lag",), 0, "OK"),  # 500 behind, under the 100,000 default
    ],
)
def test_the_worst_finding_decides_and_the_line_says_it(
    only: tuple[str, ...], code: int, status: str
) -> None:
    result = nagios.judge(nagios.rules_for({}, {}, only), [state()], NOW)
    assert result.code == code
    text, perf = split(result.lines[0])
    assert text.startswith(f"KAFKA-WATCHDOG {status} - ")
    assert all(PERF.match(p) for p in perf), perf
    assert len(result.lines) - 1 == (
        0 if code == 0 else int(text.split()[3]) + int(text.split()[5])
    )


def test_thresholds_from_the_command_line_replace_the_rules_and_show_in_perfdata() -> None:
    rules = nagios.rules_for({}, {"consumer_lag": 100, "consumer_lag_seconds": None})
    assert rules["consumer_lag"].threshold == 100
    result = nagios.judge({"consumer_lag": rules["consumer_lag"]}, [state()], NOW)
    assert result.code == 1
    assert "'max_lag'=500;100;;0" in result.lines[0]
    assert set(nagios.rules_for({}, {}, skip=["consumer_lag"])) == set(rules) - {"consumer_lag"}


def test_a_cluster_without_a_view_is_never_ok() -> None:
    for only in ((), ("consumer_lag",)):
        result = nagios.judge(nagios.rules_for({}, {}, only), [blind()], NOW)
        assert result.code == nagios.UNKNOWN
        assert result.lines == ("KAFKA-WATCHDOG UNKNOWN - lost: no view | 'up'=0;;;0;1",)
    # Beside a cluster with criticals it stays CRITICAL, and the line names it.
    both = nagios.judge(nagios.rules_for({}, {}), [state(), blind("b|x")], NOW)
    assert both.code == nagios.CRITICAL
    text, perf = split(both.lines[0])
    assert "no view of b\N{BROKEN BAR}x" in text
    assert "'b\N{BROKEN BAR}x_up'=0;;;0;1" in perf and "'prod_up'=1;;;0;1" in perf


def test_names_cannot_break_the_line_or_start_perfdata() -> None:
    assert nagios.plain("g|1\nnext\r\x00") == "g\N{BROKEN BAR}1 next  "
    result = nagios.judge(nagios.rules_for({}, {}), [state()], NOW)
    for line in result.lines:
        assert "\n" not in line
    assert all("|" not in line for line in result.lines[1:])
    assert result.lines[0].count(" | ") == 1
