"""Sinks: read snapshots and findings, never call Kafka."""
