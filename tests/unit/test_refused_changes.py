"""A refused change writes nothing anywhere: store documents, IPAM state and IPAM journal.

For every object kind, a create, an update and a delete are refused (a hostile value, a broken
rule, or something the IPAM refuses), and every file below the store, the IPAM journal among
them, must hold the same bytes afterwards. Each refusal is paired with the accepted change next
to it, which does write: the comparison can fail. Messages name the object and the field.
(DHCP and DNS have nothing of their own in the store: dnsmasq files are written by the agents
from the running config, PowerDNS is called for guest ports, not object edits.)
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fakes package beside the tests

from fakes.netbox import TOKEN, FakeNetbox
from fakes.phpipam import FakePhpipam
from sdnkit.errors import ConfigError, SdnError
from sdnkit.service import SdnService
from sdnkit.service import ipam as svc_ipam
from sdnkit.store.local import LocalStore

GUEST_MAC = "bc:24:11:00:00:05"
JOURNAL = ".sdnkit/pve-ipam.journal"


# external IPAMs are checked against their servers when saved: the doubles answer for them
NETBOX_URL, PHPIPAM_URL = "<netbox>", "<phpipam>"


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, str]]:
    other = "fedcba9876543210fedcba9876543210fedcba98"  # a second NetBox, where an update moves "nb"
    with FakeNetbox() as netbox, FakeNetbox(other) as netbox2, FakePhpipam() as phpipam:
        yield {
            NETBOX_URL: netbox.url,
            "<netbox2>": netbox2.url,
            "<token2>": other,
            PHPIPAM_URL: phpipam.url,
            "<code>": phpipam.code,
        }


def filled(params: dict[str, Any], servers: dict[str, str]) -> dict[str, Any]:
    return {k: servers.get(v, v) if isinstance(v, str) else v for k, v in params.items()}


def setup(root: Path, servers: dict[str, str]) -> SdnService:
    """Every kind, a subnet with a gateway, a guest address in the IPAM, applied once."""
    sdn = SdnService(LocalStore(root))
    sdn.create(
        "dns",
        {
            "dns": "pdns",
            "type": "powerdns",
            "url": "http://127.0.0.1:1/api/v1/servers/localhost",
            "key": "secret",
        },
    )
    sdn.create("ipams", {"ipam": "nb", "type": "netbox", "url": servers[NETBOX_URL], "token": TOKEN})
    sdn.create("fabrics", {"id": "f1", "protocol": "openfabric", "ip_prefix": "172.20.0.0/24"})
    sdn.create("controllers", {"controller": "ctl", "type": "evpn", "asn": 65000, "fabric": "f1"})
    sdn.create(
        "zones", {"zone": "z1", "type": "simple", "ipam": "pve", "dns": "pdns", "dnszone": "example.com"}
    )
    sdn.create("zones", {"zone": "ev", "type": "evpn", "controller": "ctl", "vrf-vxlan": 10000})
    sdn.create("vnets", {"vnet": "v1", "zone": "z1", "alias": "guests"})
    sdn.create("vnets", {"vnet": "v2", "zone": "z1"})
    sdn.create("subnets", {"vnet": "v1", "subnet": "10.0.0.0/24", "gateway": "10.0.0.1"})
    sdn.apply()
    ctx = svc_ipam.running_context(sdn.store)
    svc_ipam.ips_create(ctx, {"zone": "z1", "vnet": "v1", "mac": GUEST_MAC, "ip": "10.0.0.50"})
    return sdn


def files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@dataclass(frozen=True)
class Case:
    collection: str
    action: str  # create, update, delete
    refused: dict[str, Any]
    field: str  # the parameter the error names
    label: str  # the object the message names
    accepted: dict[str, Any] = field(default_factory=dict)  # the change next to it, which writes
    release_guest: bool = False  # the accepted change needs the guest's address released first


SUB = {"vnet": "v1", "subnet": "z1-10.0.0.0-24"}
CASES = [
    # zones
    Case(
        "zones",
        "create",
        {"zone": "z2", "type": "simple", "mtu": "1\u0665\u0660\u0660"},
        "mtu",
        'zone "z2"',
        {"zone": "z2", "type": "simple", "mtu": "1500"},
    ),
    Case(
        "zones",
        "create",
        {"zone": "z2", "type": "vlan", "bridge": "vmbr0\u2028"},
        "bridge",
        'zone "z2"',
        {"zone": "z2", "type": "vlan", "bridge": "vmbr0"},
    ),
    Case(
        "zones",
        "update",
        {"zone": "ev", "rt-import": "70000:70000"},
        "rt-import",
        'zone "ev"',
        {"zone": "ev", "rt-import": "65000:70000"},
    ),
    Case("zones", "update", {"zone": "z1", "ipam": "nb"}, "ipam", 'zone "z1"', {"zone": "z1", "mtu": 1400}),
    Case("zones", "delete", {"zone": "z1"}, "zone", 'zone "z1"', {"zone": "ev"}),
    # vnets
    Case(
        "vnets",
        "create",
        {"vnet": "v3", "zone": "z1", "alias": "tail\\"},
        "alias",
        'vnet "v3"',
        {"vnet": "v3", "zone": "z1", "alias": "tail"},
    ),
    Case(
        "vnets",
        "create",
        {"vnet": "v3", "zone": "z1", "alias": "<% x %>"},
        "alias",
        'vnet "v3"',
        {"vnet": "v3", "zone": "z1", "alias": "<x>"},
    ),
    Case(
        "vnets",
        "update",
        {"vnet": "v1", "alias": "a\u202eb"},
        "alias",
        'vnet "v1"',
        {"vnet": "v1", "alias": "a b"},
    ),
    Case(
        "vnets",
        "update",
        {"vnet": "v1", "zone": "ev"},
        "zone",
        'vnet "v1"',
        {"vnet": "v2", "zone": "ev", "tag": 5},
    ),
    Case("vnets", "delete", {"vnet": "v1"}, "vnet", 'vnet "v1"', {"vnet": "v2"}),
    # subnets: the IPAM refusals are the ones that used to write its journal
    Case(
        "subnets",
        "create",
        {"vnet": "v2", "subnet": "10.1.0.0/24", "gateway": "10.1.0.1%eth0"},
        "gateway",
        'subnet "z1-10.1.0.0-24"',
        {"vnet": "v2", "subnet": "10.1.0.0/24", "gateway": "10.1.0.1"},
    ),
    Case(
        "subnets",
        "update",
        {**SUB, "gateway": "10.0.0.50"},
        "gateway",
        'subnet "z1-10.0.0.0-24"',
        {**SUB, "gateway": "10.0.0.2"},
    ),
    Case(
        "subnets",
        "update",
        {**SUB, "dhcp-dns-server": "fe80::1%x,8.8.8.8"},
        "dhcp-dns-server",
        'subnet "z1-10.0.0.0-24"',
        {**SUB, "dhcp-dns-server": "10.0.0.53"},
    ),
    Case("subnets", "delete", SUB, "subnet", 'subnet "z1-10.0.0.0-24"', SUB, release_guest=True),
    # controllers
    Case(
        "controllers",
        "create",
        {"controller": "b1", "type": "bgp", "asn": 65001, "node": "n1", "peers": "192.0.2.1%eth0"},
        "peers",
        'controller "b1"',
        {"controller": "b1", "type": "bgp", "asn": 65001, "node": "n1", "peers": "192.0.2.1"},
    ),
    Case(
        "controllers",
        "update",
        {"controller": "ctl", "asn": "\uff16\uff15\uff10\uff10\uff10"},
        "asn",
        'controller "ctl"',
        {"controller": "ctl", "asn": "65001"},
    ),
    Case("controllers", "delete", {"controller": "ctl"}, "controller", 'controller "ctl"'),
    # ipams
    Case(
        "ipams",
        "create",
        {"ipam": "php", "type": "phpipam", "url": "http://ipäm/api", "token": "t", "section": 1},
        "url",
        'ipam "php"',
        {"ipam": "php", "type": "phpipam", "url": PHPIPAM_URL, "token": "<code>", "section": 1},
    ),
    Case(
        "ipams",
        "update",
        {"ipam": "nb", "token": "t0k 3n"},
        "token",
        'ipam "nb"',
        {"ipam": "nb", "url": "<netbox2>", "token": "<token2>"},
    ),
    Case("ipams", "delete", {"ipam": "pve"}, "ipam", 'ipam "pve"', {"ipam": "nb"}),
    # dns
    Case(
        "dns",
        "update",
        {"dns": "pdns", "key": "s\u200becret"},
        "key",
        'dns "pdns"',
        {"dns": "pdns", "key": "s2"},
    ),
    Case(
        "dns",
        "update",
        {"dns": "pdns", "ttl": "\u0661\u0660"},
        "ttl",
        'dns "pdns"',
        {"dns": "pdns", "ttl": "10"},
    ),
    Case("dns", "delete", {"dns": "pdns"}, "dns", 'dns "pdns"'),
    # fabrics
    Case(
        "fabrics",
        "create",
        {"id": "f2", "protocol": "ospf", "area": "4294967296", "ip_prefix": "172.21.0.0/24"},
        "area",
        'fabric "f2"',
        {"id": "f2", "protocol": "ospf", "area": "4294967295", "ip_prefix": "172.21.0.0/24"},
    ),
    Case(
        "fabrics",
        "update",
        {"id": "f1", "hello_interval": "\u0967\u0966"},
        "hello_interval",
        'fabric "f1"',
        {"id": "f1", "hello_interval": "10"},
    ),
    Case("fabrics", "delete", {"id": "f1"}, "fabric", 'fabric "f1"'),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.collection}-{c.action}-{c.field}")
def test_a_refused_change_writes_nothing(tmp_path: Path, case: Case, servers: dict[str, str]) -> None:
    sdn = setup(tmp_path, servers)
    before = files(tmp_path)
    assert JOURNAL in before
    with pytest.raises(SdnError) as err:
        getattr(sdn, case.action)(case.collection, case.refused)
    assert files(tmp_path) == before, f"refused, yet written: {err.value}"
    assert isinstance(err.value, ConfigError), err.value
    assert case.field in err.value.errors, err.value.errors
    assert case.label in str(err.value)
    if case.release_guest:
        guest = {"zone": "z1", "vnet": "v1", "mac": GUEST_MAC, "ip": "10.0.0.50"}
        svc_ipam.ips_delete(svc_ipam.running_context(sdn.store), guest)
        before = files(tmp_path)
    if case.accepted:
        getattr(sdn, case.action)(case.collection, filled(case.accepted, servers))
        assert files(tmp_path) != before


def test_an_ipam_refusal_in_a_rollback_writes_nothing(tmp_path: Path, servers: dict[str, str]) -> None:
    """A rollback makes several subnet changes in one commit: all are checked before any IPAM op.

    Pending: a new subnet on v2 and v1's gateway moved to 10.0.0.2; then a guest takes 10.0.0.1.
    Rolling back deletes the new subnet (the IPAM would allow it) and moves v1's gateway back
    to 10.0.0.1, which the guest holds: refused, and the subnet delete must not have happened.
    """
    sdn = setup(tmp_path, servers)
    sdn.create("subnets", {"vnet": "v2", "subnet": "10.1.0.0/24", "gateway": "10.1.0.1"})
    sdn.update("subnets", {**SUB, "gateway": "10.0.0.2"})
    guest = {"zone": "z1", "vnet": "v1", "mac": "bc:24:11:00:00:06", "ip": "10.0.0.1"}
    svc_ipam.ips_create(svc_ipam.running_context(sdn.store), guest)
    before = files(tmp_path)
    with pytest.raises(ConfigError, match=r"gateway 10\.0\.0\.1 is already registered") as err:
        sdn.rollback()
    assert err.value.key == "gateway"
    assert files(tmp_path) == before
    svc_ipam.ips_delete(svc_ipam.running_context(sdn.store), guest)
    sdn.rollback()  # the same rollback, once the address is free
    assert [s["subnet"] for s in sdn.list("subnets")] == ["z1-10.0.0.0-24"]


def test_a_gateway_change_does_not_depend_on_the_old_gateway_being_registered(
    tmp_path: Path, servers: dict[str, str]
) -> None:
    """The issue's case: an IPAM that lost the old gateway refused the change only after writing
    the new one (and its undo) to the journal. The old gateway is now unregistered only if the
    IPAM holds it as the gateway: the change goes through, and a guest that was given the
    address meanwhile keeps it."""
    sdn = setup(tmp_path, servers)
    ctx = svc_ipam.running_context(sdn.store)
    svc_ipam.ips_delete(ctx, {"zone": "z1", "vnet": "v1", "ip": "10.0.0.1"})  # the state lost it
    guest = {"zone": "z1", "vnet": "v1", "mac": "bc:24:11:00:00:07", "ip": "10.0.0.1"}
    svc_ipam.ips_create(ctx, guest)
    sdn.update("subnets", {**SUB, "gateway": "10.0.0.9"})
    rows = {r["ip"]: r for r in svc_ipam.status(svc_ipam.running_context(sdn.store), "pve")}
    assert sorted(rows) == ["10.0.0.1", "10.0.0.50", "10.0.0.9"]
    assert rows["10.0.0.9"].get("gateway") == 1
    assert rows["10.0.0.1"].get("mac") == guest["mac"]
