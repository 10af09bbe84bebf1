"""What the Admin API source needs to know of a cluster, small enough to hand to a worker.

`AdminSource` reads a few fields of a cluster's config: its name, bootstrap servers,
librdkafka properties, OAUTHBEARER provider and topic/group filters. `AdminCluster` says so
as a protocol, which the full `ClusterConfig` satisfies. `ClusterSpec` is a plain frozen
copy of those fields: the Admin API worker process (sources/admin_worker.py) receives it
instead of the config, so it never imports pydantic, the config models or anything else
the daemon's main process needs (the worker's memory is the interpreter plus librdkafka).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class NameMatcher(Protocol):
    def allows(self, name: str) -> bool: ...


class AdminCluster(Protocol):
    """The part of a cluster's config the Admin API source reads."""

    @property
    def name(self) -> str: ...

    @property
    def bootstrap_servers(self) -> Sequence[str]: ...

    @property
    def oauthbearer(self) -> Any: ...

    @property
    def topics(self) -> NameMatcher: ...

    @property
    def groups(self) -> NameMatcher: ...

    def client_properties(self) -> dict[str, str]: ...


# A compiled pattern as (pattern, flags): what re.compile needs to make it again.
Pattern = tuple[str, int]


def _patterns(compiled: Sequence[re.Pattern[str]]) -> tuple[Pattern, ...]:
    return tuple((p.pattern, p.flags) for p in compiled)


@dataclass(frozen=True)
class Names:
    """A NameFilter's regexes, matched the same way (re.fullmatch; included and not
    excluded)."""

    include: tuple[Pattern, ...]
    exclude: tuple[Pattern, ...] = ()
    _compiled: tuple[list[re.Pattern[str]], list[re.Pattern[str]]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        compiled = (
            [re.compile(p, f) for p, f in self.include],
            [re.compile(p, f) for p, f in self.exclude],
        )
        object.__setattr__(self, "_compiled", compiled)

    @classmethod
    def of(cls, matcher: Any) -> Names:
        """From a config NameFilter (lists of compiled patterns)."""
        return cls(_patterns(matcher.include), _patterns(matcher.exclude))

    def allows(self, name: str) -> bool:
        include, exclude = self._compiled
        return any(p.fullmatch(name) for p in include) and not any(
            p.fullmatch(name) for p in exclude
        )


@dataclass(frozen=True)
class ClusterSpec:
    """A frozen copy of what `AdminCluster` exposes (picklable, no pydantic inside unless
    an OAUTHBEARER provider is configured: its config model is carried as it is)."""

    name: str
    bootstrap_servers: tuple[str, ...]
    properties: tuple[tuple[str, str], ...]
    topics: Names
    groups: Names
    oauthbearer: Any = None

    @classmethod
    def of(cls, cluster: AdminCluster) -> ClusterSpec:
        props = cluster.client_properties()
        return cls(
            name=cluster.name,
            bootstrap_servers=tuple(cluster.bootstrap_servers),
            properties=tuple(sorted(props.items())),
            topics=Names.of(cluster.topics),
            groups=Names.of(cluster.groups),
            oauthbearer=cluster.oauthbearer,
        )

    def client_properties(self) -> dict[str, str]:
        return dict(self.properties)
