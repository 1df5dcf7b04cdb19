"""The server's TLS certificate: the one given, or a self-signed one made on first start.

The generated pair lives in ``<config dir>/tls/`` (``sdn-ssl.pem``, ``sdn-ssl.key``, the key
mode 0600) and is reused on every later start, so clients that pinned its fingerprint keep
working. It is an ECDSA P-256 certificate for the host name, ``localhost``, 127.0.0.1 and ::1,
valid for two years, like PVE's ``pve-ssl.pem``.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sdnkit.api.atomic_file import write_atomic
from sdnkit.errors import ConfigError

__all__ = ["CertPair", "ensure_certificate", "fingerprint", "load_certificate"]

VALIDITY = datetime.timedelta(days=730)


@dataclass(frozen=True, slots=True)
class CertPair:
    cert: Path
    key: Path


def _self_signed(hostname: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sdnkit"),
            x509.NameAttribute(NameOID.COMMON_NAME, hostname),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    alt_names: list[x509.GeneralName] = [x509.DNSName(hostname), x509.DNSName("localhost")]
    alt_names += [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", "::1")]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def ensure_certificate(config_dir: str | os.PathLike[str]) -> CertPair:
    """The generated pair in the config directory, created when missing."""
    tls_dir = Path(config_dir) / "tls"
    pair = CertPair(tls_dir / "sdn-ssl.pem", tls_dir / "sdn-ssl.key")
    if pair.cert.exists() and pair.key.exists():
        return load_certificate(pair.cert, pair.key)
    tls_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    cert_pem, key_pem = _self_signed(socket.gethostname())
    write_atomic(pair.key, key_pem, 0o600)  # the key first: a certificate never exists without it
    write_atomic(pair.cert, cert_pem, 0o644)
    return pair


def load_certificate(cert: str | os.PathLike[str], key: str | os.PathLike[str]) -> CertPair:
    """Check that ``cert`` and ``key`` are a usable pair (readable PEM, matching key)."""
    pair = CertPair(Path(cert), Path(key))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(pair.cert, pair.key)
    except (OSError, ssl.SSLError) as err:
        raise ConfigError(
            f"TLS certificate {str(pair.cert)!r} / key {str(pair.key)!r}: {err}", key="cert"
        ) from None
    return pair


def fingerprint(cert: str | os.PathLike[str]) -> str:
    """The SHA-256 fingerprint as PVE shows it (``AA:BB:...``)."""
    loaded = x509.load_pem_x509_certificate(Path(cert).read_bytes())
    return ":".join(f"{b:02X}" for b in loaded.fingerprint(hashes.SHA256()))
