"""Silences: from the config (fixed) and from the HTTP API (kept in the store).

What the API sends is checked here, as Alertmanager checks it: matchers compile (RE2,
linear time) and at least one of them does not match the empty string; the end is finite,
in the future and at most `max_silence_duration` ahead; the comment and author are short;
at most `max_silences` are kept. A silence read back from the state_dir is checked the same
way and skipped (counted, logged) when it does not pass: no saved silence can stop the
daemon from starting or mute everything. Every change is logged with who made it.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kafka_watchdog.alerting.matching import Silence
from kafka_watchdog.alerting.outbox import Outbox
from kafka_watchdog.config.alerting import SilenceConfig
from kafka_watchdog.config.durations import parse_duration, parse_timestamp
from kafka_watchdog.config.matchers import MatcherError, check_silence_matchers

log = logging.getLogger(__name__)

MAX_COMMENT = 1000  # characters
MAX_AUTHOR = 100
EXPECTED = (
    'expected {"matchers": {"label": "regex"}, "ends_at": "ISO time" or "duration": "2h", '
    '"comment": "...", "created_by": "..."}'
)


class SilenceRejected(ValueError):
    """The request cannot become a silence; the message says why (HTTP 400)."""


class SilenceLimit(Exception):
    """max_silences are kept already (HTTP 409)."""


@dataclass(frozen=True, slots=True)
class SilenceRequest:
    matchers: dict[str, str]
    ends_at: float
    comment: str
    created_by: str


def parse_request(doc: object, now: float, max_duration: float) -> SilenceRequest:
    """A silence from the API's JSON. Pure; raises SilenceRejected."""
    if not isinstance(doc, Mapping):
        raise SilenceRejected(f"the body must be a JSON object; {EXPECTED}")
    unknown = sorted(set(doc) - {"matchers", "ends_at", "duration", "comment", "created_by"})
    if unknown:
        raise SilenceRejected(f"unknown field(s) {', '.join(map(str, unknown))[:200]}; {EXPECTED}")
    if "matchers" not in doc:
        raise SilenceRejected(f"missing matchers; {EXPECTED}")
    try:
        matchers = check_silence_matchers(doc["matchers"])
    except MatcherError as exc:
        raise SilenceRejected(str(exc)) from None
    if ("ends_at" in doc) == ("duration" in doc):
        raise SilenceRejected(f"give exactly one of ends_at and duration; {EXPECTED}")
    try:
        if "ends_at" in doc:
            if not isinstance(doc["ends_at"], str):
                raise ValueError("ends_at must be an ISO 8601 string such as 2026-12-01T06:00Z")
            ends = parse_timestamp(doc["ends_at"])
        else:
            ends = now + parse_duration(doc["duration"])
    except (ValueError, OverflowError) as exc:
        raise SilenceRejected(str(exc)) from None
    if not math.isfinite(ends) or ends <= now:
        raise SilenceRejected("the silence would already be over (ends_at in the past)")
    if ends - now > max_duration:
        raise SilenceRejected(
            f"a silence may last at most {max_duration / 86400:g} days "
            "(alerting.max_silence_duration)"
        )
    comment, author = doc.get("comment", ""), doc.get("created_by", "")
    if not isinstance(comment, str) or not isinstance(author, str):
        raise SilenceRejected("comment and created_by must be strings")
    if len(comment) > MAX_COMMENT:
        raise SilenceRejected(f"comment longer than {MAX_COMMENT} characters")
    if len(author) > MAX_AUTHOR:
        raise SilenceRejected(f"created_by longer than {MAX_AUTHOR} characters")
    return SilenceRequest(matchers, ends, comment, author)


def _loaded(saved: Any) -> Silence:
    """A silence from the state_dir, checked like a new one; raises ValueError."""
    if not isinstance(saved, Mapping):
        raise ValueError("not an object")
    matchers = check_silence_matchers(saved.get("matchers"))
    starts, ends = float(saved["starts_at"]), float(saved["ends_at"])
    if not (math.isfinite(starts) and math.isfinite(ends)):
        raise ValueError("start or end is not finite")
    return Silence(
        str(saved["id"])[:64],
        matchers,
        starts,
        ends,
        str(saved.get("comment", ""))[:MAX_COMMENT],
        str(saved.get("created_by", "api"))[:MAX_AUTHOR],
    )


class Silences:
    def __init__(
        self,
        configured: list[SilenceConfig],
        outbox: Outbox,
        on_change: Callable[[], None],
        max_silences: int = 1000,
    ) -> None:
        self._configured = configured
        self._outbox = outbox
        self._on_change = on_change
        self.max_silences = max_silences
        self.by_id: dict[str, Silence] = {}
        self.skipped = 0  # saved silences that did not pass the checks at load

    async def load(self, now: float) -> None:
        """The API's silences that have not ended yet, then the config's."""
        saved = await self._outbox.load("silences")
        for item in saved if isinstance(saved, list) else []:
            try:
                silence = _loaded(item)
            except (ValueError, KeyError, TypeError) as exc:
                self.skipped += 1
                log.error("a saved silence is unusable and was skipped: %s", str(exc)[:300])
                continue
            if silence.ends_at > now:
                self.by_id[silence.id] = silence
        for i, s in enumerate(self._configured):
            starts = parse_timestamp(s.starts_at) if s.starts_at else now
            sid = f"config-{i}"
            self.by_id[sid] = Silence(
                sid, dict(s.matchers), starts, parse_timestamp(s.ends_at), s.comment
            )

    def all(self) -> tuple[Silence, ...]:
        return tuple(self.by_id.values())

    async def add(
        self,
        matchers: dict[str, str],
        ends_at: float,
        comment: str,
        created_by: str,
        starts_at: float | None = None,
        who: str = "",
    ) -> Silence:
        """Keep a new silence; raises SilenceLimit, or the store's error (nothing kept)."""
        now = time.time()
        kept = [s for s in self.by_id.values() if s.created_by != "config" and s.ends_at > now]
        if len(kept) >= self.max_silences:
            raise SilenceLimit(
                f"{len(kept)} silences are kept already (alerting.max_silences); expire one"
            )
        silence = Silence(
            uuid.uuid4().hex[:12], matchers, starts_at or now, ends_at, comment, created_by
        )
        self.by_id[silence.id] = silence
        try:
            await self._save()
        except Exception:
            del self.by_id[silence.id]
            self._on_change()
            raise
        log.info(
            "silence %s added by %s",
            silence.id,
            who or created_by,
            extra={
                "silence_id": silence.id,
                "user": who or created_by,
                "created_by": created_by,
                "matchers": ",".join(f"{k}=~{v}" for k, v in matchers.items()),
                "ends_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ends_at)),
                "comment": comment[:200],
            },
        )
        return silence

    async def expire(self, silence_id: str, who: str = "") -> bool:
        found = self.by_id.pop(silence_id, None)
        if found is None:
            return False
        try:
            await self._save()
        except Exception:
            self.by_id[silence_id] = found
            self._on_change()
            raise
        log.info(
            "silence %s expired by %s",
            silence_id,
            who or "api",
            extra={"silence_id": silence_id, "user": who or "api"},
        )
        return True

    async def _save(self) -> None:
        kept = [s.to_json() for s in self.by_id.values() if s.created_by != "config"]
        await self._outbox.save({"silences": kept})
        self._on_change()
