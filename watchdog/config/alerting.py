"""The `alerting:` section: rules, grouping, silences, inhibition and receivers.

The built-in rules and their defaults are declared once, in the rule registry
(watchdog/rules/registry.py); here a user only overrides what differs, and the names are
checked against the registry. Semantics follow Alertmanager's where users know them.
"""

from __future__ import annotations

import difflib
import functools
import logging
import re
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from kafka_watchdog.config.durations import Duration, parse_timestamp
from kafka_watchdog.config.matchers import check_matchers, check_silence_matchers
from kafka_watchdog.config.schema_base import NameFilter, StrictModel
from kafka_watchdog.config.zookeeper import ZooKeeperConfig
from kafka_watchdog.rules.registry import BY_NAME
from kafka_watchdog.rules.spec import DEFAULT_RUNBOOK_BASE_URL, Severity


class RuleOverride(StrictModel):
    """What a user may change of a built-in rule; unset keys keep the rule's defaults."""

    enabled: bool | None = Field(default=None, description="false switches the rule off.")
    threshold: float | None = Field(
        default=None,
        ge=0,
        description="The rule's threshold (messages, seconds, or events per window).",
    )
    for_: Duration | None = Field(
        default=None,
        alias="for",
        ge=0,
        description="How long the condition must hold before the alert fires (pending).",
    )
    keep_firing_for: Duration | None = Field(
        default=None,
        ge=0,
        description="Event rules (unclean election, truncation): how long the alert stays "
        "firing after the event.",
    )
    severity: Severity | None = Field(default=None, description="critical | warning | info.")
    runbook: str | None = Field(
        default=None,
        description="URL of the rule's runbook; default: <runbook_base_url>/<rule>.md.",
    )
    topics: NameFilter | None = Field(
        default=None, description="Only topics matching these (partition and topic rules)."
    )
    groups: NameFilter | None = Field(
        default=None, description="Only consumer groups matching these (lag rules)."
    )


Matchers = dict[str, str]
"""label -> regex (RE2 syntax, config/matchers.py), matched against the whole label value."""


def _check_matchers(value: Matchers) -> Matchers:
    return check_matchers(value, what="matcher")


