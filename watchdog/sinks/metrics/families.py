"""Metric families that format their samples as they are added.

prometheus_client's collector path builds a Sample namedtuple per series and formats it at
exposition time: about 8 us a series, 1.7 s for the 200,000 series of a 10,000-partition
cluster with 1,000 groups. A family here formats each sample line once, with one %-template
per family, and the lines are the same in the Prometheus text format and in OpenMetrics (only
the HELP/TYPE headers and the final `# EOF` differ), so one build serves both formats.

Every family must be declared in `catalogue.py`: its help text comes from there and its type
and labels are checked against it, so /metrics, docs/metrics.md and the dashboards cannot
drift apart. Callers name a family and its labels, never its help.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

from kafka_watchdog.sinks.metrics.catalogue import BY_NAME

PREFIX = "kafka_watchdog_"
# Pending lines a family keeps as strings before `Families.compact(BLOCK_LINES)`, called by
# the hot loops as they go, encodes them into a block: a 10,000-partition build otherwise
# holds all its ~200,000 lines as str objects (about 1.5 times their text) until the end.
BLOCK_LINES = 2048
SCHEDULE_NOTE = " Collected on the watchdog's schedule, not at scrape time."


def escape_label(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")
    return value


def format_value(value: float) -> str:
    if type(value) is int:
        return str(value)
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def label_set(names: Sequence[str], values: Sequence[str]) -> str:
    """`name="value",...` with the values escaped, for `Family.add`."""
    return ",".join(f'{n}="{escape_label(v)}"' for n, v in zip(names, values, strict=True))


class Family:
    """One metric family: its samples are formatted lines, ready to be joined."""

    __slots__ = (
        "_prepared",
        "_template",
        "blocks",
        "documentation",
        "kind",
        "labelnames",
        "lines",
        "name",
    )

    def __init__(self, name: str, kind: str, documentation: str, labelnames: Sequence[str]):
        self.name = name
        self.kind = kind  # "gauge" or "counter"
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self.lines: list[str] = []
        self.blocks: list[bytes] = []  # lines already encoded by `compact`, in order
        sample = name + "_total" if kind == "counter" else name
        # Label names and metric names never hold '%', so the template is safe.
        if self.labelnames:
            pairs = ",".join(f'{label}="%s"' for label in self.labelnames)
            self._template = f"{sample}{{{pairs}}} %s\n"
        else:
            self._template = f"{sample} %s\n"
        self._prepared = f"{sample}{{%s}} %s\n"

    def add_metric(self, labelvalues: Sequence[str], value: float) -> None:
        # A wrong number of label values fails the %-formatting (TypeError).
        self.lines.append(self._template % (*map(escape_label, labelvalues), format_value(value)))

    def add(self, labels: str, value: float) -> None:
        """Add a sample whose labels were made by `label_set` for this family's label names:
        the hot loops make a partition's label string once for all its families."""
        self.lines.append(
            self._prepared % (labels, value if type(value) is int else format_value(value))
        )

    def compact(self, at_least: int = 1) -> None:
        """Encode the pending lines into a block once there are `at_least` of them: a
        cached family then costs its bytes, not a list of 100,000 strings, and a build
        that compacts as it goes never holds them all as strings at once. Blocks are kept
        as they are (joining them would copy the whole family once more)."""
        if self.lines and len(self.lines) >= at_least:
            self.blocks.append("".join(self.lines).encode())
            self.lines = []

    def encoded(self) -> list[bytes]:
        """The samples, as blocks to be written one after the other."""
        return [*self.blocks, "".join(self.lines).encode()] if self.lines else self.blocks

    def header(self, openmetrics: bool) -> str:
        # The text format names a counter's HELP/TYPE after its sample (x_total), the way
        # prometheus_client does; OpenMetrics names the family (x) and requires the suffix
        # on the sample only.
        shown = self.name if openmetrics or self.kind != "counter" else self.name + "_total"
        doc = self.documentation.replace("\\", r"\\").replace("\n", r"\n")
        return f"# HELP {shown} {doc}\n# TYPE {shown} {self.kind}\n"


class Families:
    """Families of one render, created on first use, in first-use order."""

    def __init__(self) -> None:
        self._families: dict[str, Family] = {}

    def _get(self, full: str, kind: str, labels: Sequence[str], scheduled: bool) -> Family:
        if isinstance(labels, str):  # the old (name, help, labels) call
            raise TypeError(
                f"metric {full}: pass (name, labels); its help text is the catalogue's "
                "(sinks/metrics/catalogue.py)"
            )
        family = self._families.get(full)
        if family is None:
            spec = BY_NAME.get(full)
            if spec is None:
                raise ValueError(f"metric {full} is not declared in sinks/metrics/catalogue.py")
            if spec.type != kind or not spec.accepts(tuple(labels)):
                raise ValueError(
                    f"metric {full} is a {kind} with labels {list(labels)}, but the catalogue "
                    f"declares a {spec.type} with labels {list(spec.labels)}"
                )
            family = Family(
                full, kind, spec.help + SCHEDULE_NOTE if scheduled else spec.help, labels
            )
            self._families[full] = family
        elif family.kind != kind or family.labelnames != tuple(labels):
            raise ValueError(f"metric {full} declared twice with different type or labels")
        return family

    # (name, labels) only: a call that still passes a help text (name, help, labels) fails
    # here, loudly, instead of emitting a text the catalogue does not hold.
    def gauge(
        self, name: str, labels: Sequence[str], *, prefix: str = PREFIX, scheduled: bool = True
    ) -> Family:
        return self._get(prefix + name, "gauge", labels, scheduled)

    def counter(self, name: str, labels: Sequence[str], *, prefix: str = PREFIX) -> Family:
        return self._get(prefix + name, "counter", labels, True)

    def __iter__(self) -> Iterator[Family]:
        return iter(self._families.values())

    def compact(self, at_least: int = 1) -> None:
        for family in self._families.values():
            family.compact(at_least)


def render(parts: Sequence[Families], openmetrics: bool) -> list[bytes]:
    """The exposition of `parts` as chunks to be written one after the other (the cached
    families' blocks are not copied into one body). A family present in several parts (one
    part per cluster) is written once, with all its samples together, as both formats
    require. Families without samples are left out."""
    merged: dict[str, list[Family]] = {}
    for part in parts:
        for family in part:
            merged.setdefault(family.name, []).append(family)
    chunks: list[bytes] = []
    for same in merged.values():
        if not any(f.lines or f.blocks for f in same):
            continue
        chunks.append(same[0].header(openmetrics).encode())
        for f in same:
            chunks.extend(f.encoded())
    return chunks
