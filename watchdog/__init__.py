"""kafka-watchdog: watches Kafka clusters for the failures that lose data or wake people up."""

__version__ = "0.1.0"
