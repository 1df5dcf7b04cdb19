"""The permission matrix: for each privilege and ACL path, a call that is allowed and one that is refused.

Every case is data: the call, the privilege it needs and the path it needs it on. The allowed
token holds a role with that privilege on exactly that path; the refused token holds, on the same
path, the nearest role without it. A refusal must be a 403 naming the path and the privilege as
PVE words it, and must change nothing. Then: list filtering, propagation, ``NoAccess``,
privilege-separated tokens, and the two PVE bugs sdnkit fixes (§10.15, §10.17).
"""

from __future__ import annotations

import hashlib
import itertools
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fakes package beside the tests

from fakes.netbox import TOKEN as NETBOX_TOKEN
from fakes.netbox import FakeNetbox

if TYPE_CHECKING:
    from tests.api.conftest import Server

pytestmark = pytest.mark.api

READ = "SDN.Audit|SDN.Allocate"
# a role holding the privilege, and the nearest role without it
NODE_READ = "Sys.Audit|Sys.Modify"
GRANTING = {
    "SDN.Audit": "PVEAuditor",
    "SDN.Allocate": "PVESDNAdmin",
    "Sys.Audit": "PVEAuditor",
    "Sys.Modify": "Administrator",
    READ: "PVEAuditor",
    NODE_READ: "PVEAuditor",
}
LACKING = {
    "SDN.Audit": "NoAccess",
    "SDN.Allocate": "PVESDNUser",
    "Sys.Audit": "PVESDNAdmin",
    "Sys.Modify": "PVEAuditor",
    READ: "NoAccess",
    NODE_READ: "PVESDNAdmin",
}
NODE = "pnode1"
_ids = itertools.count(10)  # also the last byte of fresh IP addresses


@dataclass(frozen=True)
class Case:
    """One call; ``{id}`` in path, data and acl is replaced by a fresh ID per run."""

    name: str
    method: str
    path: str
    needs: str  # privilege as the 403 names it ("SDN.Audit|SDN.Allocate" for reads)
    acl: str
    data: dict[str, Any] = field(default_factory=dict)
    also: dict[str, str] = field(default_factory=dict)  # further grants {path: role} the call needs
    setup: Callable[[Server, str], None] | None = None  # as root, before the call (what it consumes)
    created: str | None = None  # a GET path that exists only if the call succeeded
    cleanup: Callable[[Server], None] | None = None


# servers the cases refer to as "{name}" (an IPAM is checked against its server when it is created)
SERVICES: dict[str, str] = {}


def _fill(value: Any, fresh: str, n: int) -> Any:
    if isinstance(value, str):
        value = value.replace("{id}", fresh).replace("{n}", str(n))
        for name, url in SERVICES.items():
            value = value.replace(f"{{{name}}}", url)
        return value
    if isinstance(value, dict):
        return {_fill(k, fresh, n): _fill(v, fresh, n) for k, v in value.items()}
    return value


def _zone(server: Server, zone: str) -> None:
    server.root("POST", "/cluster/sdn/zones", data={"zone": zone, "type": "simple"})


def _pending(server: Server, fresh: str) -> None:
    """A pending change for apply or rollback to act on."""
    _zone(server, f"zp{fresh}")


def _vnet(server: Server, vnet: str) -> None:
    server.root("POST", "/cluster/sdn/vnets", data={"vnet": vnet, "zone": "pz"})


def _bgp(server: Server, ident: str) -> None:
    data = {"controller": ident, "type": "bgp", "asn": 65010, "node": f"n{ident}", "peers": "10.0.0.9"}
    server.root("POST", "/cluster/sdn/controllers", data=data)


def _fabric_node(server: Server, node: str, ip: str) -> None:
    server.root("POST", "/cluster/sdn/fabrics/node/pf", data={"node_id": node, "ip": f"10.77.{ip}.1"})


def _unlock(server: Server) -> None:
    server.call("DELETE", "/cluster/sdn/lock", server.root_token, params={"force": 1})


