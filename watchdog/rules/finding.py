"""What a rule sees: one condition on one subject, right now."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    severity: str  # critical | warning | info
    labels: Mapping[str, str]  # kafka_cluster and the subject: topic, partition, broker, group
    summary: str  # one human sentence
    value: float = 1.0  # how bad: lag, records at risk, partitions... (sorts the worst first)
    runbook: str = ""
    details: Mapping[str, str] = field(default_factory=dict)
    # Set when the finding is read from carried state, not a current answer (the group's
    # coordinator is gone, the partition's log end unreadable, too few samples yet): the
    # time its subject became unknown. Such a finding holds an alert as it is (firing stays
    # firing, pending stays pending) and never starts or fires one: only a real answer
    # changes an alert's state.
    unknown_since: float | None = None
    # Identity across evaluations: the rule and the subject, not the wording. Made once:
    # alerting looks it up many times per finding at every evaluation.
    fingerprint: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        subject = ",".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        object.__setattr__(self, "fingerprint", f"{self.rule}{{{subject}}}")

    def all_labels(self) -> dict[str, str]:
        """What silences, inhibition, routing and grouping match against."""
        return {**self.labels, "rule": self.rule, "severity": self.severity}
