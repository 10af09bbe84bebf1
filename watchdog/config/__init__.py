"""Configuration: one YAML file, validated as a whole, with env overrides and secret files."""

from watchdog.config.load import ConfigError, load_config, load_config_text
from watchdog.config.schema import ClusterConfig, WatchdogConfig

__all__ = ["ClusterConfig", "ConfigError", "WatchdogConfig", "load_config", "load_config_text"]
