"""Delivery: drain the outbox through the senders, with retries and backoff, in order per
destination; and push the alerts to Alertmanager on its resend interval."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping

from kafka_watchdog.alerting.incidents import Alert
from kafka_watchdog.alerting.outbox import Outbox
from kafka_watchdog.alerting.senders import AlertmanagerSender, DeliveryError, Sender
from kafka_watchdog.alerting.store import Pending

log = logging.getLogger(__name__)

MAX_RETRY_AFTER = 3600.0


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
        self._am_sent: dict[str, float] = {}
        self._inflight: dict[str, asyncio.Task[None]] = {}

    def wake(self) -> None:
        """New rows in the outbox: deliver now rather than at the next poll."""
        self._wake.set()

    async def refresh_queue(self) -> None:
        self.queued = await self.outbox.queued()
        self.on_change()

    async def deliver_due(self, now: float) -> int:
        """Start delivering what is due, one task per receiver: a receiver that hangs (a
        webhook that never answers) holds up only its own notifications. Returns how many
        receivers were started; their tasks run on."""
        if not self.is_notifier():
            return 0
        rows = await self.outbox.due(now)
        by_receiver: dict[str, list[Pending]] = {}
        for row in rows:
            by_receiver.setdefault(row.receiver, []).append(row)
        started = 0
        for receiver, batch in by_receiver.items():
            task = self._inflight.get(receiver)
            if task is not None and not task.done():
                continue  # still busy with its previous rows
            self._inflight[receiver] = asyncio.create_task(
                self._deliver(batch, now), name=f"deliver:{receiver}"
            )
            started += 1
        return started

    async def _deliver(self, rows: list[Pending], now: float) -> None:
        done = 0
        try:
            for row in rows:
                done += await self._deliver_one(row, now)
        except (sqlite3.Error, OSError):
            pass  # the store failed: recorded by the outbox (metrics, /readyz); retried
        except Exception:
            log.exception("notification delivery failed unexpectedly")
        finally:
            if done:
                self.on_delivered()
            with contextlib.suppress(sqlite3.Error, OSError):
                await self.refresh_queue()

    async def _deliver_one(self, row: Pending, now: float) -> int:
        sender = self.senders.get((row.receiver, row.target))
        key = (row.receiver, sender.kind if sender else row.target.split(":")[0])
        try:
            if sender is None:
                raise DeliveryError(f"{row.target} no longer configured", permanent=True)
            await sender.send(row.payload)
        except DeliveryError as exc:
            if exc.permanent:
                self.dropped[key] += 1
                log.error(
                    "notification to %s (%s) dropped, the receiver refused it: %s",
                    row.receiver,
                    row.target,
                    exc,
                )
                await self.outbox.delivered(row.id)
                return 0
            self.failed[key] += 1
            delay = min(self.retry_max_interval, 2.0 ** min(row.attempts, 16))
            delay *= random.uniform(0.8, 1.2)  # several replicas must not retry in step
            if exc.retry_after is not None:
                # The receiver said when (429 Retry-After): not sooner, but never more than
                # an hour (a receiver cannot mute itself for good).
                delay = max(delay, min(exc.retry_after, MAX_RETRY_AFTER))
            log.warning(
                "notification to %s (%s) failed, retrying in %.0fs: %s",
                row.receiver,
                row.target,
                delay,
                exc,
            )
            await self.outbox.failed(row.id, str(exc), time.time() + delay)
            return 0
        self.sent[key] += 1
        await self.outbox.delivered(row.id)
        return 1

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self.deliver_due(time.time())
                except (sqlite3.Error, OSError):
                    pass  # recorded by the outbox; retried at the next pass
                except Exception:
                    log.exception("notification delivery failed unexpectedly")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 1.0)
                self._wake.clear()
        finally:
            for task in self._inflight.values():
                task.cancel()

    # -- Alertmanager: level-triggered, it groups and routes itself -----------------------

    async def push_alertmanager(self, now: float, alerts: Iterable[Alert], muted: set[str]) -> None:
        if not self.is_notifier():
            return
        listed = list(alerts)
        for sender in self.senders.values():
            if not isinstance(sender, AlertmanagerSender):
                continue
            if now - self._am_sent.get(sender.receiver, 0) < sender.resend_interval:
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
            self.on_change()

    def has_alertmanager(self) -> bool:
        return any(isinstance(s, AlertmanagerSender) for s in self.senders.values())
