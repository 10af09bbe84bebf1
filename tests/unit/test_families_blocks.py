"""A family built in blocks as it goes (`Families.compact(BLOCK_LINES)` in the hot loops)
renders exactly as one built at once, with its samples in the order they were added."""

from __future__ import annotations

from kafka_watchdog.sinks.metrics.families import BLOCK_LINES, Families, render


def _build(compact_every: int | None) -> Families:
    fams = Families()
    lag = fams.gauge("consumergroup_lag", ["kafka_cluster", "group", "topic", "partition"])
    members = fams.gauge("consumergroup_members", ["kafka_cluster", "group"])
    for group in range(7):
        members.add_metric(["c", f"g{group}"], group)
        for partition in range(BLOCK_LINES // 3):
            lag.add_metric(["c", f"g{group}", 't"q', str(partition)], partition * 1.5)
        if compact_every is not None:
            fams.compact(compact_every)
    fams.compact()
    return fams


def test_blocks_render_exactly_as_one_build() -> None:
    whole = b"".join(render([_build(None)], openmetrics=False))
    in_blocks = _build(BLOCK_LINES)
    assert b"".join(render([in_blocks], openmetrics=False)) == whole
    family = next(f for f in in_blocks if f.name.endswith("consumergroup_lag"))
    # 7 * 682 samples in blocks of at least BLOCK_LINES, and none held as strings.
    assert len(family.blocks) == 2 and family.lines == []
    assert whole.count(b"\n") == 2 * 2 + 7 + 7 * (BLOCK_LINES // 3)


def test_a_family_with_fewer_pending_lines_stays_as_strings_until_the_end() -> None:
    fams = Families()
    members = fams.gauge("consumergroup_members", ["kafka_cluster", "group"])
    members.add_metric(["c", "g"], 1)
    fams.compact(BLOCK_LINES)
    assert members.blocks == [] and len(members.lines) == 1
    fams.compact()
    assert members.blocks == [
        b'kafka_watchdog_consumergroup_members{kafka_cluster="c",group="g"} 1\n'
    ]
