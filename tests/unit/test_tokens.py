"""The OAUTHBEARER token provider for AWS MSK IAM: its config and its wiring.

The token is really made by AWS's signer (aws-msk-iam-sasl-signer-python), with throw-away
credentials from the environment: signing is local, so no network and no AWS account are
needed. Whether MSK accepts it cannot be tested here (docs/security.md says so).
"""

from __future__ import annotations

import base64
import time
import urllib.parse
from typing import Any

import pytest
from pydantic import ValidationError

from kafka_watchdog.config import oauth
from kafka_watchdog.config.schema import ClusterConfig
from kafka_watchdog.sources.admin import AdminSource
from kafka_watchdog.sources.quorum import kafka_python_config

OAUTH = {"security.protocol": "SASL_SSL", "sasl.mechanism": "OAUTHBEARER"}
MSK = {"provider": "aws_msk_iam", "region": "eu-west-1"}


def cluster(client: dict[str, Any], oauthbearer: dict[str, Any] | None) -> ClusterConfig:
    return ClusterConfig.model_validate(
        {
            "name": "msk",
            "bootstrap_servers": "b-1.msk.example:9098",
            "kafka_client": client,
            "oauthbearer": oauthbearer,
        }
    )


# (case, kafka_client, oauthbearer, error fragment or None when valid)
CASES = [
    (1, OAUTH, MSK, None),
    (2, OAUTH, {**MSK, "role_arn": "arn:aws:iam::123456789012:role/watchdog"}, None),
    (3, OAUTH, {**MSK, "profile": "prod"}, None),
    # A provider without the mechanism would never be called.
    (4, {"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN"}, MSK,
     "kafka_client needs sasl.mechanism: OAUTHBEARER"),
    # The mechanism without a provider has no token to send.
    (5, OAUTH, None, "sasl.mechanism OAUTHBEARER needs a token"),
    # librdkafka's own OIDC client needs no provider.
    (6, {**OAUTH, "sasl.oauthbearer.method": "oidc"}, None, None),
    (7, OAUTH, {**MSK, "region": "Europe"}, "String should match pattern"),
    (8, OAUTH, {**MSK, "role_arn": "watchdog"}, "String should match pattern"),
    (9, OAUTH, {**MSK, "profile": "a", "role_arn": "arn:aws:iam::123456789012:role/w"},
     "set profile or role_arn, not both"),
    (10, OAUTH, {**MSK, "provider": "gcp"}, "Input should be 'aws_msk_iam'"),
    (11, OAUTH, {**MSK, "extra": 1}, "Extra inputs are not permitted"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "client", "oauthbearer", "error"), CASES)
def test_oauthbearer_config(
    case: int, client: dict[str, Any], oauthbearer: dict[str, Any] | None, error: str | None
) -> None:
    if error is None:
        cluster(client, oauthbearer)
        return
    with pytest.raises(ValidationError, match=error):
        cluster(client, oauthbearer)


def test_a_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oauth.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ValidationError, match=r"pip install 'kafka-watchdog\[aws-msk-iam\]'"):
        cluster(OAUTH, MSK)


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Throw-away static credentials, and no config file that could point elsewhere."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)


def signed_request(token: str) -> dict[str, str]:
    url = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    parsed = urllib.parse.urlparse(url)
    assert parsed.netloc == "kafka.eu-west-1.amazonaws.com", url
    return dict(urllib.parse.parse_qsl(parsed.query))


def test_librdkafka_gets_an_msk_token_through_oauth_cb(aws_credentials: None) -> None:
    source = AdminSource(cluster(OAUTH, MSK), request_timeout=5)
    conf = source.client_conf()  # what AdminClient is created with; no client, no I/O
    assert conf["sasl.mechanism"] == "OAUTHBEARER"
    token, expires = conf["oauth_cb"]("")  # as librdkafka calls it
    query = signed_request(token)
    assert query["Action"] == "kafka-cluster:Connect"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Credential"].startswith("AKIAIOSFODNN7EXAMPLE/")
    assert query["X-Amz-Credential"].endswith("/eu-west-1/kafka-cluster/aws4_request")
    assert time.time() < expires <= time.time() + 3600  # seconds since the epoch, not ms


def test_the_quorum_client_gets_the_same_tokens(aws_credentials: None) -> None:
    config = kafka_python_config(cluster(OAUTH, MSK), request_timeout=5)
    assert config["sasl_mechanism"] == "OAUTHBEARER"
    token = config["sasl_oauth_token_provider"].token()
    assert signed_request(token)["Action"] == "kafka-cluster:Connect"


def test_no_provider_means_no_callback() -> None:
    conf = AdminSource(cluster({**OAUTH, "sasl.oauthbearer.method": "oidc"}, None), 5).client_conf()
    assert "oauth_cb" not in conf
