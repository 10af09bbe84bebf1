"""The errors every source raises when a collection fails, wholly or in part."""

from __future__ import annotations

from collections.abc import Mapping
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
    """Part of a collection could not be answered (a missing ACL on some topics or groups, a
    group coordinator that is gone): `value` is the answer for the rest. `unknown` names the
    parts left out (group id or topic -> why, one word), whose last known state the caller
    carries; `incomplete` says the listing itself missed some (a broker did not answer
    ListGroups), so parts nobody has seen may exist."""

    def __init__(
        self,
        message: str,
        value: Any,
        reason: str = kafka_errors.AUTHORIZATION,
        unknown: Mapping[Any, str] | None = None,
        incomplete: bool = False,
    ) -> None:
        super().__init__(message, reason)
        self.value = value
        self.unknown: Mapping[Any, str] = dict(unknown or {})
        self.incomplete = incomplete

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            type(self),
            (str(self), self.value, self.reason, dict(self.unknown), self.incomplete),
        )
