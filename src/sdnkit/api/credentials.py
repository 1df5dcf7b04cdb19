"""Secrets at rest: salted password and token hashes, checked in constant time.

Passwords are hashed with scrypt (memory-hard: a stolen ``shadow.cfg`` resists offline guessing).
API token secrets are random UUIDs with 122 bits of entropy, which no dictionary can guess, so a
salted SHA-256 is enough for them; tokens are checked on every request and must stay cheap.
Nothing here ever stores or logs a secret in clear text.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import uuid

__all__ = ["check_password", "check_token_secret", "hash_password", "hash_token_secret", "new_token_secret"]

# scrypt cost: 2**14 * 8 * 128 bytes = 16 MiB per check, some 50 ms on this class of machine
_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1
_SALT_BYTES = 16


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32
    )


def hash_password(password: str) -> str:
    """``$scrypt$ln=14,r=8,p=1$<salt>$<hash>`` for one password."""
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    params = f"ln={_SCRYPT_N.bit_length() - 1},r={_SCRYPT_R},p={_SCRYPT_P}"
    return f"$scrypt${params}${_b64(salt)}${_b64(digest)}"


@functools.cache
def _dummy_hash() -> str:
    """A well-formed hash of a password nobody knows: unknown users cost as much as known ones."""
    return hash_password(secrets.token_hex(16))


def check_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored``; ``None`` (no such user) takes the same time."""
    parts = (stored or _dummy_hash()).split("$")
    if len(parts) != 5 or parts[1] != "scrypt":
        return False
    try:
        params = dict(item.split("=", 1) for item in parts[2].split(","))
        n, r, p = 2 ** int(params["ln"]), int(params["r"]), int(params["p"])
        salt, expected = _unb64(parts[3]), _unb64(parts[4])
    except (KeyError, ValueError):
        return False
    if n > 2**20 or r > 32 or p > 16:  # refuse hashes that would exhaust memory or time
        return False
    actual = _scrypt(password, salt, n, r, p)
    return hmac.compare_digest(actual, expected) and stored is not None


def new_token_secret() -> str:
    """A fresh token secret, a UUID as PVE generates them."""
    return str(uuid.uuid4())


def hash_token_secret(secret: str) -> str:
    """``$sha256$<salt>$<hash>`` for one token secret."""
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.sha256(salt + secret.encode("utf-8")).digest()
    return f"$sha256${_b64(salt)}${_b64(digest)}"


def check_token_secret(secret: str, stored: str | None) -> bool:
    parts = (stored or "").split("$")
    if len(parts) != 4 or parts[1] != "sha256":
        hmac.compare_digest(b"0" * 32, b"1" * 32)  # keep the timing of a real comparison
        return False
    try:
        salt, expected = _unb64(parts[2]), _unb64(parts[3])
    except ValueError:
        return False
    actual = hashlib.sha256(salt + secret.encode("utf-8")).digest()
    return hmac.compare_digest(actual, expected)
