"""The errors every source raises when a collection fails, wholly or in part."""

from __future__ import annotations

from typing import Any

from kafka_watchdog.sources import kafka_errors


class SourceError(Exception):
    """A collection failed; the message is for people and names what to check.

    `reason` says why in one word (kafka_errors.REASONS: authentication, tls,
    authorization, unreachable, timeout, error), for the metrics and the API."""

    def __init__(self, message: str, reason: str = kafka_errors.ERROR) -> None:
        super().__init__(message)
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        # Crosses the worker process boundary pickled; keep the reason.
        return (type(self), (str(self), self.reason))


class PartialAnswer(SourceError):
    """Part of a collection was refused (a missing ACL on some topics or groups): `value` is
    the answer for the rest, with the last known state carried for the refused part."""

    def __init__(self, message: str, value: Any, reason: str = kafka_errors.AUTHORIZATION) -> None:
        super().__init__(message, reason)
        self.value = value

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.value, self.reason))
