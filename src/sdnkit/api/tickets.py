"""Authentication tickets and CSRF prevention tokens, shaped like Proxmox VE's.

A ticket is ``PVE:<userid>:<hex time>::<signature>`` and a CSRF token is
``<hex time>:<signature>``; both are valid for two hours (and up to five minutes early, for
clock skew), as in PVE. PVE signs tickets with an RSA key shared by the cluster; sdnkit signs
with HMAC-SHA256 and a key kept in the config directory. Nothing but the signature is secret:
the user ID and time stay readable, as in PVE.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from sdnkit.errors import SdnError

__all__ = ["TICKET_LIFETIME", "TicketError", "Tickets"]

TICKET_LIFETIME = 2 * 3600
CLOCK_SKEW = 300
PREFIX = "PVE"


class TicketError(SdnError):
    """The ticket or CSRF token is malformed, forged or expired: log in again."""


def _sign(key: bytes, text: str) -> str:
    mac = hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


def _check_age(hextime: str, now: float) -> None:
    try:
        issued = int(hextime, 16)
    except ValueError:
        raise TicketError("malformed time stamp") from None
    age = now - issued
    if age < -CLOCK_SKEW or age > TICKET_LIFETIME:
        raise TicketError("expired")


class Tickets:
    """Issues and verifies tickets and CSRF tokens with one secret key."""

    def __init__(self, key: bytes) -> None:
        # separate keys for the two purposes: a CSRF token can never pass as a ticket
        self._ticket_key = hmac.new(key, b"sdnkit ticket", hashlib.sha256).digest()
        self._csrf_key = hmac.new(key, b"sdnkit csrf", hashlib.sha256).digest()

    def issue(self, userid: str, now: float | None = None) -> str:
        plain = f"{PREFIX}:{userid}:{int(now or time.time()):08X}"
        return f"{plain}::{_sign(self._ticket_key, plain)}"

    def verify(self, ticket: str, now: float | None = None) -> str:
        """The user ID a valid ticket was issued to."""
        plain, sep, signature = ticket.partition("::")
        parts = plain.split(":")
        if not sep or len(parts) != 3 or parts[0] != PREFIX:
            raise TicketError("malformed ticket")
        if not hmac.compare_digest(_sign(self._ticket_key, plain), signature):
            raise TicketError("invalid signature")
        _check_age(parts[2], now or time.time())
        return parts[1]

    def csrf_token(self, userid: str, now: float | None = None) -> str:
        stamp = f"{int(now or time.time()):08X}"
        return f"{stamp}:{_sign(self._csrf_key, f'{stamp}:{userid}')}"

    def verify_csrf(self, token: str, userid: str, now: float | None = None) -> None:
        stamp, sep, signature = token.partition(":")
        if not sep or not hmac.compare_digest(_sign(self._csrf_key, f"{stamp}:{userid}"), signature):
            raise TicketError("invalid csrf token")
        _check_age(stamp, now or time.time())
