"""The status view and page from published values: what is at risk comes first, names are
escaped, the page has its landmarks and says everything in words."""

from __future__ import annotations

import dataclasses
import html.parser
import json
import math

from kafka_watchdog.alerting.incidents import Alert, State
from kafka_watchdog.alerting.matching import Silence
from kafka_watchdog.alerting.status import AlertingStatus
from kafka_watchdog.detection.assess import assess
from kafka_watchdog.model.disks import BrokerDisks, LogDir
from kafka_watchdog.model.events import (
    Event,
    EventKind,
    IsrChange,
    UncleanElection,
)
from kafka_watchdog.model.foresight import GroupForesight, PartitionForesight, TopicForesight
from kafka_watchdog.model.health import ClusterHealth
from kafka_watchdog.model.lag import GroupLag, LagStatus, PartitionLag
from kafka_watchdog.model.lag_history import LagSeries
from kafka_watchdog.model.snapshot import (
    Broker,
    ClusterSnapshot,
    PartitionState,
    TopicConfig,
    TopicState,
    frozen_map,
)
from kafka_watchdog.model.state import ClusterState
from kafka_watchdog.rules.finding import Finding
from kafka_watchdog.web import status_page, status_view

NOW = 1_800_000_000.0
EVIL = "<script>alert(1)</script>"
EVIL_GROUP = '<img src=x onerror="alert(2)">'


def state() -> ClusterState:
    parts = (
        PartitionState(EVIL, 0, 1, (1, 2, 3), (1, 2)),  # under-replicated
        PartitionState(EVIL, 1, -1, (3,), (3,)),  # offline
        PartitionState(EVIL, 2, 1, (1, 2, 3), (1,)),  # under min ISR
        PartitionState(EVIL, 3, 1, (1, 2, 3), (1, 2, 3)),
    )
    snap = ClusterSnapshot(
        "prod",
        NOW - 2,
        "cid",
        frozen_map({i: Broker(i, f"b{i}", 9092) for i in (1, 2)}),
        1,
        topics=frozen_map({EVIL: TopicState(EVIL, parts, config=TopicConfig(2))}),
    )
    health = ClusterHealth("prod")
    health = health.with_stage(health.admin.succeeded(NOW - 2, NOW - 1))
    lag = {
        "calm": GroupLag(
            "calm", "Stable", 2, (PartitionLag(EVIL, 3, 9, 10, 1, 0.5, LagStatus.OK),), LagStatus.OK
        ),
        EVIL_GROUP: GroupLag(
            EVIL_GROUP,
            "Empty",
            0,
            (PartitionLag(EVIL, 0, 0, 500, 500, 900.0, LagStatus.STOP),),
            LagStatus.STOP,
        ),
    }
    foresight = {
        EVIL_GROUP: GroupForesight(
            EVIL_GROUP,
            frozen_map({EVIL: TopicForesight(EVIL, math.inf, 120.0, 0)}),
            (PartitionForesight(EVIL, 0, None, math.inf, 120.0, "time"),),
        ),
        "calm": GroupForesight(
            "calm",
            frozen_map({EVIL: TopicForesight(EVIL, 0.0, math.inf)}),
            (PartitionForesight(EVIL, 3, None, 0.0, math.inf),),
        ),
    }
    events = (
        Event(EventKind.ISR_SHRINK, "prod", "s", IsrChange((1, 2, 3), (1, 2)), NOW - 5,
              topic=EVIL, partition=0, detail=f"{EVIL}-0: ISR shrank"),
        Event(EventKind.UNCLEAN_LEADER_ELECTION, "prod", "s",
              UncleanElection((1, (1,)), (3, (3,))), NOW - 50, topic=EVIL, partition=1,
              detail=f"{EVIL}-1: unclean leader election"),
        Event(EventKind.ISR_SHRINK, "prod", "s", IsrChange((1, 2, 3), (1,)), NOW - 4,
              topic=EVIL, partition=2, detail=f"{EVIL}-2: ISR shrank"),
    )  # fmt: skip
    disks = {
        2: BrokerDisks(
            2,
            frozen_map(
                {
                    "/d0": LogDir("/d0", None, frozen_map({(EVIL, 3): 2048}), 10**9, 10**8, 1.0),
                    "/d1": LogDir("/d1", "KAFKA_STORAGE_ERROR", frozen_map({(EVIL, 0): 7})),
                }
            ),
            NOW,
        )
    }
    base = ClusterState(
        "prod",
        health,
        stale_after=60,
        snapshot=snap,
        assessment=assess(snap, 2),
        events=events,
        lag=frozen_map(lag),
        foresight=frozen_map(foresight),
        lag_history=frozen_map({EVIL_GROUP: LagSeries(NOW - 3600, 30.0, (100, None, 300))}),
        log_dirs=frozen_map(disks),
        known_brokers=frozenset({1, 2, 3}),
    )
    return dataclasses.replace(base, version=1)


