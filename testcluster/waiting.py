"""Polling with a deadline and a failure message that says what was awaited and what was seen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """Raised by `wait_for`; an AssertionError so pytest shows it as a test failure."""


class GiveUp(Exception):
    """Raised by a predicate when waiting longer is pointless (say, the process died)."""


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 30.0,
    what: str = "the condition",
    *,
    interval: float = 0.2,
    diagnostics: Callable[[], str] | None = None,
) -> T:
    """Call `predicate` until it returns something truthy and return that.

    An exception from `predicate` counts as "not yet" (a broker may be unreachable while the
    cluster settles); the last one is quoted if the deadline passes. `GiveUp` propagates.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    # Only the text is kept: a kept exception holds its traceback's frames, whose locals
    # (a Kafka client, say) would then be freed by the cyclic GC on whatever thread it
    # runs, and librdkafka aborts when a handle is destroyed from one of its own threads.
    error: str | None = None
    while True:
        try:
            result = predicate()
            if result:
                return result
            last, error = result, None
        except GiveUp:
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    message = f"timed out after {timeout:g}s waiting for {what}; last result: {last!r}"
    if error is not None:
        message += f"; last error: {error}"
    if diagnostics is not None:
        message += "\n" + diagnostics()
    raise WaitTimeout(message)
