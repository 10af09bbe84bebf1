"""What the two rule file generators (broker_rules, watchdog_rules) share: the runbook base,
durations and YAML scalars.

The runbook links of every generated file, and the daemon's own by default, are built from
one constant, `kafka_watchdog.rules.spec.DEFAULT_RUNBOOK_BASE_URL`. To point the generated
files at your own copy of docs/runbooks (a wiki, a fork):

    make generate RUNBOOK_BASE_URL=https://wiki.example.com/kafka/runbooks

and set `alerting.runbook_base_url` in the daemon's config to the same base.
"""

from __future__ import annotations

import json
import os

from kafka_watchdog.rules.spec import DEFAULT_RUNBOOK_BASE_URL

ENV = "RUNBOOK_BASE_URL"


def runbook_base(explicit: str | None = None) -> str:
    """The base given, else $RUNBOOK_BASE_URL, else the project's default; no trailing /."""
    base = explicit or os.environ.get(ENV) or DEFAULT_RUNBOOK_BASE_URL
    if not base.startswith(("https://", "http://")) or any(c.isspace() for c in base):
        raise ValueError(f"{ENV}={base!r}: give an absolute http(s) URL without spaces")
    return base.rstrip("/")


def duration(seconds: float) -> str:
    """A Prometheus duration in the largest unit that divides it: 3600 -> 1h, 90 -> 90s."""
    whole = int(seconds)
    if whole != seconds or whole < 0:
        raise ValueError(f"{seconds} is not a whole, non-negative number of seconds")
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole and whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def quoted(text: str) -> str:
    """A YAML double-quoted scalar (JSON string syntax is valid YAML)."""
    return json.dumps(text)
