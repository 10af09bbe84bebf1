"""Secrets: values read from `*_file` / `*_env` keys or held in sensitive keys.

Every secret value is registered here so that the log formatter can scrub it from any
line, whatever code path tried to print it.
"""

from __future__ import annotations

import re
import threading

_lock = threading.Lock()
_values: set[str] = set()
MASK = "***"


def register(value: str) -> None:
    # Very short values would scrub innocent text ("a", "1"); they are weak secrets anyway.
    if len(value) >= 4:
        with _lock:
            _values.add(value)


def register_url(url: str) -> None:
    """An apprise URL: the whole of it, and each part that looks like a token (a path
    segment, user, password or query value of 8+ characters without a dot), since apprise
    and the HTTP libraries log pieces of it (a webhook path, a token alone)."""
    register(url)
    rest = url.split("://", 1)[-1]
    for part in re.split(r"[/:@?&=#,]", rest):
        if len(part) >= 8 and "." not in part:
            register(part)


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
