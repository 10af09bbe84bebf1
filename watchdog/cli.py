"""The `kafka-watchdog` command."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kafka_watchdog import __version__
from kafka_watchdog.config import ConfigError, WatchdogConfig, load_config
from kafka_watchdog.config.schema import is_sensitive_key
from kafka_watchdog.logs import setup_logging

log = logging.getLogger("kafka_watchdog")

EPILOG = """\
environment: any config key can be overridden with KAFKA_WATCHDOG__<PATH>, path parts joined
by "__" (KAFKA_WATCHDOG__SERVER__LISTEN=127.0.0.1:10308; clusters by name or index:
KAFKA_WATCHDOG__CLUSTERS__PROD__BOOTSTRAP_SERVERS=a:9092,b:9092). Secrets may come from
files or variables: any key written as <key>_file or <key>_env reads its value from there.
Every option and default: docs/reference-config.yaml.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kafka-watchdog",
        description="Watch Kafka clusters for the failures that lose data, export them to "
        "Prometheus, page on-call.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser(
        "run",
        help="run the daemon",
        description="Run the daemon: watch every configured cluster and serve /metrics, "
        "/healthz and /readyz. Stops cleanly on SIGTERM or SIGINT. SIGHUP reads the config "
        "again: if it is valid, the web config file (certificates, users) and the server's "
        "write policy are applied at once and other changes are logged as needing a "
        "restart; if not, the running config is kept and the problem logged.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--config", "-c", required=True, metavar="FILE", help="YAML config file")
    run.add_argument("--log-format", choices=["text", "json"], help="overrides log.format")
    run.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], help="overrides log.level"
    )
    run.add_argument("--listen", metavar="HOST:PORT", help="overrides server.listen")
    run.add_argument(
        "--web-config-file",
        metavar="FILE",
        help="TLS and basic auth of the HTTP server (Prometheus exporter-toolkit web config "
        "format); overrides server.web_config_file. SIGHUP reloads it",
    )

    check = sub.add_parser(
        "validate-config",
        help="check a config file and print every problem",
        description="Check a config file: print every problem with its key and line and exit 1 "
        "if there is any. Secrets are never printed.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("file", metavar="FILE", help="YAML config file")
    check.add_argument(
        "--connect",
        action="store_true",
        help="also connect to every cluster (and ZooKeeper), run each collection stage once "
        "and report what fails: unreachable, authentication or TLS failures, missing ACLs",
    )
    check.add_argument(
        "--print",
        dest="print_config",
        action="store_true",
        help="print the effective config (defaults and overrides applied, secrets masked)",
    )

    sub.add_parser("version", help="print the version", description="Print the version.")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "version":
        import confluent_kafka

        print(f"kafka-watchdog {__version__} (librdkafka {confluent_kafka.libversion()[0]})")
        return 0
    if args.command == "validate-config":
        return _validate(args.file, args.connect, args.print_config)
    return _run(args)


def _load(path: str, overrides: dict[str, str] | None = None) -> WatchdogConfig | None:
    import os

    environ = dict(os.environ)
    environ.update(overrides or {})
    try:
        return load_config(path, environ)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        count = len(exc.problems)
        print(f"{path}: {count} problem{'s' if count != 1 else ''}", file=sys.stderr)
        return None


def _validate(path: str, connect: bool, print_config: bool) -> int:
    config = _load(path)
    if config is None:
        return 1
    names = ", ".join(c.name for c in config.clusters)
    print(f"{path}: OK ({len(config.clusters)} cluster{'s' * (len(config.clusters) > 1)}: {names})")
    if print_config:
        import yaml

        print(yaml.safe_dump(_masked(config), sort_keys=False), end="")
    if connect:
        from kafka_watchdog.app.probe import probe_all

        setup_logging("text", "error")
        failures = asyncio.run(probe_all(config))
        return 1 if failures else 0
    return 0


def _masked(config: WatchdogConfig) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(config.model_dump_json())
    for cluster in data["clusters"]:
        for key in cluster["kafka_client"]:
            if is_sensitive_key(key):
                cluster["kafka_client"][key] = "***"
        for section in ("topics", "groups"):
            cluster[section] = {k: list(v) for k, v in cluster[section].items()}
    return data


def _run(args: argparse.Namespace) -> int:
    overrides = {}
    if args.listen:
        overrides["KAFKA_WATCHDOG__SERVER__LISTEN"] = args.listen
    if args.log_format:
        overrides["KAFKA_WATCHDOG__LOG__FORMAT"] = args.log_format
    if args.log_level:
        overrides["KAFKA_WATCHDOG__LOG__LEVEL"] = args.log_level
    if args.web_config_file:
        # Relative to where the command runs (the config file's own keys are relative to it).
        overrides["KAFKA_WATCHDOG__SERVER__WEB_CONFIG_FILE"] = str(
            Path(args.web_config_file).absolute()
        )
    config = _load(args.config, overrides)
    if config is None:
        return 1
    setup_logging(config.log.format, config.log.level)
    from kafka_watchdog.app.lifecycle import StartupError, serve

    def reload() -> WatchdogConfig:
        import os

        return load_config(args.config, {**os.environ, **overrides})

    try:
        asyncio.run(serve(config, reload=reload))
    except StartupError as exc:
        log.error("cannot start: %s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