def _http_url(value: str, what: str) -> str:
    """An http(s) URL with a host: anything else (ftp://, a bare word, a path) would only
    fail at the first page."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{what} is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"{what} must be an http:// or https:// URL with a host (got scheme "
            f"{parts.scheme + '://' if parts.scheme else 'none'})"
        )
    del port
    return value


def apprise_scheme_problem(url: str) -> str | None:
    """Why apprise cannot use this URL, naming only its scheme (the rest is a secret)."""
    import apprise

    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if not scheme:
        return "is not an apprise URL (expected scheme://..., e.g. slack://...)"
    known = _apprise_schemes()
    if scheme not in known:
        hint = difflib.get_close_matches(scheme, sorted(known), n=1)
        extra = f"; did you mean {hint[0]}://?" if hint else ""
        return f"has an unknown apprise scheme {scheme[:32]!r}{extra}"
    # apprise logs the URL it could not load, token and all: not while we ask it.
    quiet = logging.getLogger("apprise")
    was = quiet.disabled
    quiet.disabled = True
    try:
        usable = apprise.Apprise.instantiate(url, suppress_exceptions=True) is not None
    finally:
        quiet.disabled = was
    if not usable:
        return f"is not a valid {scheme[:32]}:// URL for apprise (check its fields)"
    return None


@functools.cache
def _apprise_schemes() -> frozenset[str]:
    from apprise.manager_plugins import NotificationManager

    manager = NotificationManager()  # type: ignore[no-untyped-call]
    return frozenset(s.lower() for s in manager.schemas())  # type: ignore[no-untyped-call]


class SilenceConfig(StrictModel):
    matchers: Matchers = Field(
        min_length=1,
        description="label -> regex (RE2); an alert is silenced when every matcher matches "
        "(labels: rule, severity, kafka_cluster, topic, partition, broker, group). At least "
        "one must not match the empty string (as in Alertmanager).",
    )
    starts_at: str | None = Field(
        default=None, description="ISO 8601 start; default: now (at start-up)."
    )
    ends_at: str = Field(description="ISO 8601 end; required: a silence always expires.")
    comment: str = Field(default="", description="Why (shown in /api/silences).")

    _check = field_validator("matchers")(classmethod(lambda cls, v: check_silence_matchers(v)))

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _iso(cls, value: str | None) -> str | None:
        if value is not None:
            parse_timestamp(value)
        return value


class InhibitConfig(StrictModel):
    source: Matchers = Field(description="Matchers of the alert that inhibits (e.g. broker_gone).")
    target: Matchers = Field(description="Matchers of the alerts it mutes.")
    equal: list[str] = Field(
        default_factory=lambda: ["kafka_cluster"],
        description="Labels that must be equal on both for the target to be muted.",
    )

    _check = field_validator("source", "target")(classmethod(lambda cls, v: _check_matchers(v)))


def _default_inhibit() -> list[InhibitConfig]:
    # RE2 has no lookahead: "every rule but cluster_unseen" is spelled out from the registry.
    others = "|".join(name for name in BY_NAME if name != "cluster_unseen")
    return [
        InhibitConfig(
            source={"rule": "broker_gone"},
            target={"rule": "under_replicated|isr_shrink_rate|controller_flapping"},
        ),
        InhibitConfig(source={"rule": "cluster_unseen"}, target={"rule": others}),
    ]


class PagerDutyConfig(StrictModel):
    routing_key: SecretStr = Field(
        description="Events API v2 integration key; secret (routing_key_file/_env)."
    )
    api_base: str = Field(
        default="https://events.pagerduty.com",
        description="Base URL of the Events API (v2/enqueue is appended).",
    )

    @field_validator("api_base")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value, "api_base")


class AlertmanagerConfig(StrictModel):
    url: str = Field(description="Alertmanager base URL; alerts are posted to /api/v2/alerts.")
    resend_interval: Duration = Field(
        default=60.0,
        ge=1.0,
        le=3600.0,
        description="Firing alerts are re-posted this often (Alertmanager expects it); an "
        "alert that fires or resolves is posted at once.",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value, "url")


class ReceiverConfig(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Label in metrics, logs.")
    severities: list[Severity] = Field(
        default_factory=lambda: list[Severity](["critical", "warning"]),
        description="Notify only for alerts of these severities.",
    )
    matchers: Matchers = Field(
        default_factory=dict, description="Extra label -> regex filters (all must match)."
    )
    apprise: list[SecretStr] = Field(
        default_factory=list,
        description="apprise URLs (slack://..., mailto://..., json://...); secret: they "
        "often hold tokens.",
    )
    pagerduty: PagerDutyConfig | None = Field(default=None, description="PagerDuty Events v2.")
    alertmanager: AlertmanagerConfig | None = Field(
        default=None, description="Forward every alert to Alertmanager (it groups and routes)."
    )
    send_resolved: bool = Field(default=True, description="Also notify when an alert ends.")

    _check = field_validator("matchers")(classmethod(lambda cls, v: _check_matchers(v)))

    @field_validator("apprise")
    @classmethod
    def _apprise_urls(cls, value: list[SecretStr]) -> list[SecretStr]:
        for index, url in enumerate(value):
            problem = apprise_scheme_problem(url.get_secret_value())
            if problem is not None:
                raise ValueError(f"apprise[{index}] {problem}")
        return value

    @model_validator(mode="after")
    def _has_a_target(self) -> ReceiverConfig:
        if not (self.apprise or self.pagerduty or self.alertmanager):
            raise ValueError(
                f"receiver {self.name!r} sends nowhere: give apprise URLs, pagerduty or "
                "alertmanager"
            )
        return self


class HaConfig(StrictModel):
    zookeeper: ZooKeeperConfig = Field(
        description="Ensemble holding the notifier lock and the incident state, under "
        "<chroot>/kafka-watchdog/<group>. A Kafka cluster's ensemble will do."
    )
    group: str = Field(
        default="default",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="Replicas with the same group elect one notifier among them.",
    )
    identity: str | None = Field(
        default=None, description="This replica's name in the lock; default: hostname-pid."
    )


class AlertingConfig(StrictModel):
    enabled: bool = Field(default=True, description="Evaluate rules and notify.")
    evaluation_interval: Duration = Field(
        default=5.0, ge=0.1, le=300.0, description="How often the rules are evaluated."
    )
    state_dir: Path | None = Field(
        default=None,
        description="Where incidents and the notification outbox are kept across restarts "
        "(a persistent volume). Default: nothing kept (a restart may page again).",
    )
    group_by: list[str] = Field(
        default_factory=lambda: ["kafka_cluster", "rule"],
        description="Alerts with the same values of these labels make one notification.",
    )
    group_wait: Duration = Field(
        default=30.0,
        ge=0,
        le=3600.0,
        description="Wait this long for more alerts before a new group's first notification.",
    )
    group_interval: Duration = Field(
        default=300.0,
        ge=0,
        le=86400.0,
        description="Wait this long before notifying a group's changes.",
    )
    repeat_interval: Duration = Field(
        default=4 * 3600.0,
        ge=60,
        le=7 * 86400.0,
        description="Repeat a still-firing group this often.",
    )
    flap_window: Duration = Field(
        default=600.0,
        ge=0,
        le=86400.0,
        description="An alert that fired flap_count times within this "
        "window is flapping: it is not resolved until quiet for flap_window.",
    )
    flap_count: int = Field(default=3, ge=2)
    max_listed: int = Field(
        default=10, ge=1, le=1000, description="Alerts listed by name in one notification."
    )
    retry_max_interval: Duration = Field(
        default=300.0, ge=1, le=86400.0, description="Longest wait between delivery attempts."
    )
    max_silences: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="Most silences the HTTP API keeps at once (active and pending); past it "
        "a new one is refused (409) until one expires.",
    )
    max_silence_duration: Duration = Field(
        default=90 * 86400.0,
        ge=60.0,
        description="Longest a silence made through the HTTP API may last (its end time is "
        "at most this far ahead).",
    )
    rules: dict[str, RuleOverride] = Field(
        default_factory=dict, description="Overrides of the built-in rules, by rule name."
    )
    runbook_base_url: str = Field(
        default=DEFAULT_RUNBOOK_BASE_URL,
        max_length=2048,
        description="Where docs/runbooks is served: each alert links <this>/<rule>.md (an "
        "absolute link, so it works in Slack and PagerDuty). The generated rule files use "
        "the same default (`make generate RUNBOOK_BASE_URL=...`).",
    )
    silences: list[SilenceConfig] = Field(default_factory=list)
    inhibit: list[InhibitConfig] = Field(default_factory=_default_inhibit)
    receivers: list[ReceiverConfig] = Field(default_factory=list)
    ha: HaConfig | None = Field(
        default=None,
        description="Several replicas, one notifier (ZooKeeper lock). Default: this replica "
        "notifies alone.",
    )

    @field_validator("state_dir")
    @classmethod
    def _state_dir(cls, value: Path | None) -> Path | None:
        if value is not None and value.exists() and not value.is_dir():
            raise ValueError(
                f"{str(value)!r} exists and is not a directory; state_dir must be a directory "
                "(kafka-watchdog creates it when missing)"
            )
        return value

    @field_validator("rules")
    @classmethod
    def _known_rules(cls, value: dict[str, RuleOverride]) -> dict[str, RuleOverride]:
        unknown = sorted(set(value) - set(BY_NAME))
        if unknown:
            hints = [
                f"{name} (did you mean {close[0]!r}?)" if close else name
                for name in unknown
                for close in [difflib.get_close_matches(name, list(BY_NAME), n=1)]
            ]
            raise ValueError(
                f"unknown rule(s) {', '.join(hints)}; the rules are: {', '.join(BY_NAME)}"
            )
        return value

    @field_validator("runbook_base_url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
            raise ValueError(
                "must be an absolute http(s) URL without spaces: alerts carry the link into "
                "Slack and PagerDuty, where a relative path leads nowhere (e.g. "
                "https://wiki.example.com/kafka/runbooks)"
            )
        return value.rstrip("/")

    @field_validator("receivers")
    @classmethod
    def _unique_names(cls, value: list[ReceiverConfig]) -> list[ReceiverConfig]:
        names = [r.name for r in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"receiver names must be unique: {', '.join(dupes)}")
        return value
