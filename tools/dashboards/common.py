"""What every dashboard shares: variables, panel kinds, the grid, and what each query is
expected to return.

The dashboards are built with grafana-foundation-sdk (Grafana 11.6 types) and written as JSON
by `python -m tools.generate`; nobody edits the JSON. Each panel query is a `Query`, which also
says when it may come back empty, so the integration test (a real Prometheus scraping a real
cluster in a known state) can insist that every other query returns data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.builders import stat as stat_panel
from grafana_foundation_sdk.builders import table as table_panel
from grafana_foundation_sdk.builders import timeseries as ts_panel
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.variants import Dataquery
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import prometheus as pm

# Panels and variables name the datasource through the `datasource` variable: this imports
# and provisions from a file as it is, where an export's ${DS_...} input placeholders cannot be
# resolved by file provisioning.
DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
GRID_WIDTH = 24
TAGS = ["kafka", "kafka-watchdog"]
BOTH = ("zookeeper", "kraft")


def cluster_matcher(*extra: str) -> str:
    """`{kafka_cluster=~"$kafka_cluster", ...}`: every query is filtered by the variable."""
    return "{" + ", ".join(['kafka_cluster=~"$kafka_cluster"', *extra]) + "}"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""
    # Why this query may return nothing while the cluster runs fine (it needs an event, a
    # fault, a notification...): the integration test then does not require data from it.
    empty_ok: str = ""
    # Cluster modes where data is expected (ZooKeeper- or KRaft-only metrics).
    modes: tuple[str, ...] = BOTH


@dataclass(frozen=True)
class Expectation:
    """One query of a generated dashboard, as the integration test checks it."""

    dashboard: str
    panel: str
    ref_id: str
    expr: str
    empty_ok: str
    modes: tuple[str, ...]


@dataclass
class Board:
    """A dashboard under construction: rows of panels laid out left to right."""

    title: str
    uid: str
    description: str
    variables: list[Builder[dm.VariableModel]]
    expectations: list[Expectation] = field(default_factory=list)
    _builder: db.Dashboard | None = None
    _next_id: int = 1
    _x: int = 0
    _y: int = 0
    _row_height: int = 0

    def __post_init__(self) -> None:
        builder = (
            db.Dashboard(self.title)
            .uid(self.uid)
            .description(self.description)
            .tags(TAGS)
            .editable()
            .refresh("30s")
            .time("now-3h", "now")
            .timezone("browser")
            .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        )
        for variable in self.variables:
            builder = builder.with_variable(variable)
        self._builder = builder

    def _place(self, width: int, height: int) -> dm.GridPos:
        if self._x + width > GRID_WIDTH:
            self._x, self._y = 0, self._y + self._row_height
            self._row_height = 0
        pos = dm.GridPos(h=height, w=width, x=self._x, y=self._y)
        self._x += width
        self._row_height = max(self._row_height, height)
        return pos

    def row(self, title: str) -> Board:
        assert self._builder is not None
        if self._x:
            self._x, self._y = 0, self._y + self._row_height
        row = (
            db.Row(title).id(self._next_id).grid_pos(dm.GridPos(h=1, w=GRID_WIDTH, x=0, y=self._y))
        )
        self._next_id += 1
        self._y += 1
        self._row_height = 0
        self._builder = self._builder.with_row(row)
        return self

    def add(self, panel: Panel, width: int = 8, height: int = 8) -> Board:
        assert self._builder is not None
        built = panel.builder.id(self._next_id).grid_pos(self._place(width, height))
        self._next_id += 1
        for ref, query in zip(REF_IDS, panel.queries, strict=False):
            self.expectations.append(
                Expectation(self.title, panel.title, ref, query.expr, query.empty_ok, query.modes)
            )
        self._builder = self._builder.with_panel(built)
        return self

    def json(self) -> str:
        assert self._builder is not None
        return json.dumps(self._builder.build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


REF_IDS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass
class Panel:
    title: str
    queries: Sequence[Query]
    builder: Any  # a grafana_foundation_sdk panel builder


def _targets(queries: Sequence[Query], *, instant: bool, table: bool) -> list[Builder[Dataquery]]:
    if len(queries) > len(REF_IDS):
        raise ValueError("too many queries for one panel")
    targets: list[Builder[Dataquery]] = []
    for ref, query in zip(REF_IDS, queries, strict=False):
        target = prom.Dataquery().expr(query.expr).ref_id(ref).datasource(DATASOURCE)
        if query.legend:
            target = target.legend_format(query.legend)
        target = target.instant() if instant else target.range()
        if table:
            target = target.format(pm.PromQueryFormat.TABLE)
        targets.append(target)
    return targets


def thresholds(*steps: tuple[float | None, str]) -> db.ThresholdsConfig:
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=value, color=color) for value, color in steps])
    )


GOOD_IS_ZERO = thresholds((None, "green"), (1, "red"))
GOOD_IS_ONE = thresholds((None, "red"), (1, "green"))


def value_names(names: dict[str, tuple[str, str]]) -> list[dm.ValueMapping]:
    """Numbers shown as words: {"1": ("up", "green")}."""
    return [
        dm.ValueMap(
            options={
                value: dm.ValueMappingResult(text=text, color=color, index=i)
                for i, (value, (text, color)) in enumerate(names.items())
            }
        )
    ]


def timeseries(
    title: str,
    description: str,
    queries: Sequence[Query],
    unit: str = "short",
    *,
    bars: bool = False,
    stacked: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
) -> Panel:
    builder = (
        ts_panel.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(_targets(queries, instant=False, table=False))
        .unit(unit)
        .line_width(1)
        .fill_opacity(30 if stacked or bars else 10)
        .legend(
            cb.VizLegendOptions()
            .show_legend(True)
            .display_mode(cm.LegendDisplayMode.TABLE)
            .placement(cm.LegendPlacement.BOTTOM)
            .calcs(["lastNotNull", "max"])
        )
        .tooltip(
            cb.VizTooltipOptions().mode(cm.TooltipDisplayMode.MULTI).sort(cm.SortOrder.DESCENDING)
        )
    )
    if bars:
        builder = builder.draw_style(cm.GraphDrawStyle.BARS)
    if stacked:
        builder = builder.stacking(cb.StackingConfig().mode(cm.StackingMode.NORMAL))
    if minimum is not None:
        builder = builder.min(minimum)
    if maximum is not None:
        builder = builder.max(maximum)
    return Panel(title, queries, builder)


def stat(
    title: str,
    description: str,
    queries: Sequence[Query],
    unit: str = "short",
    *,
    colors: db.ThresholdsConfig | None = None,
    mappings: list[dm.ValueMapping] | None = None,
) -> Panel:
    builder = (
        stat_panel.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(_targets(queries, instant=True, table=False))
        .unit(unit)
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .color_mode(cm.BigValueColorMode.BACKGROUND if colors else cm.BigValueColorMode.NONE)
        .graph_mode(cm.BigValueGraphMode.NONE)
        .text_mode(cm.BigValueTextMode.VALUE_AND_NAME)
        .thresholds(colors or thresholds((None, "text")))
    )
    if mappings:
        builder = builder.mappings(mappings)
    return Panel(title, queries, builder)


def table(
    title: str,
    description: str,
    queries: Sequence[Query],
    unit: str = "short",
    *,
    hide: Sequence[str] = (),
) -> Panel:
    """Instant queries as one table: several queries are merged on their common labels (one
    row per label set, a `Value #A`, `Value #B`... column per query)."""
    excluded = {"Time": True, **{name: True for name in hide}}
    builder = (
        table_panel.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(_targets(queries, instant=True, table=True))
        .unit(unit)
        .cell_height(cm.TableCellHeight.SM)
        .footer(cb.TableFooterOptions().show(False).reducer(["sum"]))
    )
    if len(queries) > 1:
        builder = builder.with_transformation(dm.DataTransformerConfig(id_val="merge", options={}))
    builder = builder.with_transformation(
        dm.DataTransformerConfig(id_val="organize", options={"excludeByName": excluded})
    )
    return Panel(title, queries, builder)


def datasource_variable() -> db.DatasourceVariable:
    return (
        db.DatasourceVariable("datasource")
        .label("Data source")
        .type("prometheus")
        .hide(dm.VariableHide.DONT_HIDE)
    )


def label_variable(
    name: str,
    label: str,
    query: str,
    description: str,
    *,
    multi: bool = True,
) -> db.QueryVariable:
    """A variable listing one label's values. With "All" selected it becomes `.*`, which
    also matches series without that label: a dashboard never goes blank because the
    variable has no options yet."""
    return (
        db.QueryVariable(name)
        .label(label)
        .description(description)
        .datasource(DATASOURCE)
        .query(query)
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_CASE_INSENSITIVE_ASC)
        .multi(multi)
        .include_all(True)
        .all_value(".*")
        .current(
            dm.VariableOption(selected=True, text=["All"], value=["$__all"])
            if multi
            else dm.VariableOption(selected=True, text="All", value="$__all")
        )
    )


def cluster_variable(series: str) -> db.QueryVariable:
    return label_variable(
        "kafka_cluster",
        "Cluster",
        f"label_values({series}, kafka_cluster)",
        f"Clusters, from {series}: a series every watched cluster always has.",
    )