SUBNET_ID = "pz-10.42.0.0-24"
CASES = [
    Case("index", "GET", "/cluster/sdn", "SDN.Audit", "/sdn"),
    Case("apply", "PUT", "/cluster/sdn", "SDN.Allocate", "/sdn", setup=_pending),
    Case("rollback", "POST", "/cluster/sdn/rollback", "SDN.Allocate", "/sdn", setup=_pending),
    Case("lock", "POST", "/cluster/sdn/lock", "SDN.Allocate", "/sdn", {"allow-pending": 1}, cleanup=_unlock),
    Case("dry-run", "GET", f"/cluster/sdn/dry-run?node={NODE}", "Sys.Audit", f"/nodes/{NODE}"),
    Case("zone-read", "GET", "/cluster/sdn/zones/pz", READ, "/sdn/zones/pz"),
    Case(
        "zone-create",
        "POST",
        "/cluster/sdn/zones",
        "SDN.Allocate",
        "/sdn/zones",
        {"zone": "zc{id}", "type": "simple"},
        created="/cluster/sdn/zones/zc{id}",
    ),
    Case("zone-update", "PUT", "/cluster/sdn/zones/pz", "SDN.Allocate", "/sdn/zones/pz", {"mtu": 1400}),
    Case(
        "zone-delete",
        "DELETE",
        "/cluster/sdn/zones/zd{id}",
        "SDN.Allocate",
        "/sdn/zones/zd{id}",
        setup=lambda s, i: _zone(s, f"zd{i}"),
    ),
    Case("vnet-read", "GET", "/cluster/sdn/vnets/pv", READ, "/sdn/zones/pz/pv"),
    Case(
        "vnet-create",
        "POST",
        "/cluster/sdn/vnets",
        "SDN.Allocate",
        "/sdn/zones/pz",
        {"vnet": "vc{id}", "zone": "pz"},
        created="/cluster/sdn/vnets/vc{id}",
    ),
    Case("vnet-update", "PUT", "/cluster/sdn/vnets/pv", "SDN.Allocate", "/sdn/zones/pz/pv", {"alias": "x"}),
    Case(
        "vnet-delete",
        "DELETE",
        "/cluster/sdn/vnets/vd{id}",
        "SDN.Allocate",
        "/sdn/zones/pz/vd{id}",
        setup=lambda s, i: _vnet(s, f"vd{i}"),
    ),
    Case("subnets-list", "GET", "/cluster/sdn/vnets/pv/subnets", READ, "/sdn/zones/pz/pv"),
    Case("subnet-read", "GET", f"/cluster/sdn/vnets/pv/subnets/{SUBNET_ID}", READ, "/sdn/zones/pz/pv"),
    Case(
        "subnet-create",
        "POST",
        "/cluster/sdn/vnets/pv/subnets",
        "SDN.Allocate",
        "/sdn/zones/pz/pv",
        {"subnet": "10.43.{n}.0/24", "type": "subnet"},
        created="/cluster/sdn/vnets/pv/subnets/pz-10.43.{n}.0-24",
    ),
    Case(
        "subnet-update",
        "PUT",
        f"/cluster/sdn/vnets/pv/subnets/{SUBNET_ID}",
        "SDN.Allocate",
        "/sdn/zones/pz/pv",
        {"gateway": "10.42.0.1"},
    ),
    Case("controller-read", "GET", "/cluster/sdn/controllers/pc", READ, "/sdn/controllers/pc"),
    Case(
        "controller-create",
        "POST",
        "/cluster/sdn/controllers",
        "SDN.Allocate",
        "/sdn/controllers",
        {"controller": "cc{id}", "type": "bgp", "asn": 65011, "node": "nc{id}", "peers": "10.0.0.8"},
        created="/cluster/sdn/controllers/cc{id}",
    ),
    Case(
        "controller-delete",
        "DELETE",
        "/cluster/sdn/controllers/cd{id}",
        "SDN.Allocate",
        "/sdn/controllers",
        setup=lambda s, i: _bgp(s, f"cd{i}"),
    ),
    Case("ipam-read", "GET", "/cluster/sdn/ipams/pve", READ, "/sdn/ipams/pve"),
    Case(
        "ipam-create",
        "POST",
        "/cluster/sdn/ipams",
        "SDN.Allocate",
        "/sdn/ipams",
        {"ipam": "ic{id}", "type": "netbox", "url": "{netbox}", "token": NETBOX_TOKEN},
        created="/cluster/sdn/ipams/ic{id}",
    ),
    Case("dns-read", "GET", "/cluster/sdn/dns/pd", READ, "/sdn/dns/pd"),
    Case(
        "dns-create",
        "POST",
        "/cluster/sdn/dns",
        "SDN.Allocate",
        "/sdn/dns",
        {
            "dns": "dc{id}",
            "type": "powerdns",
            "url": "http://127.0.0.1:9/api/v1/servers/localhost",
            "key": "k",
        },
        created="/cluster/sdn/dns/dc{id}",
    ),
    Case("fabrics-index", "GET", "/cluster/sdn/fabrics", "SDN.Audit", "/sdn/fabrics"),
    Case("fabric-read", "GET", "/cluster/sdn/fabrics/fabric/pf", READ, "/sdn/fabrics/pf"),
    Case(
        "fabric-create",
        "POST",
        "/cluster/sdn/fabrics/fabric",
        "SDN.Allocate",
        "/sdn/fabrics",
        {"id": "fc{id}", "protocol": "openfabric", "ip_prefix": "10.78.{n}.0/24"},
        created="/cluster/sdn/fabrics/fabric/fc{id}",
    ),
    Case("node-zone", "GET", f"/nodes/{NODE}/sdn/zones/pz", "SDN.Audit", "/sdn/zones/pz"),
    Case(
        "fabric-node-create",
        "POST",
        "/cluster/sdn/fabrics/node/pf",
        "Sys.Modify",
        "/nodes/fn{id}",
        {"node_id": "fn{id}", "ip": "10.77.{n}.1"},
        also={"/sdn/fabrics/pf": "PVESDNAdmin"},
        created="/cluster/sdn/fabrics/node/pf/fn{id}",
    ),
    Case(
        "fabric-node-read",
        "GET",
        "/cluster/sdn/fabrics/node/pf/fr{id}",
        NODE_READ,
        "/nodes/fr{id}",
        also={"/sdn/fabrics/pf": "PVEAuditor"},
        setup=lambda s, i: _fabric_node(s, f"fr{i}", i),
    ),
    Case(
        "fabric-node-delete-needs-fabric",
        "DELETE",
        "/cluster/sdn/fabrics/node/pf/fd{id}",
        "SDN.Allocate",
        "/sdn/fabrics/pf",
        also={"/nodes/fd{id}": "Administrator"},
        setup=lambda s, i: _fabric_node(s, f"fd{i}", i),
    ),
    Case(
        "ip-add",
        "POST",
        "/cluster/sdn/vnets/pv/ips",
        "SDN.Allocate",
        "/sdn/zones/pz/pv",
        {"zone": "pz", "ip": "10.42.0.{n}"},
    ),
]


