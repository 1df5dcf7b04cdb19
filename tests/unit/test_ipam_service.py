"""IPAM service operations over real stores: upstream's blackbox scenarios (spec §7.5) and more.

Every test runs on both stores: a directory (state document + journal) and etcd (one document
per address, ``ipam/keyed.py``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from sdnkit.errors import ConfigError, IpamError, IpamExhaustedError, NotFoundError
from sdnkit.service import SdnService
from sdnkit.service import ipam as svc_ipam
from sdnkit.store import open_store

MAC = "da:65:8f:18:9b:6f"
V4 = {"subnet": "10.0.0.0/24", "gateway": "10.0.0.1"}
V6 = {"subnet": "2001:db8::/64", "gateway": "2001:db8::1"}
V4_DHCP = {**V4, "dhcp-range": ["start-address=10.0.0.100,end-address=10.0.0.200"]}
V6_DHCP = {**V6, "dhcp-range": ["start-address=2001:db8::100,end-address=2001:db8::200"]}
V4_FULL = {
    "subnet": "10.0.0.0/24",
    "gateway": "10.0.0.100",
    "dhcp-range": ["start-address=10.0.0.100,end-address=10.0.0.100"],
}
V6_FULL = {
    "subnet": "2001:db8::/64",
    "gateway": "2001:db8::100",
    "dhcp-range": ["start-address=2001:db8::100,end-address=2001:db8::100"],
}
V6_ONE = {**V6, "dhcp-range": ["start-address=2001:db8::100,end-address=2001:db8::100"]}
V4_ONE = {**V4, "dhcp-range": ["start-address=10.0.0.100,end-address=10.0.0.100"]}


class Env:
    def __init__(self, spec: str) -> None:
        self.store = open_store(spec)
        self.sdn = SdnService(self.store)

    def zone(self, zone: str = "z1", **opts: str) -> None:
        self.sdn.create("zones", {"zone": zone, "type": "simple", "ipam": "pve", "dhcp": "dnsmasq", **opts})

    def vnet(self, vnet: str = "v1", zone: str = "z1") -> None:
        self.sdn.create("vnets", {"vnet": vnet, "zone": zone})

    def subnets(self, subnets: Sequence[dict[str, Any]], vnet: str = "v1") -> None:
        for sub in subnets:
            self.sdn.create("subnets", {"type": "subnet", "vnet": vnet, **sub})

    def apply(self) -> svc_ipam.IpamContext:
        self.sdn.apply({})
        return self.ctx()

    def ctx(self) -> svc_ipam.IpamContext:
        return svc_ipam.running_context(self.store)

    def status(self) -> list[dict[str, Any]]:
        return svc_ipam.status(self.ctx(), "pve")

    def ips_of(self, mac: str = MAC) -> list[dict[str, Any]]:
        return [e for e in self.status() if e.get("mac") == mac]


@pytest.fixture
def env(store_spec: str) -> Env:
    return Env(store_spec)


def setup(env: Env, subnets: Sequence[dict[str, Any]]) -> svc_ipam.IpamContext:
    env.zone()
    env.vnet()
    env.subnets(subnets)
    return env.apply()


def test_create_vnet_with_gateway_registers_it(env: Env) -> None:
    setup(env, [V4_DHCP])
    assert env.status() == [
        {"gateway": 1, "zone": "z1", "subnet": "10.0.0.0/24", "vnet": "v1", "ip": "10.0.0.1"}
    ]


def test_without_subnet_nothing_is_allocated(env: Env) -> None:
    ctx = setup(env, [])
    assert svc_ipam.allocate(ctx, "v1", mac=MAC, hostname="testhostname", vmid=999) == []
    assert env.ips_of() == []


@pytest.mark.parametrize(
    ("subnets", "expected"),
    [
        ([V4], ["10.0.0.2"]),
        ([V6], ["2001:db8::2"]),
        ([V4, V6], ["10.0.0.2", "2001:db8::2"]),
        ([V4_DHCP], ["10.0.0.100"]),
        ([V6_DHCP], ["2001:db8::100"]),
        ([V4_DHCP, V6_DHCP], ["10.0.0.100", "2001:db8::100"]),
        ([V4, V6_DHCP], ["10.0.0.2", "2001:db8::100"]),
        ([V4_DHCP, V6], ["10.0.0.100", "2001:db8::2"]),
    ],
)
def test_nic_join(env: Env, subnets: list[dict[str, Any]], expected: list[str]) -> None:
    ctx = setup(env, subnets)
    got = svc_ipam.allocate(ctx, "v1", mac=MAC, hostname="testhostname", vmid="999")
    assert [str(a.ip) for a in got] == expected
    rows = env.ips_of()
    assert sorted(r["ip"] for r in rows) == sorted(expected)
    assert all(
        (r["vnet"], r["zone"], r["vmid"], r["hostname"]) == ("v1", "z1", 999, "testhostname") for r in rows
    )


@pytest.mark.parametrize(
    "subnets",
    [
        [V4_FULL],
        [V6_FULL],
        [V4_FULL, V6_FULL],
        [V4_FULL, V6_ONE],
        [V4_ONE, V6_FULL],
        [V4, V6_FULL],
    ],
    ids=["v4", "v6", "both", "full-for-v4", "full-for-v6", "v4-nodhcp-v6-full"],
)
def test_nic_join_full_dhcp_range_fails_and_leaves_nothing(env: Env, subnets: list[dict[str, Any]]) -> None:
    ctx = setup(env, subnets)
    with pytest.raises(IpamExhaustedError, match="no free IP left"):
        svc_ipam.allocate(ctx, "v1", mac=MAC, hostname="testhostname", vmid=999)
    assert env.ips_of() == []


@pytest.mark.parametrize(
    ("subnets", "current", "expected"),
    [
        ([V4], [], ["10.0.0.2"]),
        ([V4], ["10.0.0.99"], ["10.0.0.99"]),
        ([V6], ["2001:db8::99"], ["2001:db8::99"]),
        ([V4_DHCP], [], ["10.0.0.100"]),
        ([V4_DHCP], ["10.0.0.99"], ["10.0.0.99"]),
        ([V6_DHCP], ["2001:db8::99"], ["2001:db8::99"]),
        ([V4_DHCP, V6_DHCP], [], ["10.0.0.100", "2001:db8::100"]),
        ([V4_DHCP, V6_DHCP], ["10.0.0.99"], ["10.0.0.99", "2001:db8::100"]),
        ([V4_DHCP, V6_DHCP], ["2001:db8::99"], ["10.0.0.100", "2001:db8::99"]),
        ([V4_DHCP, V6_DHCP], ["10.0.0.99", "2001:db8::99"], ["10.0.0.99", "2001:db8::99"]),
        ([V4_DHCP, V6], ["10.0.0.99", "2001:db8::99"], ["10.0.0.99", "2001:db8::99"]),
    ],
)
def test_nic_start_allocates_only_the_missing_family(
    env: Env, subnets: list[dict[str, Any]], current: list[str], expected: list[str]
) -> None:
    ctx = setup(env, subnets)
    for ip in current:
        svc_ipam.ips_create(ctx, {"zone": "z1", "vnet": "v1", "mac": MAC, "ip": ip})
    got = svc_ipam.ensure(ctx, "v1", mac=MAC, hostname="testhostname", vmid=999)
    assert [str(a.ip) for a in got] == expected
    assert sorted(r["ip"] for r in env.ips_of()) == sorted(expected)


def test_status_lists_zones_without_dhcp_and_only_the_asked_ipam(env: Env) -> None:
    """Upstream lists only zones with dhcp (spec §10.16)."""
    env.zone("z1")
    env.sdn.create("zones", {"zone": "z2", "type": "simple", "ipam": "pve"})
    env.sdn.create("zones", {"zone": "z3", "type": "simple"})
    env.vnet("v1", "z1")
    env.vnet("v2", "z2")
    env.vnet("v3", "z3")
    env.subnets([V4], "v1")
    env.subnets([{"subnet": "10.2.0.0/24", "gateway": "10.2.0.1"}], "v2")
    env.subnets([{"subnet": "10.3.0.0/24", "gateway": "10.3.0.1"}], "v3")
    ctx = env.apply()
    svc_ipam.allocate(ctx, "v2", mac=MAC, vmid=100)
    assert svc_ipam.allocate(ctx, "v3", mac=MAC, vmid=100) == []  # no IPAM: nothing to do
    rows = env.status()
    assert [(r["zone"], r["ip"]) for r in rows] == [
        ("z1", "10.0.0.1"),
        ("z2", "10.2.0.1"),
        ("z2", "10.2.0.2"),
    ]
    assert rows[2] == {
        "vmid": 100,
        "mac": MAC,
        "zone": "z2",
        "subnet": "10.2.0.0/24",
        "vnet": "v2",
        "ip": "10.2.0.2",
    }
    with pytest.raises(NotFoundError, match='ipam "nope" does not exist'):
        svc_ipam.status(ctx, "nope")


def test_subnet_delete_is_refused_while_guests_remain(env: Env) -> None:
    ctx = setup(env, [V4])
    svc_ipam.allocate(ctx, "v1", mac=MAC)
    subnet_id = "z1-10.0.0.0-24"
    with pytest.raises(ConfigError, match=r"cannot delete it, 1 address\(es\) are still registered") as err:
        env.sdn.delete("subnets", {"vnet": "v1", "subnet": subnet_id})
    assert err.value.key == "subnet"  # a 400 naming the parameter, not an IPAM failure
    assert subnet_id in [s["subnet"] for s in env.sdn.list("subnets", {"vnet": "v1"})]
    assert [r["ip"] for r in env.status()] == ["10.0.0.1", "10.0.0.2"]
    assert [str(a.ip) for a in svc_ipam.release(ctx, "v1", MAC)] == ["10.0.0.2"]
    env.sdn.delete("subnets", {"vnet": "v1", "subnet": subnet_id})
    assert svc_ipam.storage_for(env.store).run(lambda txn: txn.state.to_json()) == {"zones": {}}


def test_gateway_change_moves_the_registration(env: Env) -> None:
    setup(env, [V4])
    env.sdn.update("subnets", {"vnet": "v1", "subnet": "z1-10.0.0.0-24", "gateway": "10.0.0.254"})
    env.apply()
    assert [(r["ip"], r.get("gateway")) for r in env.status()] == [("10.0.0.254", 1)]


def test_gateway_taken_by_a_guest_refuses_the_change_and_changes_nothing(env: Env) -> None:
    ctx = setup(env, [V4])
    svc_ipam.ips_create(ctx, {"zone": "z1", "vnet": "v1", "mac": MAC, "ip": "10.0.0.254"})
    taken = r"gateway 10\.0\.0\.254 is already registered in ipam \"pve\" \(mac="
    with pytest.raises(ConfigError, match=taken) as err:
        env.sdn.update("subnets", {"vnet": "v1", "subnet": "z1-10.0.0.0-24", "gateway": "10.0.0.254"})
    assert err.value.key == "gateway"
    (sub,) = env.sdn.list("subnets", {"vnet": "v1"})
    assert sub["gateway"] == "10.0.0.1"
    assert [(r["ip"], r.get("gateway"), r.get("mac")) for r in env.status()] == [
        ("10.0.0.1", 1, None),
        ("10.0.0.254", None, MAC),
    ]


def test_ips_api_create_update_delete(env: Env) -> None:
    ctx = setup(env, [V4, V6])
    base = {"zone": "z1", "vnet": "v1", "mac": MAC}
    svc_ipam.ips_create(ctx, {**base, "ip": "10.0.0.50"})
    svc_ipam.ips_create(ctx, {**base, "ip": "2001:db8::50"})
    with pytest.raises(IpamError, match="already registered"):
        svc_ipam.ips_create(ctx, {**base, "mac": "02:00:00:00:00:01", "ip": "10.0.0.50"})
    svc_ipam.ips_update(ctx, {**base, "ip": "10.0.0.60", "vmid": "105"})  # replaces the IPv4 only
    assert [(r["ip"], r.get("vmid")) for r in env.ips_of()] == [("10.0.0.60", 105), ("2001:db8::50", None)]
    with pytest.raises(IpamError, match="already registered as the gateway"):
        svc_ipam.ips_update(ctx, {**base, "ip": "10.0.0.1"})
    assert [r["ip"] for r in env.ips_of()] == ["10.0.0.60", "2001:db8::50"]  # the old address was restored
    with pytest.raises(ConfigError, match='vnet "v1" is in zone "z1", not "z9"'):
        svc_ipam.ips_delete(ctx, {**base, "zone": "z9", "ip": "10.0.0.60"})
    with pytest.raises(ConfigError, match="belongs to the gateway"):
        svc_ipam.ips_delete(ctx, {**base, "ip": "10.0.0.1"})
    with pytest.raises(ConfigError, match="is not in any of its subnets"):
        svc_ipam.ips_create(ctx, {**base, "ip": "192.0.2.1"})
    svc_ipam.ips_delete(ctx, {**base, "ip": "10.0.0.60"})
    with pytest.raises(NotFoundError):
        svc_ipam.ips_delete(ctx, {**base, "ip": "10.0.0.60"})
    assert [r["ip"] for r in env.ips_of()] == ["2001:db8::50"]


def test_bad_parameters_are_refused_with_the_field(env: Env) -> None:
    ctx = setup(env, [V4])
    with pytest.raises(ConfigError) as err:
        svc_ipam.allocate(ctx, "v1", mac="01:00:00:00:00:01")
    assert err.value.key == "mac"
    with pytest.raises(ConfigError) as err:
        svc_ipam.allocate(ctx, "v1", mac=MAC, hostname="bad host\nname")
    assert err.value.key == "hostname"
    with pytest.raises(ConfigError) as err:
        svc_ipam.allocate(ctx, "v1", mac=MAC, vmid="42")
    assert err.value.key == "vmid"
    with pytest.raises(NotFoundError, match='vnet "nope" does not exist'):
        svc_ipam.allocate(ctx, "nope", mac=MAC)
    assert env.ips_of() == []


def test_per_guest_and_per_mac_lookups_across_vnets(env: Env) -> None:
    env.zone()
    env.vnet("v1")
    env.vnet("v2")
    env.subnets([V4, V6], "v1")
    env.subnets([{"subnet": "10.9.0.0/24", "gateway": "10.9.0.1"}], "v2")
    ctx = env.apply()
    svc_ipam.allocate(ctx, "v1", mac=MAC, vmid=100)
    svc_ipam.allocate(ctx, "v2", mac="02:00:00:00:00:02", vmid=100)
    svc_ipam.allocate(ctx, "v2", mac="02:00:00:00:00:03", vmid=101)
    assert [str(a.ip) for a in svc_ipam.find_guest(ctx, 100)] == ["10.0.0.2", "2001:db8::2", "10.9.0.2"]
    assert [str(a.ip) for a in svc_ipam.find_mac(ctx, "v1", MAC.upper())] == ["10.0.0.2", "2001:db8::2"]
    assert svc_ipam.find_mac(ctx, "v2", MAC) == []
    assert len(svc_ipam.list_ips(ctx)) == 7  # 3 gateways, 4 guest addresses


def test_pending_subnets_are_not_used_before_apply(env: Env) -> None:
    setup(env, [V4])
    env.subnets([V6])  # pending: the IPv6 subnet is registered (as PVE does) but guests wait for apply
    assert [str(a.ip) for a in svc_ipam.allocate(env.ctx(), "v1", mac=MAC)] == ["10.0.0.2"]
    env.apply()
    assert [str(a.ip) for a in svc_ipam.ensure(env.ctx(), "v1", mac=MAC)] == ["10.0.0.2", "2001:db8::2"]


def test_a_real_pve_directory_with_its_ipam_state_imports(env: Env, tmp_path: Path) -> None:
    pve = tmp_path / "pve"
    pve.mkdir()
    (pve / "zones.cfg").write_text("simple: z1\n\tipam pve\n\tdhcp dnsmasq\n")
    (pve / "vnets.cfg").write_text("vnet: v1\n\tzone z1\n")
    (pve / "subnets.cfg").write_text("subnet: z1-10.0.0.0-24\n\tvnet v1\n\tgateway 10.0.0.1\n")
    (pve / "pve-ipam-state.json").write_text(
        '{"zones":{"z1":{"subnets":{"10.0.0.0/24":{"ips":{"10.0.0.1":{"gateway":1},'
        '"10.0.0.2":{"vmid":"100","mac":"BC:24:11:00:00:01","hostname":"vm100"}}}}}}}'
    )
    sdn = SdnService(env.store)
    sdn.import_pve(pve)
    sdn.apply({})
    ctx = svc_ipam.running_context(env.store)
    assert [r["ip"] for r in svc_ipam.status(ctx, "pve")] == ["10.0.0.1", "10.0.0.2"]
    assert [str(a.ip) for a in svc_ipam.allocate(ctx, "v1", mac=MAC)] == ["10.0.0.3"]
    assert ipaddress.ip_address("10.0.0.2") in {a.ip for a in svc_ipam.find_guest(ctx, 100)}


def test_allocate_takes_the_macs_loose_address_again_but_never_a_held_one(env: Env) -> None:
    """Idempotent per MAC: a retry after an allocation whose answer was lost gets that address."""
    ctx = setup(env, [V4, V6])
    first = svc_ipam.allocate(ctx, "v1", mac=MAC, hostname="old", vmid=100)
    assert [str(a.ip) for a in first] == ["10.0.0.2", "2001:db8::2"]
    again = svc_ipam.allocate(ctx, "v1", mac=MAC, hostname="new", vmid=101, versions=(4,))
    assert [(str(a.ip), a.entry.hostname, a.entry.vmid) for a in again] == [("10.0.0.2", "new", "101")]
    assert [(r["ip"], r["hostname"], r["vmid"]) for r in env.ips_of()] == [
        ("10.0.0.2", "new", 101),
        ("2001:db8::2", "old", 100),
    ]
    held = [ipaddress.ip_address("10.0.0.2"), ipaddress.ip_address("2001:db8::2")]
    other = svc_ipam.allocate(ctx, "v1", mac=MAC, vmid=102, held=held)  # another port, same MAC
    assert [str(a.ip) for a in other] == ["10.0.0.3", "2001:db8::3"]


def test_a_failed_allocation_gives_a_reused_address_back_as_it_was(env: Env) -> None:
    ctx = setup(env, [V4, V6_FULL])
    svc_ipam.allocate(ctx, "v1", mac=MAC, hostname="old", vmid=100, versions=(4,))
    with pytest.raises(IpamExhaustedError):  # IPv4 reused, IPv6 full: all or nothing
        svc_ipam.allocate(ctx, "v1", mac=MAC, hostname="new", vmid=101)
    assert [(r["ip"], r["hostname"], r["vmid"]) for r in env.ips_of()] == [("10.0.0.2", "old", 100)]
