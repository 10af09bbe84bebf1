"""The `kafka-watchdog` command."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kafka_watchdog import __version__
from kafka_watchdog.config import ConfigError, WatchdogConfig, load_config
from kafka_watchdog.config.schema import is_sensitive_key
from kafka_watchdog.logs import setup_logging

if TYPE_CHECKING:  # imported when a command needs it: `--help` stays quick
    from kafka_watchdog.sinks.nagios import Result

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
    _status_parsers(sub)
    parser.add_argument("--version", action=_Version, nargs=0, help="print the version and exit")
    return parser


class _Version(argparse.Action):
    """`--version`, like the `version` command (librdkafka's version is read only then)."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        print(_version_text())
        parser.exit()


def _version_text() -> str:
    import confluent_kafka

    return f"kafka-watchdog {__version__} (librdkafka {confluent_kafka.libversion()[0]})"


STATUS_EPILOG = """\
exit status: 0 shown, 1 the daemon could not be asked or the config is wrong.
The view (what the page at / shows): each cluster's reachability and sources, brokers and
their log dirs, partitions at risk worst first, consumer groups by risk (lag, lag in seconds,
time to catch up, retention risk), recent events (lost records first), firing alerts and
silences. With --config the clusters are read once through the Admin API: lag status, lag in
seconds and time to catch up need several offsets cycles (--watch SECONDS), and alerts need
the daemon.
"""

CHECK_EPILOG = """\
exit status (Nagios / monitoring plugins): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (bad
arguments or config, or the check itself failed). One summary line with perfdata, then one
line per finding. It evaluates the daemon's own rules (docs/alerting.md) on one
collection, with the config's rule overrides and the thresholds given here; a rule's `for`
is not waited for (one look), and rules over time (lag status, catch-up, event rules) need
--watch SECONDS. An unreachable cluster is CRITICAL (the cluster_unseen rule); a cluster
without a view is never OK (UNKNOWN when no rule left by --only/--skip says CRITICAL).
"""


def _status_parsers(sub: Any) -> None:
    status = sub.add_parser(
        "status",
        help="the status page's view in the terminal",
        description="Show what the status page shows, as terminal tables: from a running "
        "daemon (--url) or by reading the clusters once (--config).",
        epilog=STATUS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = status.add_mutually_exclusive_group()
    source.add_argument(
        "--url",
        metavar="URL",
        help="a running daemon (default http://127.0.0.1:10308); with --user, the password "
        "comes from KAFKA_WATCHDOG_PASSWORD",
    )
    source.add_argument("--config", "-c", metavar="FILE", help="read the clusters once instead")
    status.add_argument("--cluster", metavar="NAME", help="only this cluster")
    status.add_argument("--json", action="store_true", help="the view as JSON (/api/status)")
    status.add_argument("--user", metavar="NAME", help="basic auth user for --url")
    status.add_argument("--cacert", metavar="FILE", help="CA bundle for an https --url")
    status.add_argument(
        "--watch",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="with --config: keep collecting this long after the first round",
    )
    status.add_argument("--groups", type=int, default=50, metavar="N", help="groups shown")

    check = sub.add_parser(
        "check",
        help="one collection, then Nagios exit codes (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)",
        description="Read the clusters once, evaluate the built-in rules, print one summary "
        "line with perfdata and exit with a monitoring-plugin code.",
        epilog=CHECK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("--config", "-c", required=True, metavar="FILE", help="YAML config file")
    check.add_argument("--cluster", metavar="NAME", help="only this cluster")
    check.add_argument(
        "--max-lag", type=float, metavar="N", help="consumer_lag threshold (messages)"
    )
    check.add_argument(
        "--max-lag-seconds", type=float, metavar="S", help="consumer_lag_seconds threshold"
    )
    check.add_argument(
        "--max-catchup", type=float, metavar="S", help="consumer_catchup threshold (seconds)"
    )
    check.add_argument(
        "--retention-risk", type=float, metavar="S", help="retention_risk threshold (seconds)"
    )
    check.add_argument(
        "--only", action="append", default=[], metavar="RULE", help="check only this rule"
    )
    check.add_argument(
        "--skip", action="append", default=[], metavar="RULE", help="do not check this rule"
    )
    check.add_argument(
        "--watch",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="keep collecting this long before judging (rules over time need it)",
    )
    check.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="give up collecting after this long"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "version":
        print(_version_text())
        return 0
    if args.command == "validate-config":
        return _validate(args.file, args.connect, args.print_config)
    if args.command == "status":
        return _status(args)
    if args.command == "check":
        return _check(args)
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
    import os

    from kafka_watchdog.app.lifecycle import StartupError, serve
    from kafka_watchdog.sources.malloc import tune_this_process

    tune_this_process(os.environ)  # before any thread: see sources/malloc.py

    def reload() -> WatchdogConfig:
        return load_config(args.config, {**os.environ, **overrides})

    try:
        asyncio.run(serve(config, reload=reload))
    except StartupError as exc:
        log.error("cannot start: %s", exc)
        return 2
    return 0


# -- status and check ---------------------------------------------------------------------------

DEFAULT_URL = "http://127.0.0.1:10308"


def _fetch_view(
    url: str, cluster: str | None, groups: int, user: str | None, cacert: str | None
) -> dict[str, Any]:
    import base64
    import os
    import ssl
    import urllib.error
    import urllib.parse
    import urllib.request

    query = urllib.parse.urlencode({"groups": groups, **({"cluster": cluster} if cluster else {})})
    request = urllib.request.Request(f"{url.rstrip('/')}/api/status?{query}")
    if user is not None:
        password = os.environ.get("KAFKA_WATCHDOG_PASSWORD", "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    context = ssl.create_default_context(cafile=cacert) if cacert else None
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            view: dict[str, Any] = json.loads(response.read())
            return view
    except urllib.error.HTTPError as exc:
        detail = exc.read(500).decode(errors="replace").strip()
        raise SystemExit(f"error: {url} answered {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SystemExit(
            f"error: cannot read the status from {url}: {reason} (is the daemon running "
            "there? --url sets the address, --config reads the clusters instead)"
        ) from None


def _collect(
    path: str, cluster: str | None, watch: float, timeout: float | None
) -> tuple[WatchdogConfig, list[Any]] | None:
    config = _load(path)
    if config is None:
        return None
    if cluster is not None and cluster not in {c.name for c in config.clusters}:
        known = ", ".join(c.name for c in config.clusters)
        print(
            f"error: no cluster named {cluster!r} in {path}; configured: {known}", file=sys.stderr
        )
        return None
    from kafka_watchdog.app.oneshot import collect_once

    setup_logging("text", "error")
    names = [cluster] if cluster else None
    states = asyncio.run(collect_once(config, names, watch=watch, give_up_after=timeout))
    return config, states


def _status(args: argparse.Namespace) -> int:
    import time

    from kafka_watchdog.web import status_view

    if args.config:
        collected = _collect(args.config, args.cluster, args.watch, None)
        if collected is None:
            return 1
        view = status_view.build(collected[1], None, time.time(), groups_shown=args.groups)
    else:
        try:
            view = _fetch_view(
                args.url or DEFAULT_URL, args.cluster, args.groups, args.user, args.cacert
            )
        except SystemExit as exc:
            print(exc, file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps(view, indent=2))
        return 0
    from rich.console import Console

    from kafka_watchdog.web.status_text import render

    render(view, Console(highlight=False))
    return 0


def _check(args: argparse.Namespace) -> int:
    """Nagios semantics (sinks/nagios.py); anything that keeps the check from judging is
    UNKNOWN, the check's own failure included."""
    from kafka_watchdog.sinks import nagios

    try:
        result = _check_result(args)
    except Exception as exc:  # the check itself failed: say so, as UNKNOWN
        result = nagios.unknown(f"the check failed: {type(exc).__name__}: {exc}")
    print("\n".join(result.lines))
    return result.code


def _check_result(args: argparse.Namespace) -> Result:
    import time

    from kafka_watchdog.rules.registry import BY_NAME
    from kafka_watchdog.sinks import nagios

    wrong = [r for r in [*args.only, *args.skip] if r not in BY_NAME]
    if wrong:
        return nagios.unknown(f"no rule named {', '.join(wrong)}; rules: " + ", ".join(BY_NAME))
    collected = _collect(args.config, args.cluster, args.watch, args.timeout)
    if collected is None:
        return nagios.unknown("the config could not be used (its problems are on stderr)")
    config, states = collected
    thresholds = {
        "consumer_lag": args.max_lag,
        "consumer_lag_seconds": args.max_lag_seconds,
        "consumer_catchup": args.max_catchup,
        "retention_risk": args.retention_risk,
    }
    rules = nagios.rules_for(config.alerting.rules, thresholds, args.only, args.skip)
    return nagios.judge(rules, states, time.time())


if __name__ == "__main__":
    sys.exit(main())
