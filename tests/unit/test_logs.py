"""Logs: one line per event, extra fields kept, secrets never printed."""

from __future__ import annotations

import io
import json
import logging

import pytest

from kafka_watchdog.config import load_config_text, secrets
from kafka_watchdog.logs import setup_logging


@pytest.fixture
def stream() -> io.StringIO:
    return io.StringIO()


def test_01_text_lines_carry_extra_fields(stream: io.StringIO) -> None:
    setup_logging("text", "info", stream)
    logging.getLogger("t").warning("broker gone", extra={"kafka_cluster": "prod", "broker": 2})
    line = stream.getvalue().strip()
    assert "WARNING t: broker gone kafka_cluster=prod broker=2" in line
    assert "\n" not in line


def test_02_json_lines_parse_and_carry_fields(stream: io.StringIO) -> None:
    setup_logging("json", "info", stream)
    logging.getLogger("t").info("isr shrink", extra={"kafka_cluster": "prod", "topic": "a b"})
    doc = json.loads(stream.getvalue())
    assert doc["msg"] == "isr shrink" and doc["level"] == "info"
    assert doc["kafka_cluster"] == "prod" and doc["topic"] == "a b"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_03_secrets_from_config_are_scrubbed_everywhere(fmt: str, stream: io.StringIO) -> None:
    load_config_text(
        "clusters:\n  - name: p\n    bootstrap_servers: a:1\n"
        "    kafka_client: {sasl.password: 'pa55-word-x'}\n",
        environ={},
    )
    setup_logging(fmt, "debug", stream)
    log = logging.getLogger("t")
    log.error("auth failed with pa55-word-x", extra={"conf": "sasl.password=pa55-word-x"})
    try:
        raise RuntimeError("boom pa55-word-x")
    except RuntimeError:
        log.exception("crash")
    out = stream.getvalue()
    assert "pa55-word-x" not in out
    assert out.count(secrets.MASK) >= 3


def test_04_levels_filter(stream: io.StringIO) -> None:
    setup_logging("text", "warning", stream)
    logging.getLogger("t").info("hidden")
    assert stream.getvalue() == ""


# -- secrets in logs (issue 10) ---------------------------------------------------------


def _logged(logger: str, message: str, *args: object) -> str:
    import io

    from kafka_watchdog.logs import setup_logging

    out = io.StringIO()
    setup_logging("text", "debug", out)
    logging.getLogger(logger).warning(message, *args)
    return out.getvalue()


def test_redact_01_apprise_urls_are_cut_to_their_scheme() -> None:
    # apprise logs the URL it failed to load, tokens and all, at ERROR.
    line = _logged("apprise", "Could not load Slack URL: %s", "slack://T0AAA/B0BBB/CCCCsecret")
    assert "slack://***" in line and "CCCCsecret" not in line and "T0AAA" not in line


def test_redact_02_a_receiver_echoing_the_routing_key_is_scrubbed() -> None:
    from kafka_watchdog.config import load_config_text

    load_config_text(
        "clusters: [{name: p, bootstrap_servers: 'k:9092'}]\n"
        "alerting: {receivers: [{name: pd, pagerduty: {routing_key: R0UTINGKEY123}}]}\n",
        "c.yaml",
        {},
    )
    line = _logged(
        "kafka_watchdog.alerting.delivery",
        "PagerDuty answered 400: %s",
        '{"routing_key": "R0UTINGKEY123", "message": "Invalid"}',
    )
    assert "R0UTINGKEY123" not in line and "***" in line


def test_redact_03_apprise_url_tokens_are_scrubbed_alone_too() -> None:
    from kafka_watchdog.config import load_config_text

    load_config_text(
        "clusters: [{name: p, bootstrap_servers: 'k:9092'}]\n"
        "alerting: {receivers: [{name: c, apprise: ['slack://T0AAAAAA/B0BBBBBB/Xtok3nXtok3n']}]}\n",
        "c.yaml",
        {},
    )
    line = _logged("somewhere.else", "posting to hooks.slack.com/services/%s", "Xtok3nXtok3n")
    assert "Xtok3nXtok3n" not in line and "hooks.slack.com" in line
