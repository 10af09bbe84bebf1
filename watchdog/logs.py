"""Logging: one line per event, text for people or JSON for pipelines, secrets scrubbed.

Structured fields go through `extra=` (e.g. `log.warning("...", extra={"kafka_cluster": n})`)
and appear as key=value in text and as keys in JSON.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any, TextIO

from kafka_watchdog.config import secrets

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


def _timestamp(record: logging.LogRecord) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{stamp}.{int(record.msecs):03d}Z"


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        for key, value in _fields(record).items():
            text = str(value)
            line += f" {key}={json.dumps(text) if (' ' in text or not text) else text}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return secrets.scrub(line)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        doc.update(_fields(record))
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return secrets.scrub(json.dumps(doc, default=str))


# Loggers of the libraries that handle notification URLs (apprise and the HTTP stacks it
# uses): any URL they print is cut to its scheme, since its host, path, user and query may
# all be tokens (slack://TOKEN_A/TOKEN_B/TOKEN_C).
_URL_LOGGERS = ("apprise", "urllib3", "requests", "aiohttp.client")
_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]{1,31})://[^\s'\"<>]+")


class Redact(logging.Filter):
    """On the handler, so it sees every record of every logger, ours and the libraries':
    configured secret values are replaced (config/secrets.py knows them all), and in the
    URL-handling libraries' records every URL is cut to its scheme."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = secrets.scrub(message)
        if record.name.split(".")[0] in _URL_LOGGERS or record.name == "aiohttp.client":
            cleaned = _URL.sub(lambda m: f"{m.group(1)}://***", cleaned)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def setup_logging(fmt: str = "text", level: str = "info", stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(Redact())
    handler.setLevel(level.upper())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # kazoo warns on every reconnect attempt (twice a second while ZooKeeper is down); the
    # watcher logs one line per change of session state instead.
    for noisy in ("kazoo", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(logging.ERROR, root.level))
    # kafka-python (the quorum client) logs every connection, and every failed one at ERROR;
    # the quorum stage reports its own failures (log, metrics, /readyz) once per change.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    # apprise reports a failed delivery's HTTP status only in a WARNING record, which the
    # sender reads (alerting/senders.py): keep those records made even at level error (the
    # handler's level still decides what is printed).
    logging.getLogger("apprise").setLevel(min(logging.WARNING, root.level))
