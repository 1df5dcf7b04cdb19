"""Who may do what where: ACL evaluation as Proxmox VE does it (pve-access-control).

* An ACL entry grants a role to a user or an API token on a path. Entries on a parent path
  apply below it only with ``propagate``; the deepest path with entries for the caller wins and
  replaces what the parents granted (so ``NoAccess`` on a child takes away).
* ``root@pam`` has every privilege everywhere.
* A token without privilege separation acts with its user's privileges. A privilege-separated
  token has only what its own ACL entries grant, and never more than its user has.
* Guest NICs need ``SDN.Use`` on the vnet, or on the VLAN below it (``check_vnet_use``).
* A refusal names the path and the privilege: ``Permission check failed (/sdn/zones/z1,
  SDN.Allocate)``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from sdnkit.api.access import ROOT, AccessDb
from sdnkit.api.roles import ROLES, Privilege
from sdnkit.errors import PermissionDeniedError

__all__ = ["Caller", "Permissions"]


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller: a user, or one of its API tokens."""

    userid: str
    token: str | None = None  # token name when authenticated with an API token

    @property
    def ugid(self) -> str:
        return f"{self.userid}!{self.token}" if self.token else self.userid

    def __str__(self) -> str:
        return self.ugid


def _prefixes(path: str) -> list[str]:
    """``/sdn/zones/z1`` → ``/``, ``/sdn``, ``/sdn/zones``, ``/sdn/zones/z1``."""
    parts = [p for p in path.split("/") if p]
    return ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


class Permissions:
    """The privileges of one caller, evaluated against one snapshot of the ACLs."""

    def __init__(self, db: AccessDb, caller: Caller) -> None:
        self.db = db
        self.caller = caller
        self._cache: dict[str, frozenset[Privilege]] = {}

    @property
    def is_superuser(self) -> bool:
        caller = self.caller
        if caller.userid != ROOT:
            return False
        return caller.token is None or not self._token_privsep()

    def _token_privsep(self) -> bool:
        token = self.db.tokens.get(self.caller.ugid)
        return token is None or token.privsep

    def _roles_of(self, ugid: str, path: str) -> set[str]:
        roles: set[str] = set()
        for prefix in _prefixes(path):
            final = prefix == ("/" + "/".join(p for p in path.split("/") if p))
            here = {
                e.role for e in self.db.acl if e.path == prefix and e.ugid == ugid and (final or e.propagate)
            }
            if here:
                roles = here  # a deeper entry replaces what the parents granted
        return roles

    def _privs_of(self, ugid: str, path: str) -> frozenset[Privilege]:
        out: set[Privilege] = set()
        for role in self._roles_of(ugid, path):
            out |= ROLES.get(role, frozenset())
        return frozenset(out)

    def privileges(self, path: str) -> frozenset[Privilege]:
        """Everything the caller may do on ``path``."""
        if path not in self._cache:
            self._cache[path] = self._compute(path)
        return self._cache[path]

    def _compute(self, path: str) -> frozenset[Privilege]:
        if not self._active():
            return frozenset()
        if self.is_superuser:
            return frozenset(Privilege)
        user_privs = (
            frozenset(Privilege) if self.caller.userid == ROOT else self._privs_of(self.caller.userid, path)
        )
        if self.caller.token is None or not self._token_privsep():
            return user_privs
        return self._privs_of(self.caller.ugid, path) & user_privs

    def _active(self) -> bool:
        now = time.time()
        user = self.db.users.get(self.caller.userid)
        if user is None or not user.enable or (user.expire and user.expire < now):
            return False
        if self.caller.token is None:
            return True
        token = self.db.tokens.get(self.caller.ugid)
        return token is not None and not (token.expire and token.expire < now)

    def has(self, path: str, *privs: Privilege, any_of: bool = False) -> bool:
        granted = self.privileges(path)
        return any(p in granted for p in privs) if any_of else all(p in granted for p in privs)

    def check(self, path: str, *privs: Privilege, any_of: bool = False) -> None:
        """Raise ``PermissionDeniedError`` unless the caller has ``privs`` (all, or any) on ``path``."""
        if self.has(path, *privs, any_of=any_of):
            return
        granted = self.privileges(path)
        missing = privs if any_of else tuple(p for p in privs if p not in granted)
        what = "|".join(missing) if any_of else missing[0]
        raise PermissionDeniedError(f"Permission check failed ({path}, {what})", obj=path, key=str(what))

    def check_any(self, path: str, privs: Iterable[Privilege]) -> None:
        self.check(path, *privs, any_of=True)

    def check_vnet_use(
        self, zone: str, vnet: str, tag: int | None = None, trunks: Iterable[int] = ()
    ) -> None:
        """May the caller plug a guest NIC into ``vnet`` (pve-guest-common ``check_vnet_access``)?

        ``SDN.Use`` on ``/sdn/zones/<zone>/<vnet>/<tag>`` for a tagged NIC, on each trunk VLAN's
        path for a trunk, else on ``/sdn/zones/<zone>/<vnet>``. Host bridges use zone
        ``localnetwork``.
        """
        base = f"/sdn/zones/{zone}/{vnet}"
        paths = [f"{base}/{tag}"] if tag is not None else []
        paths += [f"{base}/{vlan}" for vlan in trunks]
        for path in paths or [base]:
            self.check(path, Privilege.SDN_USE)
