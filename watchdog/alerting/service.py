"""Alerting, wired: published cluster states -> evaluation -> outbox -> delivery, with HA.

Runs on its own schedule whether or not anybody scrapes. Each evaluation is pure up to the
store: the new incident and group state and the notifications it produced are written in
one transaction (on the store's own thread), then delivery drains the outbox with retries
and backoff, in order per destination. A restart reloads all of it: open incidents are not
paged again, queued notifications (a resolve, say) still go out. After every change the
service publishes an AlertingStatus, which is all the metrics and the HTTP API read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp

from kafka_watchdog.alerting.delivery import Delivery
from kafka_watchdog.alerting.dispatch import Notification, Route
from kafka_watchdog.alerting.evaluation import Evaluation
from kafka_watchdog.alerting.ha import HighAvailability
from kafka_watchdog.alerting.incidents import State
from kafka_watchdog.alerting.outbox import Outbox, Row
from kafka_watchdog.alerting.senders import Sender, senders_for
from kafka_watchdog.alerting.silences import Silences
from kafka_watchdog.alerting.status import AlertingStatus
from kafka_watchdog.config.alerting import AlertingConfig
from kafka_watchdog.model.published import Published
from kafka_watchdog.model.snapshot import frozen_map
from kafka_watchdog.model.state import ClusterBoard
from kafka_watchdog.rules.finding import Finding

log = logging.getLogger(__name__)

# The alert that says the alerting state was lost (a damaged state file moved aside) fires
# for this long after the start that found it, then resolves.
STATE_LOST_FIRING = 3600.0
STATE_LOST_RULE = "alerting_state_lost"

Loop = Callable[[], Coroutine[Any, Any, None]]


class AlertingService:
    def __init__(self, board: ClusterBoard, config: AlertingConfig) -> None:
        self.board = board
        self.config = config
        self.receivers = tuple(r.name for r in config.receivers)
        self.status = Published(AlertingStatus(self.receivers))
        self.outbox = Outbox(config.state_dir)
        self.silences = Silences(
            config.silences, self.outbox, self._publish, max_silences=config.max_silences
        )
        self.ha = HighAvailability(config.ha) if config.ha is not None else None
        self._session: aiohttp.ClientSession | None = None
        self.delivery = self._delivery([])
        self.evaluation = Evaluation(config, [])
        # Evaluations completed: lets an operator (and the tests) tell "nothing happened"
        # from "nothing was evaluated" (a stuck or starved loop).
        self.evaluations = 0
        self._lost_at: float | None = None  # when a damaged state file was moved aside
        self._skipped_at_load = 0

    def _notifies(self) -> bool:
        return self.ha is None or self.ha.is_leader

    def _delivery(self, senders: list[Sender]) -> Delivery:
        return Delivery(
            self.outbox,
            senders,
            self.config.retry_max_interval,
            self._notifies,
            on_change=self._publish,
            on_delivered=self._handover_changed,
        )

    def _handover_changed(self) -> None:
        """The handover state must not list what went out: republish it."""
        if self.ha is not None:
            self.ha.dirty = True

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store, reload the incidents, connect the senders (and the HA session).
        The loops run as the supervisor's tasks (`loops`)."""
        await self.outbox.open()
        self._session = aiohttp.ClientSession()
        senders: list[Sender] = [
            s for r in self.config.receivers for s in senders_for(r, self._session)
        ]
        grouped = {s.receiver for s in senders if s.grouped}
        routes = [
            Route(r.name, frozenset(r.severities), r.matchers, r.send_resolved)
            for r in self.config.receivers
            if r.name in grouped
        ]
        self.evaluation = Evaluation(self.config, routes)
        self.delivery = self._delivery(senders)
        if self.outbox.lost is not None:
            self._lost_at = time.time()
        self._skipped_at_load = self.evaluation.load(
            {"alerts": await self.outbox.load("alerts"), "groups": await self.outbox.load("groups")}
        )
        if self._skipped_at_load:
            log.error(
                "alerting: %d saved alerts or groups were unreadable and skipped",
                self._skipped_at_load,
            )
        await self.silences.load(time.time())
        if self.ha is not None:
            await self.ha.leadership.start()
        await self.delivery.refresh_queue()
        log.info(
            "alerting: %d rules, %d receivers, state in %s",
            sum(r.enabled for r in self.evaluation.rules.values()),
            len(self.receivers),
            self.outbox.path,
        )

    def loops(self) -> dict[str, Loop]:
        """The long-running tasks, by name, for the supervisor."""
        loops: dict[str, Loop] = {
            "alerting:evaluate": self._evaluate_loop,
            "alerting:deliver": self.delivery.run,
        }
        if self.delivery.has_alertmanager():
            loops["alerting:alertmanager"] = self._alertmanager_loop
        if self.ha is not None:
            loops["alerting:ha"] = self.ha.leadership.contend
        return loops

    async def close(self) -> None:
        """After the loops have stopped."""
        if self._session is not None:
            await self._session.close()
        if self.ha is not None:
            await self.ha.leadership.stop()
        await self.outbox.close()

    # -- evaluation -----------------------------------------------------------------------

    def _own_findings(self, now: float) -> list[Finding]:
        """Alerting's findings about itself: its saved state was damaged and set aside, so
        open incidents may be paged again and silences from the API are gone."""
        if self._lost_at is None or now - self._lost_at > STATE_LOST_FIRING:
            return []
        return [
            Finding(
                rule=STATE_LOST_RULE,
                severity="warning",
                labels={"kafka_cluster": ""},
                summary="kafka-watchdog's alerting state was damaged and set aside: open "
                "incidents may be paged again and API silences are gone "
                f"({(self.outbox.lost or '')[:300]})",
                runbook="docs/alerting.md#the-state-dir",
            )
        ]

    async def evaluate_once(self, now: float) -> list[Notification]:
        notify = self._notifies()
        outcome = self.evaluation.step(
            self.board.states(), self.silences.all(), now, notify, self._own_findings(now)
        )
        for alert in outcome.changed:
            log.log(
                logging.WARNING if alert.state is State.FIRING else logging.INFO,
                "alert %s: %s",
                alert.state.value,
                alert.finding.summary,
                extra={"kafka_cluster": alert.finding.labels.get("kafka_cluster")},
            )
        if not notify:
            # A standby replica keeps its incident timers warm but tells nobody.
            if outcome.changed:
                await self._save_or_not({"alerts": self.evaluation.book.to_json()})
            self._publish()
            return []
        rows = [row for n in outcome.notifications for row in self._outbox_rows(n)]
        # After a failed write, every evaluation writes again until one succeeds: the
        # groups told from memory meanwhile are saved as told.
        if outcome.changed or outcome.notifications or self.outbox.write_error is not None:
            if not await self._save_or_not(self.evaluation.to_json(), rows, now):
                # The disk refuses (full, read-only): page from memory all the same. The
                # groups stay told in memory, so the next evaluation does not page again,
                # and the next write that succeeds saves them as told.
                self.delivery.send_unsaved(rows)
                self._publish()
                return outcome.notifications
            self._handover_changed()
        if rows:
            await self.delivery.refresh_queue()
            self.delivery.wake()
        if outcome.changed:
            self.delivery.alertmanager_wake.set()  # Alertmanager hears of it now, too
        self._publish()
        return outcome.notifications

    async def _save_or_not(
        self, state: dict[str, Any], rows: list[Row] | None = None, now: float = 0.0
    ) -> bool:
        """Save; False when the store refused (the error is recorded by the outbox, on
        /readyz and in the metrics, and retried at the next evaluation)."""
        try:
            await self.outbox.save(state, rows or [], now)
        except Exception:  # sqlite3.Error, OSError: recorded in outbox.error
            return False
        return True

    def _outbox_rows(self, n: Notification) -> list[Row]:
        rows: list[Row] = []
        for sender in self.delivery.senders.values():
            payload = (
                sender.payload(n, self.config.max_listed) if sender.receiver == n.receiver else None
            )
            if payload is not None:
                rows.append((sender.receiver, sender.target, payload))
        return rows

    async def _evaluate_loop(self) -> None:
        while True:
            try:
                if self.ha is not None and await self.ha.sync(
                    self.evaluation, self.outbox, time.time()
                ):
                    self.delivery.wake()
                await self.outbox.check()
                await self.evaluate_once(time.time())
            except Exception:  # a bug in a rule must not stop alerting
                log.exception("alert evaluation failed")
            else:
                self.evaluations += 1
                self._publish()
            await asyncio.sleep(self.config.evaluation_interval)

    async def _alertmanager_loop(self) -> None:
        """Push at once after an evaluation that changed an alert (and once a second, which
        sends only what changed otherwise, e.g. a silence, or what is due again)."""
        wake = self.delivery.alertmanager_wake
        while True:
            wake.clear()
            now = time.time()
            alerts = self.evaluation.book.alerts.values()
            await self.delivery.push_alertmanager(
                now, alerts, self.evaluation.muted(self.silences.all(), now)
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), 1.0)

    # -- the published status -------------------------------------------------------------

    def _publish(self) -> None:
        delivery = self.delivery
        self.status.publish(
            AlertingStatus(
                receivers=self.receivers,
                alerts=tuple(
                    sorted(self.evaluation.book.alerts.values(), key=lambda a: a.fingerprint)
                ),
                silences=self.silences.all(),
                notifier=self._notifies(),
                sent=frozen_map(delivery.sent),
                failed=frozen_map(delivery.failed),
                dropped=frozen_map(delivery.dropped),
                queued=frozen_map(delivery.queued),
                evaluations=self.evaluations,
                state_error=self.outbox.error,
                state_write_failures=self.outbox.write_failures,
                state_rows_skipped=self.outbox.skipped
                + self.silences.skipped
                + self._skipped_at_load,
                state_lost=self.outbox.lost,
            )
        )
