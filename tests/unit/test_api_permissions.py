"""ACL evaluation as PVE does it: propagation, deepest entry wins, privilege separation, root."""

from __future__ import annotations

import pytest

from sdnkit.api.access import AccessDb, AclEntry, Token, User
from sdnkit.api.permissions import Caller, Permissions
from sdnkit.api.roles import Privilege, check_acl_path
from sdnkit.errors import ConfigError, PermissionDeniedError

AUDIT, ALLOC, USE = Privilege.SDN_AUDIT, Privilege.SDN_ALLOCATE, Privilege.SDN_USE


def _db(*acl: AclEntry, privsep: bool = True, enable: bool = True) -> AccessDb:
    users = {u: User(userid=u, enable=enable) for u in ("root@pam", "alice@pve")}
    tokens = {
        "alice@pve!ci": Token(userid="alice@pve", name="ci", privsep=privsep),
        "root@pam!ci": Token(userid="root@pam", name="ci", privsep=privsep),
    }
    return AccessDb(users, tokens, acl)


def acl(path: str, role: str, ugid: str = "alice@pve", propagate: bool = True) -> AclEntry:
    return AclEntry(path=path, ugid=ugid, role=role, propagate=propagate)


def privs(db: AccessDb, path: str, caller: Caller | None = None) -> set[Privilege]:
    return set(Permissions(db, caller or Caller("alice@pve")).privileges(path))


def test_propagated_entry_applies_below() -> None:
    db = _db(acl("/sdn/zones", "PVESDNUser"))
    assert privs(db, "/sdn/zones/z1/v1/10") == {AUDIT, USE}
    assert privs(db, "/sdn") == set()


def test_unpropagated_entry_applies_only_on_its_path() -> None:
    db = _db(acl("/sdn/zones", "PVESDNAdmin", propagate=False))
    assert ALLOC in privs(db, "/sdn/zones")
    assert privs(db, "/sdn/zones/z1") == set()


def test_deeper_entry_replaces_the_parents() -> None:
    db = _db(acl("/sdn", "PVESDNAdmin"), acl("/sdn/zones/z1", "PVEAuditor"))
    assert privs(db, "/sdn/zones/z1/v1") == {AUDIT, Privilege.SYS_AUDIT}
    assert ALLOC in privs(db, "/sdn/zones/z2")


def test_noaccess_takes_away() -> None:
    db = _db(acl("/", "Administrator"), acl("/sdn/zones/secret", "NoAccess"))
    assert privs(db, "/sdn/zones/secret/v1") == set()
    assert privs(db, "/sdn/zones/other") == set(Privilege)


def test_roles_on_one_path_add_up() -> None:
    db = _db(acl("/sdn", "PVEAuditor"), acl("/sdn", "PVESDNUser"))
    assert privs(db, "/sdn/ipams") == {AUDIT, USE, Privilege.SYS_AUDIT}


def test_root_has_everything_and_its_privsep_token_only_its_acls() -> None:
    db = _db(acl("/sdn/dns", "PVEAuditor", ugid="root@pam!ci"))
    assert privs(db, "/anything", Caller("root@pam")) == set(Privilege)
    assert privs(db, "/sdn/zones", Caller("root@pam", "ci")) == set()
    assert privs(db, "/sdn/dns/d1", Caller("root@pam", "ci")) == {AUDIT, Privilege.SYS_AUDIT}
    assert privs(_db(privsep=False), "/sdn", Caller("root@pam", "ci")) == set(Privilege)


def test_privsep_token_is_the_intersection_with_its_user() -> None:
    db = _db(acl("/sdn", "PVEAuditor"), acl("/sdn", "PVESDNAdmin", ugid="alice@pve!ci"))
    assert privs(db, "/sdn/zones/z1", Caller("alice@pve", "ci")) == {AUDIT}


def test_token_without_privsep_acts_as_its_user() -> None:
    db = _db(acl("/sdn", "PVESDNAdmin"), acl("/sdn", "NoAccess", ugid="alice@pve!ci"), privsep=False)
    assert ALLOC in privs(db, "/sdn/zones/z1", Caller("alice@pve", "ci"))


def test_disabled_user_has_nothing() -> None:
    assert privs(_db(acl("/", "Administrator"), enable=False), "/sdn") == set()


def test_refusal_names_path_and_privilege_as_pve() -> None:
    perms = Permissions(_db(acl("/sdn", "PVEAuditor")), Caller("alice@pve"))
    with pytest.raises(
        PermissionDeniedError, match=r"^Permission check failed \(/sdn/zones/z1, SDN\.Allocate\)$"
    ):
        perms.check("/sdn/zones/z1", ALLOC)
    with pytest.raises(PermissionDeniedError, match=r"\(/nodes/n1, Sys.Audit\|Sys.Modify\)$"):
        perms.check_any("/nodes/n1", (Privilege.SYS_AUDIT, Privilege.SYS_MODIFY))
    perms.check_any("/sdn/zones/z1", (AUDIT, ALLOC))


@pytest.mark.parametrize(
    "path", ["/", "/sdn", "/sdn/zones/z1/v1/4094", "/sdn/controllers/c-1", "/sdn/fabrics/f1", "/nodes/n1"]
)
def test_valid_acl_paths(path: str) -> None:
    assert check_acl_path(path + "/") == path


@pytest.mark.parametrize(
    "path", ["/vms/100", "/sdn/zones/z1/v1/0", "/sdn/zones/z1/v1/10/x", "/sdn/other", "/sdn/zones/a b"]
)
def test_invalid_acl_paths(path: str) -> None:
    with pytest.raises(ConfigError, match="invalid ACL path"):
        check_acl_path(path)


def test_guest_nic_use_follows_the_vlan_paths() -> None:
    db = _db(acl("/sdn/zones/z1/v1/10", "PVESDNUser"), acl("/sdn/zones/z2/v2", "PVESDNUser"))
    perms = Permissions(db, Caller("alice@pve"))
    perms.check_vnet_use("z1", "v1", tag=10)
    perms.check_vnet_use("z2", "v2")
    perms.check_vnet_use("z2", "v2", trunks=(20, 30))  # propagated to the VLANs below
    with pytest.raises(PermissionDeniedError, match=r"\(/sdn/zones/z1/v1, SDN.Use\)"):
        perms.check_vnet_use("z1", "v1")
    with pytest.raises(PermissionDeniedError, match=r"/sdn/zones/z1/v1/11, SDN.Use"):
        perms.check_vnet_use("z1", "v1", trunks=(10, 11))
