"""Alerting: rules, incidents, grouping, silences, the outbox and delivery."""
