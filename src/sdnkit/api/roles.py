"""Privileges, roles and ACL paths, as Proxmox VE defines them for SDN (spec §4.4).

Pure tables: which privileges exist, which roles bundle them, and which ACL paths are valid.
``permissions.py`` evaluates ACLs against them; ``access.py`` stores the ACLs.
"""

from __future__ import annotations

import re
from enum import StrEnum

from sdnkit.errors import ConfigError

__all__ = ["ROLES", "Privilege", "check_acl_path", "check_role"]


class Privilege(StrEnum):
    SDN_ALLOCATE = "SDN.Allocate"
    SDN_AUDIT = "SDN.Audit"
    SDN_USE = "SDN.Use"
    SYS_AUDIT = "Sys.Audit"
    SYS_MODIFY = "Sys.Modify"
    PERMISSIONS_MODIFY = "Permissions.Modify"
    USER_MODIFY = "User.Modify"  # user management through /access/users


_ALL = frozenset(Privilege)
_SDN_ADMIN = frozenset({Privilege.SDN_ALLOCATE, Privilege.SDN_AUDIT, Privilege.SDN_USE})

# pve-access-control AccessControl.pm, restricted to the privileges sdnkit knows
ROLES: dict[str, frozenset[Privilege]] = {
    "Administrator": _ALL,
    "NoAccess": frozenset(),
    "PVEAdmin": _SDN_ADMIN | {Privilege.SYS_AUDIT, Privilege.USER_MODIFY},
    "PVEAuditor": frozenset({Privilege.SDN_AUDIT, Privilege.SYS_AUDIT}),
    "PVESDNAdmin": _SDN_ADMIN,
    "PVESDNUser": frozenset({Privilege.SDN_AUDIT, Privilege.SDN_USE}),
    "PVEUserAdmin": frozenset({Privilege.USER_MODIFY, Privilege.SYS_AUDIT}),
}

# pve-access-control check_path: zone and vnet path components also allow "." and "_"
_COMPONENT = r"[A-Za-z0-9._-]+"
_ACL_PATHS = tuple(
    re.compile(p)
    for p in (
        r"/",
        r"/sdn",
        rf"/sdn/(controllers|dns|fabrics|ipams)(/{_COMPONENT})?",
        rf"/sdn/zones(/{_COMPONENT}(/{_COMPONENT}(/[1-9][0-9]{{0,3}})?)?)?",
        r"/nodes(/[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)?",
        r"/access(/groups)?",
    )
)


def check_acl_path(path: str) -> str:
    """A normalised ACL path (no trailing slash); refuses paths PVE would not accept."""
    norm = "/" + "/".join(part for part in path.split("/") if part)
    if not any(p.fullmatch(norm) for p in _ACL_PATHS):
        raise ConfigError(
            f"invalid ACL path {path!r} (use /, /sdn, /sdn/zones/<zone>[/<vnet>[/<vlan>]], /sdn/controllers"
            "[/<id>], /sdn/ipams[/<id>], /sdn/dns[/<id>], /sdn/fabrics[/<id>], /nodes[/<node>], "
            "/access[/groups])",
            key="path",
            value=path,
        )
    return norm


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r} (known: {', '.join(ROLES)})", key="roles", value=role)
    return role
