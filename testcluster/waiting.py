"""Polling with a deadline and a failure message that says what was awaited and what was seen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """Raised by `wait_for`; an AssertionError so pytest shows it as a test failure."""


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
    cluster settles); the last one is quoted if the deadline passes.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    error: BaseException | None = None
    while True:
        try:
            result = predicate()
            if result:
                return result
            last, error = result, None
        except Exception as exc:
            error = exc
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    message = f"timed out after {timeout:g}s waiting for {what}; last result: {last!r}"
    if error is not None:
        message += f"; last error: {type(error).__name__}: {error}"
    if diagnostics is not None:
        message += "\n" + diagnostics()
    raise WaitTimeout(message)
