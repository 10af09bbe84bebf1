"""`kafka-watchdog check`'s answer: the built-in rules judged on one collection, as a
monitoring plugin (Nagios, Icinga, Sensu) reports it: an exit code, one summary line with
perfdata, then one line per finding. Pure: published states and time in, text out.

The rules are alerting's own (the registry, with the config's overrides), evaluated once:
a rule's `for` is not waited for (one look), so a finding is what would be pending now.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kafka_watchdog.alerting.evaluation import effective_rules, evaluate
from kafka_watchdog.config.alerting import RuleOverride
from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.rules.finding import SEVERITY_RANK, Finding
from kafka_watchdog.rules.spec import Settings

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATUS = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}
PREFIX = "KAFKA-WATCHDOG"


@dataclass(frozen=True, slots=True)
class Result:
    code: int
    lines: tuple[str, ...]  # the summary line with perfdata first, then one per finding


def unknown(why: str) -> Result:
    return Result(UNKNOWN, (f"{PREFIX} UNKNOWN - {why}",))


def rules_for(
    overrides: Mapping[str, RuleOverride],
    thresholds: Mapping[str, float | None],
    only: Sequence[str] = (),
    skip: Sequence[str] = (),
) -> dict[str, Settings]:
    """The registry with the config's overrides, then the command line's thresholds (None:
    keep), narrowed to `only` and without `skip`."""
    rules = effective_rules(overrides)
    for name, value in thresholds.items():
        if value is not None:
            rules[name] = dataclasses.replace(rules[name], threshold=value)
    return {
        name: rule
        for name, rule in rules.items()
        if (not only or name in only) and name not in skip
    }


def judge(rules: Mapping[str, Settings], states: Sequence[ClusterState], now: float) -> Result:
    found, _ = evaluate(rules, states, now)
    code = code_of(found)
    if code != CRITICAL and any(s.snapshot is None for s in states):
        # A cluster without a view was not judged: whatever else was found, this is not OK
        # (the rules that would say so may be narrowed away with --only/--skip).
        code = UNKNOWN
    ordered = sorted(found, key=lambda f: (SEVERITY_RANK.get(f.severity, 9), f.rule))
    return Result(
        code,
        (
            summary(code, found, states, rules),
            *(plain(f"{f.severity.upper()} {f.rule}: {f.summary}") for f in ordered),
        ),
    )


def plain(text: str) -> str:
    """A line a monitoring plugin's reader can split: `|` starts perfdata there (group names
    may hold it) and a line break ends the line (names may hold one too)."""
    return "".join(
        "\N{BROKEN BAR}" if c == "|" else " " if c in "\r\n" or not c.isprintable() else c
        for c in text
    )


def code_of(found: Sequence[Finding]) -> int:
    """The worst finding decides; info findings are OK."""
    severities = {f.severity for f in found}
    if "critical" in severities:
        return CRITICAL
    if "warning" in severities:
        return WARNING
    return OK


def summary(
    code: int,
    found: Sequence[Finding],
    states: Sequence[ClusterState],
    rules: Mapping[str, Settings],
) -> str:
    counts = {s: sum(1 for f in found if f.severity == s) for s in ("critical", "warning")}
    if found:
        worst = min(found, key=lambda f: (SEVERITY_RANK.get(f.severity, 9), -f.value))
        more = len(found) - 1
        text = f"{counts['critical']} critical, {counts['warning']} warning: {worst.summary}" + (
            f" (and {more} more)" if more else ""
        )
        blind = [s.name for s in states if s.snapshot is None]
        if blind:
            text += f"; no view of {', '.join(blind)}"
    else:
        text = "; ".join(cluster_summary(s) for s in states)
    perf = " ".join(p for s in states for p in perfdata(s, rules, len(states) > 1))
    return f"{PREFIX} {STATUS[code]} - {plain(text)} | {perf}".rstrip(" |")


def cluster_summary(state: ClusterState) -> str:
    snap = state.snapshot
    if snap is None:
        return f"{state.name}: no view"
    return (
        f"{state.name}: {len(snap.brokers)} brokers, {snap.partition_count} partitions, "
        f"{len(state.lag)} groups, nothing wrong"
    )


def perfdata(state: ClusterState, rules: Mapping[str, Settings], prefixed: bool) -> list[str]:
    """'label'=value[UOM];warn;crit;min;max, thresholds from the rules that judge them."""
    # Cluster names are the config's: quotes and `=` would break the label.
    prefix = plain(state.name).replace("'", "_").replace("=", "_") + "_" if prefixed else ""
    snap = state.snapshot
    if snap is None:
        return [f"'{prefix}up'=0;;;0;1"]
    counts = {"offline": 0, "under_min_isr": 0, "under_replicated": 0}
    if state.assessment is not None:
        for _, _, health in state.assessment.partitions(snap):
            for flag in counts:
                counts[flag] += bool(getattr(health, flag))
    lags = [
        sum(p.lag or 0 for p in parts)
        for g in state.lag.values()
        for parts in g.by_topic().values()
    ]
    seconds = [p.lag_seconds for g in state.lag.values() for p in g.partitions if p.lag_seconds]

    def limit(rule: str) -> str:
        r = rules.get(rule)
        return "" if r is None or r.threshold is None else f"{r.threshold:g}"

    return [
        f"'{prefix}up'=1;;;0;1",
        f"'{prefix}brokers'={len(snap.brokers)};;;0",
        f"'{prefix}partitions'={snap.partition_count};;;0",
        f"'{prefix}offline_partitions'={counts['offline']};;0;0",
        f"'{prefix}under_min_isr'={counts['under_min_isr']};;0;0",
        f"'{prefix}under_replicated'={counts['under_replicated']};0;;0",
        f"'{prefix}max_lag'={max(lags, default=0)};{limit('consumer_lag')};;0",
        f"'{prefix}max_lag_seconds'={max(seconds, default=0.0):.1f}s;"
        f"{limit('consumer_lag_seconds')};;0",
    ]
