"""Delivery: drain the outbox through the senders, with retries and backoff, in order per
destination; and push the alerts to Alertmanager: at once when what it should know changed
(an alert fired, resolved, was silenced), and again every resend interval."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping

from kafka_watchdog.alerting.incidents import Alert
from kafka_watchdog.alerting.outbox import Outbox
from kafka_watchdog.alerting.senders import AlertmanagerSender, DeliveryError, Sender

log = logging.getLogger(__name__)


class Delivery:
    def __init__(
        self,
        outbox: Outbox,
        senders: Iterable[Sender],
        retry_max_interval: float,
        is_notifier: Callable[[], bool],
        on_change: Callable[[], None],
        on_delivered: Callable[[], None] = lambda: None,
    ) -> None:
        self.outbox = outbox
        self.senders: Mapping[tuple[str, str], Sender] = {
            (s.receiver, s.target): s for s in senders
        }
        self.retry_max_interval = retry_max_interval
        self.is_notifier = is_notifier
        self.on_change = on_change  # counters or the queue changed: republish the status
        self.on_delivered = on_delivered  # rows left the outbox
        self.sent: Counter[tuple[str, str]] = Counter()
        self.failed: Counter[tuple[str, str]] = Counter()
        self.dropped: Counter[tuple[str, str]] = Counter()
        self.queued: dict[str, int] = {}
        self._wake = asyncio.Event()
        self.alertmanager_wake = asyncio.Event()  # set when an evaluation changed an alert
        self._am_sent: dict[str, float] = {}
        # What each Alertmanager receiver was last told: (alert, firing or resolved) pairs.
        self._am_told: dict[str, frozenset[tuple[str, str]]] = {}

    def wake(self) -> None:
        """New rows in the outbox: deliver now rather than at the next poll."""
        self._wake.set()

    async def refresh_queue(self) -> None:
        self.queued = await self.outbox.queued()
        self.on_change()

    async def deliver_due(self, now: float) -> int:
        """One pass over the outbox; returns how many rows were delivered."""
        if not self.is_notifier():
            return 0
        done = 0
        rows = await self.outbox.due(now)
        for row in rows:
            sender = self.senders.get((row.receiver, row.target))
            key = (row.receiver, sender.kind if sender else row.target.split(":")[0])
            try:
                if sender is None:
                    raise DeliveryError(f"{row.target} no longer configured", permanent=True)
                await sender.send(row.payload)
            except DeliveryError as exc:
                if exc.permanent:
                    self.dropped[key] += 1
                    log.error("notification to %s (%s) dropped: %s", row.receiver, row.target, exc)
                    await self.outbox.delivered(row.id)
                    continue
                self.failed[key] += 1
                delay = min(self.retry_max_interval, 2.0 ** min(row.attempts, 16))
                delay *= random.uniform(0.8, 1.2)  # several replicas must not retry in step
                log.warning(
                    "notification to %s (%s) failed, retrying in %.0fs: %s",
                    row.receiver,
                    row.target,
                    delay,
                    exc,
                )
                await self.outbox.failed(row.id, str(exc), now + delay)
                continue
            self.sent[key] += 1
            await self.outbox.delivered(row.id)
            done += 1
        if done:
            self.on_delivered()
        if rows:
            await self.refresh_queue()
        return done

    async def run(self) -> None:
        while True:
            try:
                await self.deliver_due(time.time())
            except Exception:
                log.exception("notification delivery failed unexpectedly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 1.0)
            self._wake.clear()

    # -- Alertmanager: level-triggered, it groups and routes itself -----------------------

    async def push_alertmanager(self, now: float, alerts: Iterable[Alert], muted: set[str]) -> None:
        if not self.is_notifier():
            return
        listed = list(alerts)
        for sender in self.senders.values():
            if not isinstance(sender, AlertmanagerSender):
                continue
            told = sender.told(listed, muted)
            # New and resolved alerts go at once; the rest is re-posted every resend interval
            # (Alertmanager ends an alert that is not re-posted before its endsAt).
            due = now - self._am_sent.get(sender.receiver, 0) >= sender.resend_interval
            if not due and told == self._am_told.get(sender.receiver):
                continue
            key = (sender.receiver, sender.kind)
            try:
                await sender.send(sender.alerts(listed, muted, now))
            except DeliveryError as exc:
                self.failed[key] += 1
                log.warning("Alertmanager %s: %s (retrying)", sender.receiver, exc)
            else:
                self.sent[key] += 1
                self._am_sent[sender.receiver] = now
                self._am_told[sender.receiver] = told
            self.on_change()

    def has_alertmanager(self) -> bool:
        return any(isinstance(s, AlertmanagerSender) for s in self.senders.values())
