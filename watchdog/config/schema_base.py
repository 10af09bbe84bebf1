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
