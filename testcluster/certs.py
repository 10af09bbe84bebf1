"""A throw-away certificate authority for the secured test clusters (PEM files, `cryptography`).

Kafka (2.7+) reads PEM key stores and trust stores directly (`ssl.keystore.type=PEM`), and
librdkafka, kafka-python and kazoo all take PEM files: no keytool, no JKS, no passwords
on disk beyond the ones a test wants to get wrong.

Keys are EC P-256: every client and Kafka accept them, and generating one costs
milliseconds where an RSA key costs a good part of a second on a busy 2-core machine.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Long enough for any test session, short enough that a leaked file is worthless soon.
VALIDITY = datetime.timedelta(days=2)


@dataclass(frozen=True)
class Identity:
    """A certificate and its key, as PEM files."""

    name: str
    cert: Path  # the certificate alone
    key: Path  # PKCS#8 private key, unencrypted
    bundle: Path  # key + certificate in one file: Kafka's PEM key store

    @property
    def subject(self) -> str:
        """The distinguished name Kafka sees for this certificate ("CN=name")."""
        return f"CN={self.name}"


class CertificateAuthority:
    """A CA whose files live in `directory`; it signs server and client certificates."""

    def __init__(self, directory: Path, name: str = "testcluster-ca") -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.name = name
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )
        self.cert = directory / f"{name}.pem"
        self.cert.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, name: str, *, server: bool = False) -> Identity:
        """A certificate for CN=`name`. A server certificate names 127.0.0.1 and localhost
        (the clients check the host name); every certificate may also act as a client."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
        if server:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
                        x509.DNSName("localhost"),
                    ]
                ),
                critical=False,
            )
        cert = builder.sign(self._key, hashes.SHA256())
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        identity = Identity(
            name,
            cert=self.directory / f"{name}.crt.pem",
            key=self.directory / f"{name}.key.pem",
            bundle=self.directory / f"{name}.keystore.pem",
        )
        identity.cert.write_bytes(cert_pem)
        _write_private(identity.key, key_pem)
        _write_private(identity.bundle, key_pem + cert_pem)
        return identity


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _write_private(path: Path, data: bytes) -> None:
    path.touch(mode=0o600)
    path.write_bytes(data)
