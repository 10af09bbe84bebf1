"""Silences: from the config (fixed) and from the HTTP API (kept in the store)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from kafka_watchdog.alerting.matching import Silence
from kafka_watchdog.alerting.outbox import Outbox
from kafka_watchdog.config.alerting import SilenceConfig
from kafka_watchdog.config.durations import parse_timestamp


class Silences:
    def __init__(
        self, configured: list[SilenceConfig], outbox: Outbox, on_change: Callable[[], None]
    ) -> None:
        self._configured = configured
        self._outbox = outbox
        self._on_change = on_change
        self.by_id: dict[str, Silence] = {}

    async def load(self, now: float) -> None:
        """The API's silences that have not ended yet, then the config's."""
        for saved in await self._outbox.load("silences") or []:
            silence = Silence(**saved)
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
    ) -> Silence:
        silence = Silence(
            uuid.uuid4().hex[:12],
            matchers,
            starts_at or time.time(),
            ends_at,
            comment,
            created_by,
        )
        self.by_id[silence.id] = silence
        await self._save()
        return silence

    async def expire(self, silence_id: str) -> bool:
        found = self.by_id.pop(silence_id, None)
        await self._save()
        return found is not None

    async def _save(self) -> None:
        kept = [s.to_json() for s in self.by_id.values() if s.created_by != "config"]
        await self._outbox.save({"silences": kept})
        self._on_change()