@pytest.fixture(scope="module")
def netbox() -> Iterator[None]:
    with FakeNetbox() as fake:
        SERVICES["netbox"] = fake.url
        try:
            yield
        finally:
            SERVICES.pop("netbox", None)


@pytest.fixture(scope="module")
def world(server: Server, netbox: None) -> Server:
    """Objects every case refers to, applied once."""
    server.root(
        "POST", "/cluster/sdn/zones", data={"zone": "pz", "type": "simple", "nodes": NODE, "ipam": "pve"}
    )
    server.root("POST", "/cluster/sdn/zones", data={"zone": "pz2", "type": "simple"})
    server.root("POST", "/cluster/sdn/vnets", data={"vnet": "pv", "zone": "pz"})
    server.root("POST", "/cluster/sdn/vnets", data={"vnet": "pv2", "zone": "pz2"})
    server.root("POST", "/cluster/sdn/vnets/pv/subnets", data={"subnet": "10.42.0.0/24", "type": "subnet"})
    data = {"controller": "pc", "type": "evpn", "asn": 65001, "peers": "10.0.0.1"}
    server.root("POST", "/cluster/sdn/controllers", data=data)
    data = {"dns": "pd", "type": "powerdns", "url": "http://127.0.0.1:9/api/v1/servers/localhost", "key": "k"}
    server.root("POST", "/cluster/sdn/dns", data=data)
    data = {"id": "pf", "protocol": "openfabric", "ip_prefix": "10.77.0.0/16"}
    server.root("POST", "/cluster/sdn/fabrics/fabric", data=data)
    server.root("PUT", "/cluster/sdn")
    server.root(
        "POST",
        "/cluster/sdn/vnets/pv/ips",
        data={"zone": "pz", "ip": "10.42.0.5", "mac": "BC:24:11:00:00:05"},
    )
    return server


