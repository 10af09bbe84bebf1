"""The registry: every built-in rule, in the order the docs list them.

To add a rule, declare its RuleSpec next to its evaluation in the module of its kind (or a
new module, listed below); the config, the docs and the alerting pick it up from here.
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
    rates,
    sight,
    topics,
)
from kafka_watchdog.rules.spec import RuleSpec

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
