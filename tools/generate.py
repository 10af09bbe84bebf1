"""Writes every generated file of the repo: docs/metrics.md, the rules table of
docs/alerting.md, dashboards/*.json, alerts/kafka-broker.rules.yml,
alerts/kafka-watchdog.rules.yml and its table in docs/operating.md.

    python -m tools.generate            (what `make generate` runs)
    RUNBOOK_BASE_URL=https://... python -m tools.generate    (runbook links elsewhere;
                                                             tools/rulefile.py)

`make lint` runs it and fails when the result differs from what is committed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tools import broker_rules, metrics_doc, rules_doc, watchdog_rules
from tools.dashboards import DASHBOARDS

ROOT = Path(__file__).resolve().parents[1]


def outputs() -> dict[Path, str]:
    files = {
        ROOT / "docs" / "metrics.md": metrics_doc.render(),
        rules_doc.DOC: rules_doc.render(rules_doc.DOC.read_text()),
        ROOT / "alerts" / "kafka-broker.rules.yml": broker_rules.render(),
        watchdog_rules.PATH: watchdog_rules.render(),
        watchdog_rules.DOC: watchdog_rules.render_doc(watchdog_rules.DOC.read_text()),
    }
    for name, build in DASHBOARDS.items():
        files[ROOT / "dashboards" / f"{name}.json"] = build().json()
    return files


def main() -> int:
    stale = sorted(p for p in (ROOT / "dashboards").glob("*.json") if p not in outputs())
    for path in stale:  # a dashboard that is no longer generated
        path.unlink()
    for path, text in outputs().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
