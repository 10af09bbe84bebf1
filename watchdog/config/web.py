"""The web config file: TLS and basic auth of the HTTP server, in the format of the
Prometheus exporter-toolkit (the `--web.config.file` of node_exporter and friends), so one
file and one habit serve every exporter:

    tls_server_config:
      cert_file: server.crt
      key_file: server.key
      client_ca_file: ca.crt                 # mTLS; client_auth_type defaults to
      client_auth_type: RequireAndVerifyClientCert   # RequireAndVerifyClientCert then
      min_version: TLS12
    basic_auth_users:
      alice: $2y$10$...                       # bcrypt hashes (htpasswd -nBC 10 "" | tr -d ':')

Relative paths are relative to the web config file. Keys the toolkit has that this server
cannot honour (cipher_suites, curve_preferences, http2 ...) are errors, not silently ignored.
Loaded at start and on SIGHUP; the files it names are read then.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from kafka_watchdog.config.schema_base import StrictModel

ClientAuth = Literal[
    "NoClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
    # Accepted by the toolkit, refused here with a reason (see _unsupported_auth).
    "RequestClientCert",
    "RequireAnyClientCert",
]
TlsVersion = Literal["TLS10", "TLS11", "TLS12", "TLS13"]

_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
MAX_FILE = 1 << 20  # a web config file is a few lines


class TlsServerConfig(StrictModel):
    cert_file: Path = Field(description="The server's certificate (PEM), chain included.")
    key_file: Path = Field(description="Its private key (PEM).")
    client_ca_file: Path | None = Field(
        default=None, description="CA certificates that sign client certificates (mTLS)."
    )
    client_auth_type: ClientAuth | None = Field(
        default=None,
        description="NoClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert "
        "(the default when client_ca_file is set).",
    )
    client_allowed_sans: list[str] = Field(
        default_factory=list,
        description="If set, a client certificate must carry one of these subject "
        "alternative names (DNS, e-mail, URI or IP) or common name.",
    )
    min_version: TlsVersion = Field(default="TLS12")
    max_version: TlsVersion = Field(default="TLS13")

    @field_validator("client_auth_type")
    @classmethod
    def _unsupported_auth(cls, value: str | None) -> str | None:
        if value in ("RequestClientCert", "RequireAnyClientCert"):
            raise ValueError(
                f"{value} (a client certificate taken without checking it) is not supported: "
                "use VerifyClientCertIfGiven or RequireAndVerifyClientCert with client_ca_file"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TlsServerConfig:
        auth = self.effective_client_auth
        if auth != "NoClientCert" and self.client_ca_file is None:
            raise ValueError(f"client_auth_type {auth} needs client_ca_file")
        if _VERSIONS[self.min_version] > _VERSIONS[self.max_version]:
            raise ValueError("min_version is above max_version")
        return self

    @property
    def effective_client_auth(self) -> str:
        if self.client_auth_type is not None:
            return self.client_auth_type
        return "RequireAndVerifyClientCert" if self.client_ca_file else "NoClientCert"


class WebConfig(StrictModel):
    tls_server_config: TlsServerConfig | None = Field(
        default=None, description="Serve HTTPS with these files."
    )
    basic_auth_users: dict[str, str] = Field(
        default_factory=dict,
        description="user -> bcrypt hash; when set, every request but /healthz must authenticate.",
    )

    @field_validator("basic_auth_users")
    @classmethod
    def _bcrypt(cls, value: dict[str, str]) -> dict[str, str]:
        for user, hashed in value.items():
            if not user or ":" in user:
                raise ValueError(f"user {user[:64]!r}: a user name is non-empty, without ':'")
            if not isinstance(hashed, str) or not hashed.startswith(("$2a$", "$2b$", "$2y$")):
                # Never echo the value: it may be a plain password put there by mistake.
                raise ValueError(
                    f"user {user!r}: the value must be a bcrypt hash ($2y$...), not a password; "
                    "make one with: htpasswd -nBC 10 '' | tr -d ':'"
                )
        return value

    @property
    def authenticates(self) -> bool:
        """Every request (but the exempt probes) proves who sends it."""
        tls = self.tls_server_config
        return bool(self.basic_auth_users) or (
            tls is not None and tls.effective_client_auth == "RequireAndVerifyClientCert"
        )


@dataclass(frozen=True)
class LoadedWebConfig:
    """The web config and what it made: the server's TLS context (None: plain HTTP)."""

    config: WebConfig
    ssl_context: ssl.SSLContext | None
    path: Path | None


class WebConfigError(ValueError):
    """The web config file cannot be used; the message names the file and the key."""


def load_web_config(path: Path | None) -> LoadedWebConfig:
    """Read and check the web config file, and build the TLS context from its files."""
    if path is None:
        return LoadedWebConfig(WebConfig(), None, None)
    where = str(path)
    try:
        if path.stat().st_size > MAX_FILE:
            raise WebConfigError(f"{where}: larger than {MAX_FILE} bytes; not a web config file")
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except OSError as exc:
        raise WebConfigError(f"{where}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise WebConfigError(f"{where}: not a text (UTF-8) file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", exc)
        raise WebConfigError(f"{where}{line}: not valid YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise WebConfigError(f"{where}: must be a mapping (tls_server_config, basic_auth_users)")
    try:
        config = WebConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            msg = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown or unsupported key (supported: tls_server_config: cert_file, "
                msg += "key_file, client_ca_file, client_auth_type, client_allowed_sans, "
                msg += "min_version, max_version; basic_auth_users)"
            problems.append(f"{where}: {key}: {msg}")
        raise WebConfigError("; ".join(problems)) from None
    base = path.parent
    return LoadedWebConfig(config, _ssl_context(config.tls_server_config, base, where), path)


def _ssl_context(tls: TlsServerConfig | None, base: Path, where: str) -> ssl.SSLContext | None:
    if tls is None:
        return None

    def resolve(p: Path) -> str:
        return str(p if p.is_absolute() else base / p)

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = _VERSIONS[tls.min_version]
    context.maximum_version = _VERSIONS[tls.max_version]
    try:
        context.load_cert_chain(resolve(tls.cert_file), resolve(tls.key_file))
    except (OSError, ssl.SSLError) as exc:
        raise WebConfigError(
            f"{where}: tls_server_config.cert_file/key_file: cannot load "
            f"{resolve(tls.cert_file)} with {resolve(tls.key_file)}: {exc}"
        ) from None
    auth = tls.effective_client_auth
    if tls.client_ca_file is not None:
        try:
            context.load_verify_locations(cafile=resolve(tls.client_ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise WebConfigError(
                f"{where}: tls_server_config.client_ca_file: cannot load "
                f"{resolve(tls.client_ca_file)}: {exc}"
            ) from None
    context.verify_mode = {
        "NoClientCert": ssl.CERT_NONE,
        "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
        "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
    }[auth]
    return context
