"""The status view (web/status_view.py) as terminal tables, for `kafka-watchdog status`.

Every name is printed as plain text (rich `Text`), never as markup: a group called
`[bold red]x` prints as those characters."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from kafka_watchdog.web.status_page import clock, duration, size

STYLE = {"bad": "bold red", "warn": "yellow", "ok": "green", "info": "cyan"}


def word(text: str, kind: str) -> Text:
    """A state as a word (the meaning), coloured (a repeat of it)."""
    return Text(text, style=STYLE[kind])


def plain(value: object) -> Text:
    return Text("" if value is None else str(value))


def render(view: dict[str, Any], console: Console) -> None:
    console.print(Text(f"kafka-watchdog {view['version']}, as of {clock(view['generated_at'])}"))
    alerts(view, console)
    for c in view["clusters"]:
        cluster(c, console)
    if view["silences"]:
        table = Table(title="Silences", title_justify="left")
        for col in ("id", "matches", "set by", "until", "why"):
            table.add_column(col)
        for s in view["silences"]:
            matchers = ", ".join(f'{k}=~"{v}"' for k, v in s["matchers"].items())
            table.add_row(
                plain(s["id"]),
                plain(matchers),
                plain(s["created_by"]),
                plain(clock(s["ends_at"])),
                plain(s["comment"]),
            )
        console.print(table)


def alerts(view: dict[str, Any], console: Console) -> None:
    if not view["alerting"]:
        console.print(Text("Alerting is disabled."))
        return
    if not view["alerts"]:
        pending = view["pending_alerts"]
        console.print(
            Text.assemble(
                word("OK", "ok"),
                " no alert firing" + (f" ({pending} pending)" if pending else ""),
            )
        )
        return
    table = Table(title=f"Firing alerts ({len(view['alerts'])})", title_justify="left")
    for col in ("severity", "rule", "what", "since", "silenced"):
        table.add_column(col)
    for a in view["alerts"]:
        kind = "bad" if a["severity"] == "critical" else "warn"
        table.add_row(
            word(a["severity"].upper(), kind),
            plain(a["rule"]),
            plain(a["summary"]),
            plain(clock(a["since"])),
            plain(", ".join(a["silenced_by"]) or "no"),
        )
    console.print(table)


def cluster(c: dict[str, Any], console: Console) -> None:
    state = word("REACHABLE", "ok") if c["ready"] else word("UNREACHABLE", "bad")
    head = Text.assemble("\nCluster ", Text(c["name"], style="bold"), " ", state)
    if c["mode"]:
        controller = c["controller_id"] if c["controller_id"] is not None else "unknown"
        head.append(
            f"  mode {c['mode']}, controller {controller}, "
            f"view {duration(c['snapshot_age_seconds'])} old"
        )
    console.print(head)
    if not c["ready"]:
        console.print(plain(c["reason"]))
    failing = [s for s in c["stages"] if s["tried"] and not s["ok"]]
    for s in failing:
        console.print(Text.assemble(word("FAILING", "bad"), f" {s['stage']}: ", plain(s["error"])))
    if not c["mode"]:
        return
    n = c["partition_counts"]
    if c["at_risk"]:
        table = Table(
            title=f"Partitions at risk: {n['offline']} offline, {n['under_min_isr']} under min "
            f"ISR, {n['under_replicated']} under-replicated of {n['total']}",
            title_justify="left",
        )
        for col in ("state", "partition", "leader", "isr", "replicas"):
            table.add_column(col)
        for p in c["at_risk"]:
            table.add_row(
                word(p["state"].upper(), "warn" if p["state"] == "under-replicated" else "bad"),
                Text(f"{p['topic']}-{p['partition']}"),
                plain("none" if p["leader"] < 0 else p["leader"]),
                plain(",".join(map(str, p["isr"]))),
                plain(",".join(map(str, p["replicas"]))),
            )
        console.print(table)
    else:
        console.print(Text.assemble(word("OK", "ok"), f" {n['total']} partitions, none at risk"))
    if c["groups"]:
        table = Table(title=f"Consumer groups ({c['groups_total']})", title_justify="left")
        for col in ("group", "status", "lag", "behind", "catches up in", "retention risk"):
            table.add_column(col, justify="right" if col in ("lag", "behind") else "left")
        for g in c["groups"]:
            kind = {"OK": "ok", "UNKNOWN": "info", "WARN": "warn", "REWIND": "warn"}.get(
                g["status"], "bad"
            )
            if g["records_skipped"]:
                risk = Text.assemble(word("LOST", "bad"), f" {g['records_skipped']} records")
            elif g["retention_at_risk"]:
                risk = Text.assemble(
                    word("AT RISK", "bad"),
                    f" {duration(g['retention_seconds'])} ",
                    plain(g["retention_partition"]),
                )
            else:
                risk = plain(duration(g["retention_seconds"]))
            table.add_row(
                Text(g["group"]),
                word(g["status"], kind),
                plain("-" if g["lag"] is None else f"{g['lag']:,}"),
                plain(duration(g["lag_seconds"])),
                plain(duration(g["catchup_seconds"])),
                risk,
            )
        console.print(table)
    table = Table(title="Brokers", title_justify="left")
    for col in ("broker", "state", "leaders", "log dirs"):
        table.add_column(col)
    for b in c["brokers"]:
        dirs = Text()
        for d in b["log_dirs"]:
            dirs.append(d["path"])
            dirs.append(" ")
            dirs.append_text(word("ONLINE", "ok") if d["online"] else word("OFFLINE", "bad"))
            dirs.append(f" {size(d['size_bytes'])}, {d['replicas']} replicas\n")
        name = Text(str(b["id"]))
        if b["controller"]:
            name.append(" controller", style="cyan")
        dirs.rstrip()
        table.add_row(
            name,
            word("UP", "ok") if b["up"] else word("GONE", "bad"),
            plain(b["leaders"]),
            dirs if dirs.plain else plain("not read yet"),
        )
    console.print(table)
    if c["events"]:
        lines = [
            Text.assemble(
                word("DATA AT RISK ", "bad") if e["loss"] else "",
                f"{clock(e['at'])} {e['kind']}: ",
                Text(e["detail"]),
            )
            for e in c["events"][:10]
        ]
        console.print(Group(Text("Recent events", style="bold"), *lines))
