"""High availability between replicas: the notifier publishes its incident state, and a
replica that becomes the notifier continues from it (see leadership.py for the lock)."""

from __future__ import annotations

import logging
from typing import Any

from kafka_watchdog.alerting.evaluation import Evaluation
from kafka_watchdog.alerting.leadership import ZooKeeperLeadership
from kafka_watchdog.alerting.outbox import Outbox
from kafka_watchdog.config.alerting import HaConfig

log = logging.getLogger(__name__)

# The notifier republishes its state at least this often, and after every change.
REPUBLISH_EVERY = 30.0


class HighAvailability:
    def __init__(self, config: HaConfig) -> None:
        self.leadership = ZooKeeperLeadership(config.zookeeper, config.group, config.identity)
        self._was_leader = False
        self._published_at = 0.0
        self.dirty = False  # something the handover state holds changed since published

    @property
    def is_leader(self) -> bool:
        return self.leadership.is_leader

    async def sync(self, evaluation: Evaluation, outbox: Outbox, now: float) -> bool:
        """Before an evaluation: take over when this replica just became the notifier,
        publish the state when it is the notifier. True when it took over."""
        leader = self.leadership.is_leader
        took_over = leader and not self._was_leader
        if took_over:
            await self._take_over(evaluation, outbox, now)
        self._was_leader = leader
        if leader and (self.dirty or now - self._published_at >= REPUBLISH_EVERY):
            # Cleared before the outbox is read and written, not after: a delivery that ends
            # meanwhile sets it again, so the next evaluation publishes the emptier outbox.
            # (Cleared after, a standby could take over a notification already sent and send
            # it again: seen as a second page under load.)
            self._published_at, self.dirty = now, False
            state: dict[str, Any] = evaluation.to_json()
            state["outbox"] = [[r.receiver, r.target, r.payload] for r in await outbox.pending()]
            await self.leadership.publish(state)
        return took_over

    async def _take_over(self, evaluation: Evaluation, outbox: Outbox, now: float) -> None:
        """Continue the previous notifier's incidents: its alerts (with their firing times)
        and groups (with what was told), and its undelivered notifications."""
        state = await self.leadership.fetch()
        if state is None:
            log.warning("alerting HA: no published incident state; starting from ours")
            return
        evaluation.load(state)
        rows = [(r, t, p) for r, t, p in state.get("outbox", [])]
        await outbox.save(evaluation.to_json(), rows, now)
        log.warning(
            "alerting HA: took over %d alerts, %d groups, %d undelivered notifications",
            len(evaluation.book.alerts),
            len(evaluation.dispatcher.groups),
            len(rows),
        )
