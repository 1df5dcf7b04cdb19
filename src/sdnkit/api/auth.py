"""Who is calling: API tokens, tickets and CSRF tokens, checked as Proxmox VE checks them.

* API token: header ``Authorization: PVEAPIToken=<user>@<realm>!<token>=<secret>`` (PVE also
  accepts ``:`` for either ``=``). No CSRF token is needed.
* Ticket: cookie ``PVEAuthCookie=<ticket>`` from ``POST /access/ticket``. Every request other
  than GET (and HEAD) must also send header ``CSRFPreventionToken`` from the same login.
* Anything else is a 401 with the reason, as PVE answers.

Login accepts ``username`` (``user@realm``, or ``user`` plus ``realm``) and ``password``; a
valid ticket of the same user is accepted as the password, which renews it (proxmoxer does
this every hour).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from sdnkit.api.access import AccessStore
from sdnkit.api.credentials import check_password, check_token_secret
from sdnkit.api.permissions import Caller, Permissions
from sdnkit.api.roles import Privilege
from sdnkit.api.tickets import TicketError, Tickets
from sdnkit.errors import SdnError

__all__ = ["COOKIE", "CSRF_HEADER", "AuthError", "Authenticator"]

COOKIE = "PVEAuthCookie"
CSRF_HEADER = "CSRFPreventionToken"
_TOKEN = re.compile(r"PVEAPIToken[=:](?P<full>[^\s!=:]+![A-Za-z][A-Za-z0-9._-]*)[=:](?P<secret>\S+)")
_SAFE_METHODS = ("GET", "HEAD")


class AuthError(SdnError):
    """Log in again or fix the credentials: the request is not authenticated (HTTP 401)."""


class Authenticator:
    """Checks credentials against one access store."""

    def __init__(self, store: AccessStore) -> None:
        self.store = store
        self.tickets = Tickets(store.signing_key())

    # requests

    def authenticate(self, method: str, headers: Mapping[str, str], cookies: Mapping[str, str]) -> Caller:
        header = headers.get("authorization", "")
        if header:
            return self._token(unquote(header.strip()))
        ticket = cookies.get(COOKIE)
        if not ticket:
            raise AuthError("No ticket")
        caller = self._ticket(unquote(ticket))
        if method.upper() not in _SAFE_METHODS:
            try:
                self.tickets.verify_csrf(headers.get(CSRF_HEADER.lower(), ""), caller.userid)
            except TicketError:
                raise AuthError("Permission denied - invalid csrf token") from None
        return caller

    def _token(self, header: str) -> Caller:
        match = _TOKEN.fullmatch(header)
        if not match:
            raise AuthError("invalid authorization header (expected PVEAPIToken=USER@REALM!TOKENID=SECRET)")
        full = match["full"]
        stored = self.store.token_hash(full)
        # check the secret before looking at the token entry: no early answer for unknown tokens
        if not check_token_secret(match["secret"], stored) or stored is None:
            raise AuthError("invalid token value!")
        userid, _, name = full.partition("!")
        caller = Caller(userid, name)
        self._check_active(caller)
        return caller

    def _ticket(self, ticket: str) -> Caller:
        try:
            userid = self.tickets.verify(ticket)
        except TicketError as err:
            raise AuthError(f"invalid PVE ticket ({err})") from None
        caller = Caller(userid)
        self._check_active(caller)
        return caller

    def _check_active(self, caller: Caller) -> None:
        db = self.store.load()
        now = time.time()
        user = db.users.get(caller.userid)
        if user is None or not user.enable or (user.expire and user.expire < now):
            raise AuthError(f"user {caller.userid!r} does not exist, is disabled or has expired")
        if caller.token is not None:
            token = db.tokens.get(caller.ugid)
            if token is None or (token.expire and token.expire < now):
                raise AuthError(f"token {caller.ugid!r} does not exist or has expired")

    # login

    def login(self, username: str, password: str, realm: str | None = None) -> dict[str, Any]:
        """The data of ``POST /access/ticket``; raises ``AuthError`` on any failure."""
        userid = username if "@" in username or not realm else f"{username}@{realm}"
        if password.startswith("PVE:"):
            ok = self._renewable(password, userid)
        else:
            ok = check_password(password, self.store.password_hash(userid))
        if not ok:
            raise AuthError("authentication failure")
        caller = Caller(userid)
        try:
            self._check_active(caller)
        except AuthError:
            raise AuthError("authentication failure") from None
        return {
            "username": userid,
            "ticket": self.tickets.issue(userid),
            "CSRFPreventionToken": self.tickets.csrf_token(userid),
            "cap": self.capabilities(caller),
        }

    def _renewable(self, ticket: str, userid: str) -> bool:
        try:
            return self.tickets.verify(ticket) == userid
        except TicketError:
            return False

    def capabilities(self, caller: Caller) -> dict[str, dict[str, int]]:
        """PVE's ``cap`` summary: what the caller holds anywhere under /sdn and /nodes."""
        perms = Permissions(self.store.load(), caller)
        paths = {"/", "/sdn", "/nodes"} | {
            e.path for e in perms.db.acl if e.ugid in (caller.userid, caller.ugid)
        }
        caps: dict[str, dict[str, int]] = {"sdn": {}, "nodes": {}}
        for path in paths:
            for priv in perms.privileges(path):
                group = "sdn" if priv.value.startswith("SDN.") else "nodes"
                if group == "sdn" and not (path == "/" or path.startswith("/sdn")):
                    continue
                caps[group][priv.value] = 1
        caps["sdn"].pop(Privilege.PERMISSIONS_MODIFY.value, None)
        return caps
