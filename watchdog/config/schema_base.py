"""Shared pieces of the config models (kept apart so that sections can be split out)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class NameFilter(StrictModel):
    """Regexes matched against the whole name (re.fullmatch)."""

    include: list[re.Pattern[str]] = Field(
        default_factory=lambda: [re.compile(".*")],
        description="Names to watch: a name is watched if it fully matches one of these.",
    )
    exclude: list[re.Pattern[str]] = Field(
        default_factory=list,
        description="Names to ignore even when included.",
    )

    def allows(self, name: str) -> bool:
        return any(p.fullmatch(name) for p in self.include) and not any(
            p.fullmatch(name) for p in self.exclude
        )


def _split_list(value: object) -> object:
    """Accept "a:9092,b:9092" as well as a YAML list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _host_port(value: str, what: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{what} {value!r} must be host:port with a port between 1 and 65535")
    return value
