"""Delivery: drain the outbox through the senders, with retries and backoff, in order per
destination; and push the alerts to Alertmanager: at once when what it should know changed
(an alert fired, resolved, was silenced), and again every resend interval.

When the store refuses a step's outbox rows (a full or read-only disk), they are sent from
memory instead (`send_unsaved`): a disk must not be able to stop the daemon from paging. That
is at least once rather than exactly once: a restart before the state is written again may
page them a second time, which on-call forgives and a silent pager is not."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kafka_watchdog.alerting.incidents import Alert
from kafka_watchdog.alerting.outbox import Outbox, Row
from kafka_watchdog.alerting.senders import AlertmanagerSender, DeliveryError, Sender
from kafka_watchdog.alerting.store import Pending

log = logging.getLogger(__name__)

MAX_RETRY_AFTER = 3600.0
# Rows paged from memory while the store refuses writes. Beyond this the oldest are dropped
# (counted): a disk that stays full for days must not grow the daemon without bound.
MAX_UNSAVED = 10_000


@dataclass(slots=True)
class Unsaved:
    """A notification the store could not write, kept and retried in memory."""

    receiver: str
    target: str
    payload: dict[str, Any]
    attempts: int = 0
    next_at: float = 0.0


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
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._unsaved: deque[Unsaved] = deque()
        self._last_error = ""
        self._unsaved_task: asyncio.Task[None] | None = None

    def send_unsaved(self, rows: Iterable[Row]) -> None:
        """The store refused these rows: send them from memory rather than not at all."""
        for receiver, target, payload in rows:
            if len(self._unsaved) >= MAX_UNSAVED:
                old = self._unsaved.popleft()
                self.dropped[(old.receiver, self._kind(old.receiver, old.target))] += 1
                log.error(
                    "notification to %s dropped: %d notifications are waiting in memory "
                    "for a writable alerting state",
                    old.receiver,
                    MAX_UNSAVED,
                )
            self._unsaved.append(Unsaved(receiver, target, payload))
        self.wake()

    def _kind(self, receiver: str, target: str) -> str:
        sender = self.senders.get((receiver, target))
        return sender.kind if sender else target.split(":")[0]

    def wake(self) -> None:
        """New rows in the outbox: deliver now rather than at the next poll."""
        self._wake.set()

    async def refresh_queue(self) -> None:
        queued = await self.outbox.queued()
        for row in self._unsaved:
            queued[row.receiver] = queued.get(row.receiver, 0) + 1
        self.queued = queued
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
        outcome = await self._attempt(row.receiver, row.target, row.payload, row.attempts)
        if isinstance(outcome, float):
            await self.outbox.failed(row.id, self._last_error, outcome)
            return 0
        await self.outbox.delivered(row.id)
        return 1 if outcome == "sent" else 0

    async def _attempt(
        self, receiver: str, target: str, payload: dict[str, Any], attempts: int
    ) -> str | float:
        """Send once: "sent", "dropped" (the receiver refused it for good), or when to retry."""
        sender = self.senders.get((receiver, target))
        key = (receiver, self._kind(receiver, target))
        try:
            if sender is None:
                raise DeliveryError(f"{target} no longer configured", permanent=True)
            await sender.send(payload)
        except DeliveryError as exc:
            if exc.permanent:
                self.dropped[key] += 1
                log.error(
                    "notification to %s (%s) dropped, the receiver refused it: %s",
                    receiver,
                    target,
                    exc,
                )
                return "dropped"
            self.failed[key] += 1
            delay = min(self.retry_max_interval, 2.0 ** min(attempts, 16))
            delay *= random.uniform(0.8, 1.2)  # several replicas must not retry in step
            if exc.retry_after is not None:
                # The receiver said when (429 Retry-After): not sooner, but never more than
                # an hour (a receiver cannot mute itself for good).
                delay = max(delay, min(exc.retry_after, MAX_RETRY_AFTER))
            log.warning(
                "notification to %s (%s) failed, retrying in %.0fs: %s",
                receiver,
                target,
                delay,
                exc,
            )
            self._last_error = str(exc)
            return time.time() + delay
        self.sent[key] += 1
        return "sent"

    async def _deliver_unsaved(self) -> None:
        """The rows kept in memory, oldest first; one that fails waits for its retry time
        without holding up the others of other receivers."""
        try:
            waiting: set[str] = set()  # receivers with a row waiting: keep their order
            for row in list(self._unsaved):
                if row.receiver in waiting or row.next_at > time.time():
                    waiting.add(row.receiver)
                    continue
                outcome = await self._attempt(row.receiver, row.target, row.payload, row.attempts)
                if isinstance(outcome, float):
                    row.attempts += 1
                    row.next_at = outcome
                    waiting.add(row.receiver)
                    continue
                with contextlib.suppress(ValueError):  # dropped meanwhile (MAX_UNSAVED)
                    self._unsaved.remove(row)
                if outcome == "sent":
                    self.on_delivered()
        except Exception:
            log.exception("notification delivery failed unexpectedly")
        finally:
            with contextlib.suppress(sqlite3.Error, OSError):
                await self.refresh_queue()

    async def run(self) -> None:
        try:
            while True:
                idle = self._unsaved_task is None or self._unsaved_task.done()
                if self._unsaved and idle and self.is_notifier():
                    self._unsaved_task = asyncio.create_task(
                        self._deliver_unsaved(), name="deliver:unsaved"
                    )
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
            if self._unsaved_task is not None:
                self._unsaved_task.cancel()

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
