"""The `oauthbearer:` section of a cluster: who makes SASL OAUTHBEARER tokens.

librdkafka can fetch OIDC tokens itself (`sasl.oauthbearer.method: oidc` under
kafka_client); services that sign tokens with their own credentials (AWS MSK IAM) need a
callback, which a YAML value cannot be: this section names a built-in provider instead.
"""

from __future__ import annotations

import importlib.util
from typing import Literal, Self

from pydantic import Field, model_validator

from kafka_watchdog.config.schema_base import StrictModel

# provider -> (module it needs, the extra that installs it)
PROVIDER_MODULES = {"aws_msk_iam": ("aws_msk_iam_sasl_signer", "aws-msk-iam")}


class OAuthBearerConfig(StrictModel):
    provider: Literal["aws_msk_iam"] = Field(
        description="Token provider: aws_msk_iam (AWS MSK IAM authentication)."
    )
    region: str = Field(
        pattern=r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$",
        description="AWS region of the MSK cluster, e.g. eu-west-1.",
    )
    profile: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_+=,.@-]{1,128}$",
        description="AWS profile to sign with; default: the default credential chain.",
    )
    role_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9_+=,.@/-]{1,512}$",
        description="Role to assume (STS) before signing.",
    )
    role_session_name: str = Field(
        default="kafka-watchdog",
        pattern=r"^[A-Za-z0-9_+=,.@-]{2,64}$",
        description="STS session name when role_arn is set.",
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.profile and self.role_arn:
            raise ValueError("set profile or role_arn, not both")
        module, extra = PROVIDER_MODULES[self.provider]
        if importlib.util.find_spec(module) is None:
            raise ValueError(
                f"provider {self.provider} needs the optional extra: "
                f"pip install 'kafka-watchdog[{extra}]'"
            )
        return self