def store_files(world: Server) -> dict[str, str]:
    """Every file of the server's store (config, running config, IPAM, lock), by content hash."""
    return {
        str(p.relative_to(world.config_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(world.config_dir.rglob("*"))
        if p.is_file() and p.name != "serve.log"
    }


@dataclass(frozen=True)
class Outcome:
    resp: Any
    created: str  # the GET path that exists only if the call succeeded ("" if none)
    acl: str
    before: dict[str, str]  # store_files just before the call
    after: dict[str, str]  # and just after it (before any clean-up)


def _run(world: Server, case: Case, role: str) -> Outcome:
    n = next(_ids)
    fresh = str(n)
    if case.setup is not None:
        case.setup(world, fresh)
    acl = _fill(case.acl, fresh, n)
    token = world.token({**_fill(case.also, fresh, n), acl: role})
    data = _fill(case.data, fresh, n)
    kwargs = {"params": data} if case.method in ("GET", "DELETE") else {"data": data}
    before = store_files(world)
    try:
        resp = world.call(case.method, _fill(case.path, fresh, n), token, **kwargs)
        after = store_files(world)
    finally:
        if case.cleanup is not None:
            case.cleanup(world)
    created = _fill(case.created, fresh, n) if case.created else ""
    return Outcome(resp, created, acl, before, after)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
class TestMatrix:
    def test_allowed_with_the_privilege_on_the_path(self, world: Server, case: Case) -> None:
        out = _run(world, case, GRANTING[case.needs])
        assert out.resp.status_code == 200, out.resp.text
        if case.method != "GET":  # the allowed write did write: the refusal below is no accident
            assert out.after != out.before, "an allowed write changed nothing in the store"
        if out.created:
            assert world.call("GET", out.created, world.root_token).status_code == 200

    def test_refused_without_it(self, world: Server, case: Case) -> None:
        out = _run(world, case, LACKING[case.needs])
        assert out.resp.status_code == 403, out.resp.text
        message = f"Permission check failed ({out.acl}, {case.needs})"
        assert out.resp.json()["message"] == message + "\n"
        assert out.resp.reason == message
        assert out.after == out.before, "a refused call changed the store"  # creates, updates, deletes...
        if out.created:
            assert world.call("GET", out.created, world.root_token).status_code == 404


LISTS = [
    # (list path, ID key, ACL path granted, visible ID, hidden ID)
    ("/cluster/sdn/zones", "zone", "/sdn/zones/pz", "pz", "pz2"),
    ("/cluster/sdn/vnets", "vnet", "/sdn/zones/pz/pv", "pv", "pv2"),
    ("/cluster/sdn/controllers", "controller", "/sdn/controllers/pc", "pc", "none"),
    ("/cluster/sdn/dns", "dns", "/sdn/dns/pd", "pd", "none"),
    ("/cluster/sdn/ipams", "ipam", "/sdn/ipams/pve", "pve", "none"),
    ("/cluster/sdn/fabrics/fabric", "id", "/sdn/fabrics/pf", "pf", "none"),
    (f"/nodes/{NODE}/sdn/zones", "zone", "/sdn/zones/pz", "pz", "pz2"),  # §10.15: filtered
    ("/cluster/sdn/ipams/pve/status", "ip", "/sdn/zones/pz/pv", "10.42.0.5", "none"),
]


@pytest.mark.parametrize(("path", "key", "acl", "shown", "hidden"), LISTS, ids=[x[0] for x in LISTS])
def test_lists_show_only_what_the_caller_may_see(
    world: Server, path: str, key: str, acl: str, shown: str, hidden: str
) -> None:
    token = world.token({acl: "PVEAuditor"})
    ids = {o[key] for o in world.call("GET", path, token).json()["data"]}
    assert shown in ids and hidden not in ids
    assert world.call("GET", path, world.token()).json()["data"] == []


def test_reading_one_object_needs_audit_not_allocate(world: Server) -> None:
    """§10.17: PVE asks SDN.Allocate to read one zone or controller; Audit is enough here."""
    token = world.token({"/sdn": "PVEAuditor"})
    assert world.call("GET", "/cluster/sdn/zones/pz", token).status_code == 200
    assert world.call("GET", "/cluster/sdn/controllers/pc", token).status_code == 200
    assert world.call("PUT", "/cluster/sdn/zones/pz", token, data={"mtu": 1300}).status_code == 403


def test_propagation(world: Server) -> None:
    flat = world.token({"/sdn/zones": "PVEAuditor"}, propagate=False)
    deep = world.token({"/sdn/zones": "PVEAuditor"}, propagate=True)
    assert world.call("GET", "/cluster/sdn/zones/pz", flat).status_code == 403
    assert world.call("GET", "/cluster/sdn/zones/pz", deep).status_code == 200
    assert world.call("GET", "/cluster/sdn/vnets/pv", deep).status_code == 200


def test_noaccess_below_overrides_a_grant_above(world: Server) -> None:
    token = world.token({"/sdn": "PVESDNAdmin"})
    world.access.set_acl("/sdn/zones/pz", "NoAccess", token.split("=", 1)[1].rsplit("=", 1)[0])
    assert world.call("GET", "/cluster/sdn/zones/pz", token).status_code == 403
    assert world.call("GET", "/cluster/sdn/zones/pz2", token).status_code == 200


def test_privilege_separated_token_never_exceeds_its_user(world: Server) -> None:
    token = world.token({"/sdn": "PVESDNAdmin"}, user_grants={"/sdn": "PVEAuditor"}, privsep=True)
    assert world.call("GET", "/cluster/sdn/zones/pz", token).status_code == 200
    resp = world.call("PUT", "/cluster/sdn/zones/pz", token, data={"mtu": 1300})
    assert resp.status_code == 403 and "SDN.Allocate" in resp.reason


def test_privilege_separated_token_has_only_its_own_acls(world: Server) -> None:
    token = world.token(user_grants={"/sdn": "PVESDNAdmin"}, privsep=True)
    assert world.call("GET", "/cluster/sdn/zones/pz", token).status_code == 403
    shared = world.token(user_grants={"/sdn": "PVESDNAdmin"}, privsep=False)
    assert world.call("GET", "/cluster/sdn/zones/pz", shared).status_code == 200


def test_root_token_with_privilege_separation_is_limited_too(world: Server) -> None:
    token = world.token(user="root@pam", privsep=True)
    assert world.call("GET", "/cluster/sdn/zones/pz", token).status_code == 403
    assert world.call("GET", "/cluster/sdn/zones/pz", world.root_token).status_code == 200


def test_moving_a_vnet_needs_allocate_on_the_new_zone(world: Server) -> None:
    world.root("POST", "/cluster/sdn/vnets", data={"vnet": "mv", "zone": "pz"})
    token = world.token({"/sdn/zones/pz": "PVESDNAdmin"})
    resp = world.call("PUT", "/cluster/sdn/vnets/mv", token, data={"zone": "pz2"})
    assert resp.status_code == 403 and "/sdn/zones/pz2/mv" in resp.reason
    assert world.root("GET", "/cluster/sdn/vnets/mv")["zone"] == "pz"
