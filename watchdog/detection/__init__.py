"""Detection: pure functions from snapshots to events and findings. Time comes in as data."""
