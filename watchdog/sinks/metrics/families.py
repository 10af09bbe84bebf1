"""Metric families built fresh for each scrape, created on first use."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

PREFIX = "kafka_watchdog_"
SCHEDULE_NOTE = " Collected on the watchdog's schedule, not at scrape time."


class Families:
    def __init__(self) -> None:
        self._families: dict[str, Metric] = {}

    def gauge(
        self, name: str, doc: str, labels: list[str], prefix: str = PREFIX, scheduled: bool = True
    ) -> GaugeMetricFamily:
        full = prefix + name
        family = self._families.get(full)
        if family is None:
            help_text = doc + SCHEDULE_NOTE if scheduled else doc
            family = self._families[full] = GaugeMetricFamily(full, help_text, labels=labels)
        assert isinstance(family, GaugeMetricFamily)
        return family

    def counter(
        self, name: str, doc: str, labels: list[str], prefix: str = PREFIX
    ) -> CounterMetricFamily:
        full = prefix + name
        family = self._families.get(full)
        if family is None:
            family = self._families[full] = CounterMetricFamily(
                full, doc + SCHEDULE_NOTE, labels=labels
            )
        assert isinstance(family, CounterMetricFamily)
        return family

    def __iter__(self) -> Iterator[Metric]:
        return iter(self._families.values())
