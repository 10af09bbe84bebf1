"""The registry: every built-in rule, in the order the docs list them.

To add a rule, declare its RuleSpec next to its evaluation in the module of its kind (or a
new module, listed below); the config, the docs, the alerting and the Prometheus rule file
(alerts/kafka-watchdog.rules.yml, from each rule's `prometheus=`) pick it up from here.
PROMETHEUS_ONLY holds the alerts the rule file has and the daemon does not evaluate.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from kafka_watchdog.rules import (
    cluster,
    consumers,
    data_loss,
    disks,
    foresight,
    partitions,
    prometheus_only,
    rates,
    sight,
    topics,
)
from kafka_watchdog.rules.spec import PrometheusOnly, RuleSpec

RULES: tuple[RuleSpec, ...] = (
    *partitions.RULES,
    *data_loss.RULES,
    *cluster.RULES,
    *disks.RULES,
    *rates.RULES,
    *consumers.RULES,
    *foresight.RULES,
    *topics.RULES,
    *sight.RULES,
)

BY_NAME: Mapping[str, RuleSpec] = MappingProxyType({r.name: r for r in RULES})

PROMETHEUS_ONLY: tuple[PrometheusOnly, ...] = prometheus_only.PROMETHEUS_ONLY

_names = [r.name for r in RULES] + [a.name for a in PROMETHEUS_ONLY]
_twice = sorted({n for n in _names if _names.count(n) > 1})
if _twice:  # one alert name, one meaning, in the daemon and in the rule file
    raise ValueError(f"rule names declared twice: {', '.join(_twice)}")
