"""Delivery to the outside world, one Sender per destination: apprise, PagerDuty Events API
v2, Alertmanager API v2.

A receiver's config section says which senders it has (`senders_for`): each typed section
(an apprise URL, `pagerduty`, `alertmanager`) makes one sender, chosen by that section's
type. A sender turns a grouped notification into the payload kept in the outbox (no secret
in it: keys and URLs are added at send time) and sends payloads. Every send raises
`DeliveryError` on failure; `permanent` failures (the receiver refuses the request as such)
are not retried, the others are, from the outbox.

To add a notification target: a config section in ReceiverConfig, a Sender class here,
and one line in `senders_for`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterable
from typing import Any, Protocol

import aiohttp

from kafka_watchdog.alerting import render
from kafka_watchdog.alerting.dispatch import Notification
from kafka_watchdog.alerting.incidents import Alert, State
from kafka_watchdog.config.alerting import AlertmanagerConfig, PagerDutyConfig, ReceiverConfig

TIMEOUT = aiohttp.ClientTimeout(total=15)

Payload = dict[str, Any]


class DeliveryError(Exception):
    """`permanent`: the receiver refused the request as such (a 4xx but 408/429: a wrong
    webhook, a revoked key), so retrying cannot help: it is dropped and counted.
    `retry_after`: the receiver said when to try again (429/503 Retry-After), seconds."""

    def __init__(
        self, message: str, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


def permanent_status(status: int) -> bool:
    return 400 <= status < 500 and status not in (408, 425, 429)


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        from email.utils import parsedate_to_datetime

        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _http_status(messages: Iterable[str]) -> int | None:
    """apprise reports a failed HTTP call only in its log ("... error=404."): the status
    tells a wrong webhook (permanent) from an outage."""
    for message in messages:
        found = re.search(r"error=(\d{3})\b", message)
        if found:
            return int(found.group(1))
    return None


class Sender(Protocol):
    @property
    def receiver(self) -> str:
        """The receiver (config name) this sender belongs to."""

    @property
    def target(self) -> str:
        """This destination among its receiver's, as outbox rows name it (stable across
        restarts: queued rows find their sender again)."""

    @property
    def kind(self) -> str:
        """apprise | pagerduty | alertmanager: the `target` label of the notification
        metrics."""

    @property
    def grouped(self) -> bool:
        """Takes grouped notifications (through the outbox)."""

    def payload(self, n: Notification, max_listed: int) -> Payload | None:
        """What to queue for a grouped notification; None when this sender does not take
        grouped notifications (Alertmanager groups the alerts itself)."""

    async def send(self, payload: Payload) -> None:
        """Deliver one payload; raises DeliveryError."""


# apprise's NotifyType members by name: apprise (~8 MiB with its plugins) is imported only
# by a daemon that has an apprise receiver, when it first sends.
_NOTIFY_TYPE = {
    "critical": "FAILURE",
    "warning": "WARNING",
    "info": "INFO",
    "resolved": "SUCCESS",
}


class AppriseSender:
    """One apprise URL (Slack, Teams, e-mail, json:// webhooks, ...)."""

    kind = "apprise"
    grouped = True

    def __init__(self, receiver: str, index: int, url: str) -> None:
        self.receiver = receiver
        self.target = f"apprise:{index}"
        self._url = url  # a secret: often holds a token

    def payload(self, n: Notification, max_listed: int) -> Payload:
        worst = (n.firing or n.resolved)[0].finding.severity if (n.firing or n.resolved) else ""
        return {
            "title": render.title(n),
            "body": render.body(n, max_listed),
            "kind": worst if n.firing else "resolved",
        }

    async def send(self, payload: Payload) -> None:
        import apprise

        notifier = apprise.Apprise()
        if not notifier.add(self._url):
            # The URL is a secret: name the scheme only.
            scheme = self._url.split("://", 1)[0]
            raise DeliveryError(f"apprise cannot use this {scheme}:// URL", permanent=True)

        def notify() -> tuple[bool, int | None]:
            said: list[str] = []
            kwargs: dict[str, Any] = {
                "body": payload["body"],
                "title": payload["title"],
                "notify_type": apprise.NotifyType[_NOTIFY_TYPE.get(payload["kind"], "INFO")],
            }
            try:  # apprise >= 2: its log lines of this call, whatever thread sent it
                ok = notifier.notify(
                    **kwargs,
                    log_callback=lambda entry, _service: said.append(str(entry.message)),
                    log_level=logging.WARNING,
                )
            except TypeError:
                ok = notifier.notify(**kwargs)
            return bool(ok), _http_status(said)

        # apprise's notify blocks (it does its own HTTP): keep the event loop free.
        ok, status = await asyncio.to_thread(notify)
        if not ok:
            scheme = self._url.split("://", 1)[0]
            if status is not None:
                raise DeliveryError(
                    f"{scheme}:// answered {status}", permanent=permanent_status(status)
                )
            raise DeliveryError(f"{scheme}:// delivery failed (apprise's log says why)")


async def _post(session: aiohttp.ClientSession, url: str, payload: Any, what: str) -> None:
    try:
        async with session.post(url, json=payload, timeout=TIMEOUT) as response:
            if response.status < 300:
                return
            text = (await response.text())[:300]
            raise DeliveryError(
                f"{what} answered {response.status}: {text}",
                permanent_status(response.status),
                retry_after(response.headers.get("Retry-After"), time.time())
                if response.status in (429, 503)
                else None,
            )
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise DeliveryError(f"{what} unreachable: {type(exc).__name__}: {exc}") from None


class PagerDutySender:
    """PagerDuty Events API v2: one incident per group, keyed by the group key."""

    kind = "pagerduty"
    target = "pagerduty"
    grouped = True

    def __init__(
        self, receiver: str, config: PagerDutyConfig, session: aiohttp.ClientSession
    ) -> None:
        self.receiver = receiver
        self._config = config
        self._session = session

    def payload(self, n: Notification, max_listed: int) -> Payload:
        # The routing key is added at send time: no secret is written to disk.
        return render.pagerduty_event(n, "", max_listed)

    async def send(self, payload: Payload) -> None:
        event = {**payload, "routing_key": self._config.routing_key.get_secret_value()}
        url = self._config.api_base.rstrip("/") + "/v2/enqueue"
        await _post(self._session, url, event, "PagerDuty")


class AlertmanagerSender:
    """Alertmanager API v2: level-triggered. Every alert the receiver takes is re-posted
    every `resend_interval` with `endsAt` ahead; Alertmanager groups and routes itself, so
    grouped notifications are not queued for it."""

    kind = "alertmanager"
    target = "alertmanager"
    grouped = False

    def __init__(
        self,
        receiver: str,
        config: AlertmanagerConfig,
        severities: Iterable[str],
        session: aiohttp.ClientSession,
    ) -> None:
        self.receiver = receiver
        self.resend_interval = config.resend_interval
        self._url = config.url.rstrip("/") + "/api/v2/alerts"
        self._severities = frozenset(severities)
        self._session = session

    def payload(self, n: Notification, max_listed: int) -> None:
        return None

    def _taken(self, alerts: Iterable[Alert], muted: set[str]) -> Iterable[Alert]:
        for alert in alerts:
            if alert.state is State.PENDING or alert.fingerprint in muted:
                continue
            if alert.finding.severity in self._severities:
                yield alert

    def told(self, alerts: Iterable[Alert], muted: set[str]) -> frozenset[tuple[str, str]]:
        """What a push would tell: each alert this receiver takes, and its state. A change
        (an alert fired, resolved, or was silenced) is pushed at once."""
        return frozenset((a.fingerprint, a.state.value) for a in self._taken(alerts, muted))

    def alerts(self, alerts: Iterable[Alert], muted: set[str], now: float) -> Payload:
        """The payload of one push: every alert this receiver takes, as of `now`."""
        horizon = 3 * self.resend_interval
        out = []
        for alert in self._taken(alerts, muted):
            labels = alert.finding.all_labels()
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
        return {"alerts": out}

    async def send(self, payload: Payload) -> None:
        await _post(self._session, self._url, payload["alerts"], "Alertmanager")


def senders_for(receiver: ReceiverConfig, session: aiohttp.ClientSession) -> list[Sender]:
    """Every destination of one receiver, by the type of its config section."""
    out: list[Sender] = [
        AppriseSender(receiver.name, i, url.get_secret_value())
        for i, url in enumerate(receiver.apprise)
    ]
    if receiver.pagerduty is not None:
        out.append(PagerDutySender(receiver.name, receiver.pagerduty, session))
    if receiver.alertmanager is not None:
        out.append(
            AlertmanagerSender(receiver.name, receiver.alertmanager, receiver.severities, session)
        )
    return out


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"
