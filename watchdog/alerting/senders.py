"""Delivery to the outside world: apprise, PagerDuty Events API v2, Alertmanager API v2.

Every sender raises `DeliveryError` on failure; `permanent` failures (the receiver refuses
the request as such) are not retried, the others are, from the outbox.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import apprise

TIMEOUT = aiohttp.ClientTimeout(total=15)


class DeliveryError(Exception):
    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


_NOTIFY_TYPE = {
    "critical": apprise.NotifyType.FAILURE,
    "warning": apprise.NotifyType.WARNING,
    "info": apprise.NotifyType.INFO,
    "resolved": apprise.NotifyType.SUCCESS,
}


async def send_apprise(url: str, title: str, body: str, kind: str) -> None:
    notifier = apprise.Apprise()
    if not notifier.add(url):
        # The URL is a secret: name the scheme only.
        scheme = url.split("://", 1)[0]
        raise DeliveryError(f"apprise cannot use this {scheme}:// URL", permanent=True)
    # apprise's notify blocks (it does its own HTTP): keep the event loop free.
    ok = await asyncio.to_thread(
        notifier.notify,
        body=body,
        title=title,
        notify_type=_NOTIFY_TYPE.get(kind, apprise.NotifyType.INFO),
    )
    if not ok:
        raise DeliveryError("apprise reported a failed delivery (see its log above)")


async def _post(session: aiohttp.ClientSession, url: str, payload: Any, what: str) -> None:
    try:
        async with session.post(url, json=payload, timeout=TIMEOUT) as response:
            if response.status < 300:
                return
            text = (await response.text())[:300]
            permanent = 400 <= response.status < 500 and response.status not in (408, 429)
            raise DeliveryError(f"{what} answered {response.status}: {text}", permanent)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise DeliveryError(f"{what} unreachable: {type(exc).__name__}: {exc}") from None


async def send_pagerduty(
    session: aiohttp.ClientSession, api_base: str, event: dict[str, Any]
) -> None:
    await _post(session, api_base.rstrip("/") + "/v2/enqueue", event, "PagerDuty")


async def post_alertmanager(
    session: aiohttp.ClientSession, url: str, alerts: list[dict[str, Any]]
) -> None:
    await _post(session, url.rstrip("/") + "/api/v2/alerts", alerts, "Alertmanager")
