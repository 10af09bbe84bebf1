"""Secrets: values read from `*_file` / `*_env` keys or held in sensitive keys.

Every secret value is registered here so that the log formatter can scrub it from any
line, whatever code path tried to print it.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_values: set[str] = set()
MASK = "***"


def register(value: str) -> None:
    # Very short values would scrub innocent text ("a", "1"); they are weak secrets anyway.
    if len(value) >= 4:
        with _lock:
            _values.add(value)


def scrub(text: str) -> str:
    if not _values:
        return text
    with _lock:
        values = sorted(_values, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def clear() -> None:
    """For tests."""
    with _lock:
        _values.clear()
