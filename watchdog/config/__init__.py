"""Configuration: one YAML file, validated as a whole, with env overrides and secret files."""

from kafka_watchdog.config.load import ConfigError, load_config, load_config_text
from kafka_watchdog.config.schema import ClusterConfig, WatchdogConfig

__all__ = ["ClusterConfig", "ConfigError", "WatchdogConfig", "load_config", "load_config_text"]
