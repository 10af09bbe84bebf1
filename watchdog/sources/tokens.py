"""SASL OAUTHBEARER token providers (the `oauthbearer:` section of a cluster).

A provider is a function of the cluster's `OAuthBearerConfig` returning a token and when it
expires (seconds since the epoch): librdkafka calls it as `oauth_cb` (with the
`sasl.oauthbearer.config` string, unused here) before the token expires; the kafka-python
quorum client asks through an `AbstractTokenProvider`. Both hold no reference to a client.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from kafka_watchdog.config.oauth import OAuthBearerConfig

TokenCallback = Callable[[str], tuple[str, float]]


def _aws_msk_iam(config: OAuthBearerConfig, _oauthbearer_config: str = "") -> tuple[str, float]:
    # Imported here: the optional extra (boto3) is loaded only by clusters that use it.
    from aws_msk_iam_sasl_signer import MSKAuthTokenProvider

    if config.role_arn:
        token, expiry_ms = MSKAuthTokenProvider.generate_auth_token_from_role_arn(
            config.region, config.role_arn, config.role_session_name
        )
    elif config.profile:
        token, expiry_ms = MSKAuthTokenProvider.generate_auth_token_from_profile(
            config.region, config.profile
        )
    else:
        token, expiry_ms = MSKAuthTokenProvider.generate_auth_token(config.region)
    return str(token), float(expiry_ms) / 1000.0


_PROVIDERS: dict[str, Callable[[OAuthBearerConfig, str], tuple[str, float]]] = {
    "aws_msk_iam": _aws_msk_iam,
}


def oauth_callback(config: OAuthBearerConfig) -> TokenCallback:
    """librdkafka's `oauth_cb` for this provider."""
    return functools.partial(_PROVIDERS[config.provider], config)


def kafka_python_provider(config: OAuthBearerConfig) -> Any:
    """The same tokens for kafka-python's OAUTHBEARER (`sasl_oauth_token_provider`)."""
    from kafka.net.sasl.oauth import AbstractTokenProvider

    callback = oauth_callback(config)

    class _Provider(AbstractTokenProvider):  # type: ignore[misc]
        def token(self) -> str:
            return callback("")[0]

    return _Provider()
