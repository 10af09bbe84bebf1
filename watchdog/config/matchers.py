"""Label matchers: label -> regex over the whole label value, with a linear-time engine.

Python's `re` backtracks: one silence such as `(.*.*.*)*x` froze the event loop (and every
restart, reloaded from the state_dir). RE2 (PyPI google-re2, the engine Alertmanager's Go
regexp follows in syntax and semantics) matches in time linear in the input, refuses
backreferences and lookaround instead of running them, and bounds its own memory. Every
matcher is compiled and checked here, where it comes in (config file, HTTP API, state file),
so a bad one is one clear error and never reaches the evaluation loop.

Pure: no I/O. The config validates with it and alerting matches with it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import re2

# Alertmanager's label name syntax (Prometheus' data model).
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,127}$")
MAX_MATCHERS = 32
MAX_PATTERN = 1024  # characters of one regex
# RE2 refuses a pattern whose program would need more than this (bytes): a bounded cost per
# pattern, whatever its text.
MAX_PROGRAM_MEMORY = 1 << 20

_OPTIONS = re2.Options()
_OPTIONS.max_mem = MAX_PROGRAM_MEMORY
_OPTIONS.log_errors = False  # RE2 would print to stderr; the error is reported by us


class MatcherError(ValueError):
    """A matcher that cannot be used; the message names it and says why."""


@lru_cache(maxsize=4096)
def compiled(pattern: str) -> Any:
    """The compiled RE2 of one pattern, anchored by fullmatch; raises MatcherError."""
    if len(pattern) > MAX_PATTERN:
        raise MatcherError(f"longer than {MAX_PATTERN} characters")
    try:
        return re2.compile(pattern, options=_OPTIONS)
    except re2.error as exc:
        arg = exc.args[0] if exc.args else "invalid"
        why = arg.decode(errors="replace") if isinstance(arg, bytes) else str(arg)
        hint = ""
        if "(?" in pattern and ("(?!" in pattern or "(?=" in pattern or "(?<" in pattern):
            hint = " (lookaround is not supported: list the values you mean instead)"
        elif re.search(r"\\[1-9]", pattern):
            hint = " (backreferences are not supported)"
        raise MatcherError(f"not a valid RE2 regular expression: {why}{hint}") from None


def full_match(pattern: str, value: str) -> bool:
    return compiled(pattern).fullmatch(value) is not None


def matches(matchers: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Every matcher's regex matches its label's whole value (a missing label is "")."""
    return all(full_match(p, labels.get(k, "")) for k, p in matchers.items())


def check_matchers(value: object, *, what: str = "matchers") -> dict[str, str]:
    """A matcher set that can be used: an object of label name -> regex, each compiling.
    Returns it with string keys and values; raises MatcherError naming the bad one."""
    if not isinstance(value, Mapping):
        raise MatcherError(f"{what} must be an object of label -> regex")
    if len(value) > MAX_MATCHERS:
        raise MatcherError(f"{what}: at most {MAX_MATCHERS} matchers")
    out: dict[str, str] = {}
    for label, pattern in value.items():
        if not isinstance(label, str) or not LABEL_NAME.match(label):
            raise MatcherError(
                f"{what}: {str(label)[:64]!r} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)"
            )
        if not isinstance(pattern, str):
            raise MatcherError(f"{what}.{label}: the regex must be a string")
        try:
            compiled(pattern)
        except MatcherError as exc:
            raise MatcherError(f"{what}.{label}: {exc}") from None
        out[label] = pattern
    return out


def check_silence_matchers(value: object) -> dict[str, str]:
    """Alertmanager's rule for silences: at least one matcher, and at least one that does
    not match the empty string (`{rule: ".*"}` alone would mute every alert there is)."""
    matchers = check_matchers(value)
    if not matchers:
        raise MatcherError("matchers: a silence needs at least one matcher")
    if all(full_match(p, "") for p in matchers.values()):
        raise MatcherError(
            "matchers: every matcher also matches the empty string, so this silence would "
            "mute every alert; at least one must require a value (e.g. rule: under_replicated)"
        )
    return matchers
