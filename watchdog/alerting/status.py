"""What alerting publishes for everyone else to read: the metrics, the HTTP API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kafka_watchdog.alerting.incidents import Alert
from kafka_watchdog.alerting.matching import Silence
from kafka_watchdog.model.snapshot import frozen_map


@dataclass(frozen=True, slots=True)
class AlertingStatus:
    """Immutable: republished whole after each evaluation, delivery pass or silence change."""

    receivers: tuple[str, ...] = ()
    alerts: tuple[Alert, ...] = ()  # pending, firing and recently resolved, by fingerprint
    silences: tuple[Silence, ...] = ()
    notifier: bool = True  # this replica notifies (always, without alerting.ha)
    # (receiver, target kind) -> notifications delivered, attempts failed, given up.
    sent: Mapping[tuple[str, str], int] = field(default_factory=frozen_map)
    failed: Mapping[tuple[str, str], int] = field(default_factory=frozen_map)
    dropped: Mapping[tuple[str, str], int] = field(default_factory=frozen_map)
    queued: Mapping[str, int] = field(default_factory=frozen_map)  # receiver -> in the outbox
    evaluations: int = 0  # evaluations completed since start
    # The alerting state on disk: why it is not being kept right now (None: all is well),
    # writes that failed, rows skipped as unreadable, and why the old state was set aside.
    state_error: str | None = None
    state_write_failures: int = 0
    state_rows_skipped: int = 0
    state_lost: str | None = None