def alerting() -> AlertingStatus:
    found = Finding("retention_risk", "critical", {"kafka_cluster": "prod", "group": EVIL_GROUP},
                    f"group {EVIL_GROUP} loses records")  # fmt: skip
    other = Finding("consumer_lag", "warning", {"kafka_cluster": "prod", "group": "calm"}, "lag")
    return AlertingStatus(
        alerts=(
            Alert(other, State.FIRING, NOW - 100, NOW, fired_at=NOW - 90),
            Alert(found, State.FIRING, NOW - 60, NOW, fired_at=NOW - 30),
            Alert(other, State.PENDING, NOW - 5, NOW),
        ),
        silences=(Silence("s1", {"group": "calm"}, NOW - 10, NOW + 3600, "deploy", EVIL),),
    )


def test_the_view_puts_what_is_at_risk_first() -> None:
    view = status_view.build([state()], alerting(), NOW)
    json.dumps(view, allow_nan=False)  # plain JSON: no Infinity, no NaN
    (c,) = view["clusters"]
    assert [p["state"] for p in c["at_risk"]] == ["offline", "under min ISR", "under-replicated"]
    assert c["events"][0]["kind"] == "unclean_leader_election"  # loss on top, then newest
    assert [e["kind"] for e in c["events"][1:]] == ["isr_shrink", "isr_shrink"]
    assert c["events"][1]["at"] > c["events"][2]["at"]
    assert [g["group"] for g in c["groups"]] == [EVIL_GROUP, "calm"]
    evil = c["groups"][0]
    assert (evil["catchup_seconds"], evil["retention_seconds"]) == ("never", 120.0)
    assert evil["retention_partition"] == f"{EVIL}-0"
    assert evil["history"] == [[NOW - 3600, 100], [NOW - 3540, 300]]
    assert [a["rule"] for a in view["alerts"]] == ["retention_risk", "consumer_lag"]
    assert view["alerts"][1]["silenced_by"] == ["s1"] and view["pending_alerts"] == 1
    assert view["silences"][0]["created_by"] == EVIL
    broker2 = next(b for b in c["brokers"] if b["id"] == 2)
    assert [d["online"] for d in broker2["log_dirs"]] == [True, False]
    assert broker2["log_dirs"][0]["growth_bytes_per_hour"] == 3600
    assert [b["up"] for b in c["brokers"]] == [True, True, False]  # 3 known, not registered


class Landmarks(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.scripts = 0
        self.headers_without_scope = 0
        self.svg_labels: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        found = dict(attrs)
        if tag == "script" or any(k.startswith("on") for k in found):
            self.scripts += 1
        if tag == "th" and "scope" not in found:
            self.headers_without_scope += 1
        if tag == "svg":
            self.svg_labels.append(found.get("aria-label") or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_page_escapes_every_name_and_has_its_landmarks() -> None:
    page = status_page.render(status_view.build([state()], alerting(), NOW), 15)
    assert EVIL not in page and EVIL_GROUP not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    parsed = Landmarks()
    parsed.feed(page)
    assert parsed.scripts == 0  # no element the names could have smuggled in
    for landmark in ("header", "nav", "main", "footer", "section", "table", "caption"):
        assert landmark in parsed.tags, landmark
    assert parsed.headers_without_scope == 0
    assert parsed.svg_labels and parsed.svg_labels[0].startswith("lag over the last hour: rising")
    text = " ".join(parsed.text)
    # Meaning in words, never colour alone.
    for word in ("REACHABLE", "OFFLINE", "UNDER MIN ISR", "UNDER-REPLICATED", "AT RISK", "GONE",
                 "CRITICAL", "DATA AT RISK", "never"):  # fmt: skip
        assert word in text, word
    assert '<meta http-equiv="refresh" content="15">' in page
    assert (
        "refresh"
        not in status_page.render(status_view.build([state()], None, NOW), 0)
        .split("<body>")[0]
        .split("<title>")[0]
    )


def test_formats() -> None:
    assert [status_page.duration(v) for v in (None, "never", 5.0, 600.0, 9000.0, 259200.0)] == [
        "—",
        "never",
        "5s",
        "10m",
        "2.5h",
        "3.0d",
    ]
    assert status_page.size(2048) == "2.0 KiB" and status_page.size(5) == "5 B"
    assert status_page.sparkline([], NOW) is None
    one = status_page.sparkline([[NOW, 5]], NOW)
    assert one is not None and len(one["points"].split()) == 2


def test_a_cluster_without_a_view_shows_its_sources_and_why() -> None:
    health = ClusterHealth("lost")
    health = health.with_stage(health.admin.failed(NOW - 5, NOW - 4, "cannot reach", "timeout"))
    lost = ClusterState("lost", health, stale_after=60)
    view = status_view.build([lost, state()], None, NOW)
    assert view["clusters"][0]["ready"] is False and view["clusters"][0]["groups"] == []
    page = status_page.render(view, 0)
    assert "UNREACHABLE" in page and "cannot reach" in page and "No view of the cluster yet" in page
    assert "Alerting is disabled" in page
