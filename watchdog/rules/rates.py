"""Event-rate rules: too many changes of one kind within a window."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from kafka_watchdog.model.events import CONTROLLER_ELECTED, ISR_LEFT, EventKind
from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.rules.finding import Finding
from kafka_watchdog.rules.spec import Concern, Evaluate, PromQL, RuleSpec, Settings


def grown_within(counter: str, window: str) -> str:
    """PromQL: how much `counter` grew between its first and last sample within `window`.
    Not increase(), which extrapolates to the window's ends (3 changes read as 3.3, over a
    threshold of 3), and not the difference to the reading a window ago, which counts a
    counter first scraped (a new Prometheus, a watchdog up for days) as all new. A window
    holding a counter reset (the watchdog restarted) counts nothing: never too much."""
    return (
        f"(max_over_time({counter}[{window}]) - min_over_time({counter}[{window}]))"
        f" unless resets({counter}[{window}]) > 0"
    )


def over_rate(kinds: tuple[EventKind, ...], window: float, what: str) -> Evaluate:
    """More than `threshold` events of `kinds` within `window` seconds: fires while the rate
    is over the threshold, and keeps firing `keep_firing_for` after."""

    def evaluate(rule: Settings, state: ClusterState, now: float) -> Iterator[Finding]:
        seen = [
            e
            for e in state.events
            if e.kind in kinds and now - e.observed_at <= window + rule.keep_firing_for
        ]
        threshold = rule.threshold or 0
        for end in sorted({e.observed_at for e in seen}, reverse=True):
            inside = [e for e in seen if end - window < e.observed_at <= end]
            if len(inside) > threshold and now - end <= rule.keep_firing_for:
                brokers = Counter(e.broker for e in inside if e.broker is not None)
                by = f"; most by broker {brokers.most_common(1)[0][0]}" if brokers else ""
                yield rule.finding(
                    state,
                    f"{len(inside)} {what} within {window / 60:.0f} minutes{by}",
                    len(inside),
                )
                return

    return evaluate


RULES = (
    RuleSpec(
        "controller_flapping",
        "warning",
        "The controller was elected more than `threshold` times in 10 minutes (moved to "
        "another node or re-elected on the same one).",
        (),
        over_rate(CONTROLLER_ELECTED, 600.0, "controller elections"),
        threshold=3,
        keep_firing_for=600,
        prometheus=PromQL(
            Concern.CONTROLLER,
            "max by (kafka_cluster) ("
            + grown_within("kafka_watchdog_controller_changes_total", "10m")
            + ") > $threshold",
            "The controller of Kafka cluster {{ $labels.kafka_cluster }} keeps changing",
            'The active controller changed {{ $value | printf "%.0f" }} times in 10 '
            "minutes (more than $threshold): controllers lose their ZooKeeper session or "
            "quorum leadership over and over (GC pauses, network), and every change delays "
            "leader elections.",
            keep_firing=True,
        ),
    ),
    RuleSpec(
        "isr_shrink_rate",
        "warning",
        "More than `threshold` ISR shrinks in 5 minutes (an ISR replaced in one change, a "
        "replica out and another in, counts as one).",
        (),
        over_rate(ISR_LEFT, 300.0, "ISR shrinks"),
        threshold=50,
        keep_firing_for=300,
        prometheus=PromQL(
            Concern.REPLICATION,
            # Per topic first, so that HA replicas counting the same shrinks count once.
            "sum by (kafka_cluster) (max by (kafka_cluster, topic) ("
            + grown_within("kafka_watchdog_isr_shrinks_total", "5m")
            + ")) > $threshold",
            "ISRs keep shrinking in Kafka cluster {{ $labels.kafka_cluster }}",
            '{{ $value | printf "%.0f" }} ISR shrinks in 5 minutes (more than $threshold): '
            "followers fall out of sync over and over (a slow or overloaded broker, GC "
            "pauses, network). kafka_watchdog_isr_shrinks_total shows the topics.",
            keep_firing=True,
        ),
    ),
)
