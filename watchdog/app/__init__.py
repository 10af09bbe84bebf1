"""Wiring: per-cluster collection loops and the daemon's lifecycle."""
