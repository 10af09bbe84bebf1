"""The cluster model: immutable snapshots, their store, and the health of the sources."""
