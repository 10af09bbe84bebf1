"""The alerting loop: watchers -> rules -> incidents -> groups -> outbox -> receivers.

Runs on its own schedule whether or not anybody scrapes. Each evaluation is pure up to the
store: the new incident and group state and the notifications it produced are written in
one transaction, then a delivery loop drains the outbox with retries and backoff, in order
per destination. A restart reloads all of it: open incidents are not paged again, queued
notifications (a resolve, say) still go out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

import aiohttp

from kafka_watchdog.alerting import render
from kafka_watchdog.alerting.dispatch import Dispatcher, Notification, Route, Timing
from kafka_watchdog.alerting.incidents import AlertBook, State
from kafka_watchdog.alerting.leadership import ZooKeeperLeadership
from kafka_watchdog.alerting.matching import Inhibition, Silence, muted
from kafka_watchdog.alerting.rules import ClusterView, effective_rules, evaluate
from kafka_watchdog.alerting.senders import (
    DeliveryError,
    post_alertmanager,
    send_apprise,
    send_pagerduty,
)
from kafka_watchdog.alerting.store import AlertStore
from kafka_watchdog.app.watcher import ClusterWatcher
from kafka_watchdog.config.alerting import AlertingConfig, ReceiverConfig
from kafka_watchdog.config.durations import parse_timestamp

log = logging.getLogger(__name__)


def view_of(watcher: ClusterWatcher, now: float, min_replication_factor: int) -> ClusterView:
    ready, reason = watcher.ready(now)
    return ClusterView(
        name=watcher.name,
        snapshot=watcher.store.latest,
        ready=ready,
        not_ready_reason=reason,
        zookeeper_state=(
            (watcher.health.zookeeper_state or "CONNECTING")
            if watcher.health.zookeeper is not None
            else None
        ),
        known_brokers=frozenset(watcher.known_brokers),
        events=tuple(watcher.events),
        lag=watcher.lag.latest,
        min_replication_factor=min_replication_factor,
    )


class AlertingService:
    def __init__(
        self,
        watchers: Sequence[ClusterWatcher],
        config: AlertingConfig,
        min_replication_factor: int = 3,
    ) -> None:
        self.watchers = list(watchers)
        self.config = config
        self.min_replication_factor = min_replication_factor
        self.rules = effective_rules(config.rules)
        self.book = AlertBook(
            {n: r.for_ for n, r in self.rules.items()}, config.flap_window, config.flap_count
        )
        self.receivers = {r.name: r for r in config.receivers}
        routes = [
            Route(r.name, frozenset(r.severities), r.matchers, r.send_resolved)
            for r in config.receivers
            if r.apprise or r.pagerduty  # Alertmanager groups alerts itself
        ]
        self.dispatcher = Dispatcher(
            routes,
            Timing(
                tuple(config.group_by),
                config.group_wait,
                config.group_interval,
                config.repeat_interval,
            ),
        )
        self.inhibitions = [Inhibition(i.source, i.target, tuple(i.equal)) for i in config.inhibit]
        self.silences: dict[str, Silence] = {}
        self.store: AlertStore | None = None
        self.sent: Counter[tuple[str, str]] = Counter()
        self.failed: Counter[tuple[str, str]] = Counter()
        self.dropped: Counter[tuple[str, str]] = Counter()
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self._am_sent: dict[str, float] = {}
        self.leadership = (
            ZooKeeperLeadership(config.ha.zookeeper, config.ha.group, config.ha.identity)
            if config.ha is not None
            else None
        )
        self._was_leader = False
        self._published_at = 0.0
        # Evaluations completed: lets an operator (and the tests) tell "nothing happened"
        # from "nothing was evaluated" (a stuck or starved loop).
        self.evaluations_total = 0
        self._dirty = False

    @property
    def is_notifier(self) -> bool:
        return self.leadership is None or self.leadership.is_leader

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self.store = AlertStore(self.config.state_dir)
        self.book.load(self.store.load("alerts") or [])
        self.dispatcher.load(self.store.load("groups") or {})
        now = time.time()
        for saved in self.store.load("silences") or []:
            silence = Silence(**saved)
            if silence.ends_at > now:
                self.silences[silence.id] = silence
        for i, s in enumerate(self.config.silences):
            starts = parse_timestamp(s.starts_at) if s.starts_at else now
            sid = f"config-{i}"
            self.silences[sid] = Silence(
                sid, dict(s.matchers), starts, parse_timestamp(s.ends_at), s.comment
            )
        self._session = aiohttp.ClientSession()
        if self.leadership is not None:
            await self.leadership.start()
        self._tasks = [
            asyncio.create_task(self._evaluate_loop(), name="alerting:evaluate"),
            asyncio.create_task(self._deliver_loop(), name="alerting:deliver"),
        ]
        if any(r.alertmanager for r in self.config.receivers):
            self._tasks.append(asyncio.create_task(self._alertmanager_loop(), name="alerting:am"))
        log.info(
            "alerting: %d rules, %d receivers, state in %s",
            sum(r.enabled for r in self.rules.values()),
            len(self.receivers),
            self.store.path,
        )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._session is not None:
            await self._session.close()
        if self.leadership is not None:
            await self.leadership.stop()
        if self.store is not None:
            self.store.close()

    # -- evaluation -----------------------------------------------------------------------

    def evaluate_once(self, now: float) -> list[Notification]:
        assert self.store is not None
        findings = []
        hold = set()
        for watcher in self.watchers:
            if watcher.store.latest is None:
                # No view yet (just started): keep this cluster's alerts as they were
                # rather than resolve them; cluster_unseen covers a view that never comes.
                hold.add(watcher.name)
                if not watcher.ready(now)[0] and watcher.health.admin.consecutive_failures:
                    findings += evaluate(
                        {"cluster_unseen": self.rules["cluster_unseen"]},
                        view_of(watcher, now, self.min_replication_factor),
                        now,
                    )
                continue
            view = view_of(watcher, now, self.min_replication_factor)
            findings += evaluate(self.rules, view, now)
        changed = self.book.update(findings, now, frozenset(hold))
        for alert in changed:
            log.log(
                logging.WARNING if alert.state is State.FIRING else logging.INFO,
                "alert %s: %s",
                alert.state.value,
                alert.finding.summary,
                extra={"kafka_cluster": alert.finding.labels.get("kafka_cluster")},
            )
        if not self.is_notifier:
            # A standby replica keeps its incident timers warm but tells nobody.
            if changed:
                self.store.save({"alerts": self.book.to_json()})
            return []
        quiet = muted(self.book.alerts.values(), self.silences.values(), self.inhibitions, now)
        notifications = self.dispatcher.tick(self.book.alerts, quiet, now)
        rows = [row for n in notifications for row in self._outbox_rows(n)]
        if changed or notifications:
            self.store.save(
                {"alerts": self.book.to_json(), "groups": self.dispatcher.to_json()}, rows, now
            )
        if rows:
            self._wake.set()
        if changed or notifications:
            self._dirty = True
        return notifications

    def handover_state(self) -> dict[str, Any]:
        assert self.store is not None
        return {
            "alerts": self.book.to_json(),
            "groups": self.dispatcher.to_json(),
            "outbox": [[r.receiver, r.target, r.payload] for r in self.store.pending()],
        }

    async def _take_over(self, now: float) -> None:
        """Continue the previous notifier's incidents: its alerts (with their firing times)
        and groups (with what was told), and its undelivered notifications."""
        assert self.leadership is not None and self.store is not None
        state = await self.leadership.fetch()
        if state is None:
            log.warning("alerting HA: no published incident state; starting from ours")
            return
        self.book.load(state.get("alerts", []))
        self.dispatcher.load(state.get("groups", {}))
        rows = [(r, t, p) for r, t, p in state.get("outbox", [])]
        self.store.save(
            {"alerts": self.book.to_json(), "groups": self.dispatcher.to_json()}, rows, now
        )
        log.warning(
            "alerting HA: took over %d alerts, %d groups, %d undelivered notifications",
            len(self.book.alerts),
            len(self.dispatcher.groups),
            len(rows),
        )
        self._wake.set()

    async def _sync_leadership(self, now: float) -> None:
        if self.leadership is None:
            return
        leader = self.leadership.is_leader
        if leader and not self._was_leader:
            await self._take_over(now)
        self._was_leader = leader
        if leader and (self._dirty or now - self._published_at >= 30.0):
            # Cleared before the write, not after: a delivery that ends while the write is
            # in flight sets it again, so the next evaluation publishes the emptier outbox.
            # (Cleared after, the standby could take over a notification already sent and
            # send it again: seen as a second page under load.)
            self._published_at, self._dirty = now, False
            await self.leadership.publish(self.handover_state())

    def _outbox_rows(self, n: Notification) -> list[tuple[str, str, dict[str, Any]]]:
        receiver = self.receivers[n.receiver]
        worst = (n.firing or n.resolved)[0].finding.severity if (n.firing or n.resolved) else ""
        kind = worst if n.firing else "resolved"
        rows: list[tuple[str, str, dict[str, Any]]] = []
        text = {
            "title": render.title(n),
            "body": render.body(n, self.config.max_listed),
            "kind": kind,
        }
        for i in range(len(receiver.apprise)):
            rows.append((receiver.name, f"apprise:{i}", text))
        if receiver.pagerduty is not None:
            # The routing key is looked up at send time: no secret is written to disk.
            event = render.pagerduty_event(n, "", self.config.max_listed)
            rows.append((receiver.name, "pagerduty", event))
        return rows

    async def _evaluate_loop(self) -> None:
        while True:
            try:
                await self._sync_leadership(time.time())
                self.evaluate_once(time.time())
            except Exception:  # a bug in a rule must not stop alerting
                log.exception("alert evaluation failed")
            else:
                self.evaluations_total += 1
            await asyncio.sleep(self.config.evaluation_interval)

    # -- delivery -------------------------------------------------------------------------

    async def deliver_due(self, now: float) -> int:
        """One pass over the outbox; returns how many rows were delivered."""
        assert self.store is not None
        done = 0
        if not self.is_notifier:
            return 0
        for row in self.store.due(now):
            receiver = self.receivers.get(row.receiver)
            key = (row.receiver, row.target.split(":")[0])
            try:
                if receiver is None:
                    raise DeliveryError("receiver no longer configured", permanent=True)
                await self._send(receiver, row.target, row.payload)
            except DeliveryError as exc:
                if exc.permanent:
                    self.dropped[key] += 1
                    log.error("notification to %s (%s) dropped: %s", row.receiver, row.target, exc)
                    self.store.delivered(row.id)
                    continue
                self.failed[key] += 1
                delay = min(self.config.retry_max_interval, 2.0 ** min(row.attempts, 16))
                delay *= random.uniform(0.8, 1.2)  # several replicas must not retry in step
                log.warning(
                    "notification to %s (%s) failed, retrying in %.0fs: %s",
                    row.receiver,
                    row.target,
                    delay,
                    exc,
                )
                self.store.failed(row.id, str(exc), now + delay)
                continue
            self.sent[key] += 1
            self.store.delivered(row.id)
            done += 1
        if done:
            self._dirty = True  # the handover state must not list what went out
        return done

    async def _send(self, receiver: ReceiverConfig, target: str, payload: dict[str, Any]) -> None:
        assert self._session is not None
        if target.startswith("apprise:"):
            index = int(target.split(":", 1)[1])
            if index >= len(receiver.apprise):
                raise DeliveryError("apprise URL no longer configured", permanent=True)
            url = receiver.apprise[index].get_secret_value()
            await send_apprise(url, payload["title"], payload["body"], payload["kind"])
        elif target == "pagerduty" and receiver.pagerduty is not None:
            event = {**payload, "routing_key": receiver.pagerduty.routing_key.get_secret_value()}
            await send_pagerduty(self._session, receiver.pagerduty.api_base, event)
        else:
            raise DeliveryError(f"{target} no longer configured", permanent=True)

    async def _deliver_loop(self) -> None:
        while True:
            try:
                await self.deliver_due(time.time())
            except Exception:
                log.exception("notification delivery failed unexpectedly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 1.0)
            self._wake.clear()

    # -- Alertmanager: level-triggered, it groups and routes itself -----------------------

    def alertmanager_alerts(self, receiver: ReceiverConfig, now: float) -> list[dict[str, Any]]:
        assert receiver.alertmanager is not None
        quiet = muted(self.book.alerts.values(), self.silences.values(), self.inhibitions, now)
        horizon = 3 * receiver.alertmanager.resend_interval
        out = []
        for alert in self.book.alerts.values():
            if alert.state is State.PENDING or alert.fingerprint in quiet:
                continue
            labels = alert.finding.all_labels()
            if labels["severity"] not in receiver.severities:
                continue
            ends = now + horizon if alert.state is State.FIRING else alert.resolved_at or now
            out.append(
                {
                    "labels": {"alertname": alert.finding.rule, **labels},
                    "annotations": {
                        "summary": alert.finding.summary,
                        "runbook_url": alert.finding.runbook,
                    },
                    "startsAt": _iso(alert.fired_at or alert.active_since),
                    "endsAt": _iso(ends),
                }
            )
        return out

    async def _alertmanager_loop(self) -> None:
        assert self._session is not None
        while True:
            now = time.time()
            for receiver in self.config.receivers if self.is_notifier else []:
                am = receiver.alertmanager
                if am is None or now - self._am_sent.get(receiver.name, 0) < am.resend_interval:
                    continue
                key = (receiver.name, "alertmanager")
                try:
                    await post_alertmanager(
                        self._session, am.url, self.alertmanager_alerts(receiver, now)
                    )
                except DeliveryError as exc:
                    self.failed[key] += 1
                    log.warning("Alertmanager %s: %s (retrying)", receiver.name, exc)
                else:
                    self.sent[key] += 1
                    self._am_sent[receiver.name] = now
            await asyncio.sleep(1.0)

    # -- silences (HTTP API) --------------------------------------------------------------

    def add_silence(
        self,
        matchers: dict[str, str],
        ends_at: float,
        comment: str,
        created_by: str,
        starts_at: float | None = None,
    ) -> Silence:
        silence = Silence(
            uuid.uuid4().hex[:12],
            matchers,
            starts_at or time.time(),
            ends_at,
            comment,
            created_by,
        )
        self.silences[silence.id] = silence
        self._save_silences()
        return silence

    def expire_silence(self, silence_id: str) -> bool:
        found = self.silences.pop(silence_id, None)
        self._save_silences()
        return found is not None

    def _save_silences(self) -> None:
        assert self.store is not None
        kept = [s.to_json() for s in self.silences.values() if s.created_by != "config"]
        self.store.save({"silences": kept})


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"
