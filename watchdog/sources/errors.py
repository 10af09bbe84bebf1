"""The one error every source raises when a collection fails."""

from __future__ import annotations


class SourceError(Exception):
    """A collection failed; the message is for people and names what to check."""
