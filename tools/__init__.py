"""Generators and checks for the operator kit (not part of the wheel): docs/metrics.md and
dashboards/*.json from the metric catalogue (`python -m tools.generate`, `make generate`), and
the Grafana strict validator (tools/grafana-validate, Go)."""
