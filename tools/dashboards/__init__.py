"""The Grafana dashboards, one module each; `DASHBOARDS` maps the file name (dashboards/NAME.json)
to the function that builds it."""

from __future__ import annotations

from collections.abc import Callable

from tools.dashboards import brokers, consumer_lag, overview, topics, watchdog
from tools.dashboards.common import Board

DASHBOARDS: dict[str, Callable[[], Board]] = {
    "kafka-overview": overview.build,
    "kafka-topics": topics.build,
    "kafka-consumer-lag": consumer_lag.build,
    "kafka-brokers": brokers.build,
    "kafka-watchdog": watchdog.build,
}
