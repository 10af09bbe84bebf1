"""The application's keys for what the handlers read (published values, silences)."""

from __future__ import annotations

from aiohttp import web

from kafka_watchdog.alerting.silences import Silences
from kafka_watchdog.alerting.status import AlertingStatus
from kafka_watchdog.model.published import Published
from kafka_watchdog.model.state import ClusterBoard
from kafka_watchdog.sinks.metrics import MetricsRenderer

BOARD = web.AppKey("board", ClusterBoard)
RENDERER = web.AppKey("renderer", MetricsRenderer)
ALERTING = web.AppKey("alerting", Published[AlertingStatus])
SILENCES = web.AppKey("silences", Silences)
MAX_SILENCE_DURATION = web.AppKey("max_silence_duration", float)
