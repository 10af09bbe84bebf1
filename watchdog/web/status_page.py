"""The status page at `/`: the status view (web/status_view.py) as server-rendered HTML.

Jinja2 with autoescape on: every name (topic, group, host, alert summary) is escaped, so a
group named `<script>alert(1)</script>` shows as text. No script at all, no build step; the
page refreshes itself (`?refresh=SECONDS`, 0 stops it) and the sparklines are inline SVG.
"""

from __future__ import annotations

import datetime
import math
import time
from collections.abc import Sequence
from typing import Any

import jinja2
from aiohttp import web

from kafka_watchdog.web import status_view
from kafka_watchdog.web.keys import ALERTING, BOARD

DEFAULT_REFRESH = 15
MAX_REFRESH = 3600
_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("kafka_watchdog.web", "templates"),
    autoescape=True,  # every {{ }} is escaped, names included
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def duration(value: float | str | None) -> str:
    """12s, 4m, 2.5h, 3.0d, never; an em dash for unknown."""
    if value is None:
        return "—"
    if value == "never" or (isinstance(value, float) and math.isinf(value)):
        return "never"
    v = float(value)
    if v < 120:
        return f"{v:.0f}s"
    if v < 7200:
        return f"{v / 60:.0f}m"
    if v < 172800:
        return f"{v / 3600:.1f}h"
    return f"{v / 86400:.1f}d"


def size(value: float | None) -> str:
    if value is None:
        return "—"
    n = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def clock(value: float | None) -> str:
    if value is None:
        return "—"
    return datetime.datetime.fromtimestamp(value, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def sparkline(
    points: Sequence[Sequence[float]], now: float, width: int = 120, height: int = 28
) -> dict[str, Any] | None:
    """SVG polyline coordinates of (time, lag) over the last hour, and a sentence that says
    what the picture shows (for screen readers)."""
    if not points:
        return None
    span = 3600.0
    top = max(v for _, v in points) or 1
    xy = [
        (width * max(0.0, min(1.0, 1 - (now - t) / span)), height - 2 - (height - 4) * (v / top))
        for t, v in points
    ]
    if len(xy) == 1:  # one point: a short flat line, so it shows
        xy.insert(0, (max(0.0, xy[0][0] - 4), xy[0][1]))
    coords = [f"{x:.1f},{y:.1f}" for x, y in xy]
    first, last = points[0][1], points[-1][1]
    trend = "rising" if last > first else "falling" if last < first else "flat"
    return {
        "points": " ".join(coords),
        "width": width,
        "height": height,
        "label": f"lag over the last hour: {trend}, from {first:,.0f} to {last:,.0f} messages "
        f"(peak {top:,.0f})",
    }


def iso(value: float) -> str:
    return datetime.datetime.fromtimestamp(value, datetime.UTC).isoformat(timespec="seconds")


_ENV.filters.update(duration=duration, size=size, clock=clock, iso=iso)
_ENV.globals.update(sparkline=sparkline)


def render(view: dict[str, Any], refresh: int) -> str:
    return _ENV.get_template("status.html").render(view=view, refresh=refresh)


def _refresh(request: web.Request) -> int:
    raw = request.query.get("refresh", str(DEFAULT_REFRESH))
    try:
        value = int(raw)
    except ValueError:
        raise web.HTTPBadRequest(
            text=f"refresh must be a whole number of seconds (0 stops it), not {raw[:40]!r}\n"
        ) from None
    return max(0, min(value, MAX_REFRESH))


def current_view(
    request: web.Request, groups_shown: int = status_view.GROUPS_SHOWN
) -> dict[str, Any]:
    states = request.app[BOARD].states()
    only = request.query.get("cluster")
    if only is not None:
        states = tuple(s for s in states if s.name == only)
        if not states:
            raise web.HTTPNotFound(text=f"no cluster named {only[:100]!r}\n")
    published = request.app.get(ALERTING)
    alerting = published.value if published is not None else None
    return status_view.build(states, alerting, time.time(), groups_shown=groups_shown)


async def page(request: web.Request) -> web.Response:
    refresh = _refresh(request)
    return web.Response(
        text=render(current_view(request), refresh),
        content_type="text/html",
        headers={
            "Cache-Control": "no-store",
            # Nothing on the page runs or loads from elsewhere: say so to the browser.
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
            "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def api_status(request: web.Request) -> web.Response:
    """The same view as JSON (`?groups=N` for more groups, `?cluster=NAME` for one)."""
    raw = request.query.get("groups", str(status_view.GROUPS_SHOWN))
    if not raw.isdigit():
        raise web.HTTPBadRequest(text="groups must be a whole number\n")
    return web.json_response(current_view(request, min(int(raw), 100_000)))
