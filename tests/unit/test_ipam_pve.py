"""The built-in IPAM plugin: upstream's subnet test sequence (spec §7.4) and allocation rules."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdnkit.config.model import DhcpRange, Subnet
from sdnkit.errors import IpamError, IpamExhaustedError, NotFoundError
from sdnkit.ipam.base import IpEntry
from sdnkit.ipam.journal import DOCUMENT, JournalStorage
from sdnkit.ipam.pve import PveIpam
from sdnkit.ipam.storage import DocumentStorage, IpamStorage, MemoryStorage
from sdnkit.store.local import LocalStore

ip = ipaddress.ip_address


def subnet(
    cidr: str, gateway: str | None = None, ranges: tuple[tuple[str, str], ...] = (), zone: str = "z1"
) -> Subnet:
    return Subnet(
        id=f"{zone}-{cidr.replace('/', '-')}",
        vnet="v1",
        zone=zone,
        cidr=cidr,
        gateway=ip(gateway) if gateway else None,
        dhcp_ranges=tuple(DhcpRange(ip(a), ip(b)) for a, b in ranges),
    )


@pytest.fixture(params=["memory", "journal", "document"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IpamStorage]:
    st: IpamStorage = MemoryStorage()
    if request.param == "journal":
        st = JournalStorage(LocalStore(tmp_path), tmp_path / "journal")
    elif request.param == "document":
        st = DocumentStorage(LocalStore(tmp_path))
    yield st
    st.close()


def document(storage: IpamStorage) -> dict[str, object]:
    return storage.run(lambda txn: txn.state.to_json())


VM = IpEntry(mac="da:65:8f:18:9b:6f", hostname="myhost", vmid="100")


def test_upstream_subnet_sequence(storage: IpamStorage) -> None:
    """spec §7.4: add_subnet, gateway, existing IP refused, next free fills the gap, deletes."""
    pve = PveIpam("pve", storage)
    sub = subnet("10.0.0.0/24", "10.0.0.1")
    pve.add_subnet(sub)
    assert document(storage) == {"zones": {"z1": {"subnets": {"10.0.0.0/24": {"ips": {}}}}}}
    pve.add_ip(sub, ip("10.0.0.1"), IpEntry(gateway=True))
    pve.add_ip(sub, ip("10.0.0.1"), IpEntry(gateway=True))  # a gateway may be registered again
    with pytest.raises(IpamError, match=r"10\.0\.0\.1 is already registered as the gateway"):
        pve.add_ip(sub, ip("10.0.0.1"), VM)
    pve.add_ip(sub, ip("10.0.0.3"), VM)
    assert pve.next_free_ip(sub, IpEntry(mac="aa:bb:cc:00:00:02")) == ip("10.0.0.2")
    pve.del_ip(sub, ip("10.0.0.1"))
    with pytest.raises(IpamError, match="cannot delete, 2 address"):
        pve.del_subnet(sub)
    pve.del_ip(sub, ip("10.0.0.2"))
    pve.del_ip(sub, ip("10.0.0.3"))
    pve.del_subnet(sub)
    assert document(storage) == {"zones": {}}


def test_entries_have_upstream_shape(storage: IpamStorage) -> None:
    pve = PveIpam("pve", storage)
    sub = subnet("10.0.0.0/24", "10.0.0.1")
    pve.add_ip(sub, ip("10.0.0.1"), IpEntry(gateway=True))
    pve.add_ip(sub, ip("10.0.0.101"), IpEntry(vmid="1000", mac="BC:24:11:00:00:01", hostname="test0"))
    pve.add_ip(sub, ip("10.0.0.50"), IpEntry(mac="bc:24:11:aa:bb:cc"))
    assert document(storage)["zones"] == {
        "z1": {
            "subnets": {
                "10.0.0.0/24": {
                    "ips": {
                        "10.0.0.1": {"gateway": 1},
                        "10.0.0.101": {"vmid": "1000", "mac": "BC:24:11:00:00:01", "hostname": "test0"},
                        "10.0.0.50": {"mac": "bc:24:11:aa:bb:cc"},
                    }
                }
            }
        }
    }


def test_next_free_skips_the_gateway_even_unregistered(storage: IpamStorage) -> None:
    pve = PveIpam("pve", storage)
    sub = subnet("10.0.0.0/29", "10.0.0.1")
    got = [pve.next_free_ip(sub, IpEntry(mac=f"02:00:00:00:00:{i:02x}")) for i in range(5)]
    assert got == [ip(f"10.0.0.{n}") for n in range(2, 7)]
    with pytest.raises(IpamExhaustedError, match=r"no free IP left in 10\.0\.0\.0/29"):
        pve.next_free_ip(sub, VM)


def test_freed_address_is_handed_out_again_lowest_first(storage: IpamStorage) -> None:
    pve = PveIpam("pve", storage)
    sub = subnet("10.0.0.0/24")
    for _ in range(10):
        pve.next_free_ip(sub, VM)
    pve.del_ip(sub, ip("10.0.0.7"))
    pve.del_ip(sub, ip("10.0.0.3"))
    assert pve.next_free_ip(sub, VM) == ip("10.0.0.3")
    assert pve.next_free_ip(sub, VM) == ip("10.0.0.7")
    assert pve.next_free_ip(sub, VM) == ip("10.0.0.11")


def test_dhcp_range_allocation_stays_in_the_range_and_skips_the_gateway(storage: IpamStorage) -> None:
    pve = PveIpam("pve", storage)
    sub = subnet("10.0.0.0/24", "10.0.0.100", (("10.0.0.100", "10.0.0.102"),))
    pve.add_ip(sub, ip("10.0.0.100"), IpEntry(gateway=True))
    pool = sub.dhcp_ranges[0]
    assert pve.next_free_ip(sub, VM, pool) == ip("10.0.0.101")
    assert pve.next_free_ip(sub, VM, pool) == ip("10.0.0.102")
    with pytest.raises(IpamExhaustedError, match=r"range 10\.0\.0\.100-10\.0\.0\.102"):
        pve.next_free_ip(sub, VM, pool)


def test_ipv6_never_returns_the_subnet_router_anycast_address(storage: IpamStorage) -> None:
    pve = PveIpam("pve", storage)
    sub = subnet("2001:db8::/64")
    assert pve.next_free_ip(sub, VM) == ip("2001:db8::1")
    pool = DhcpRange(ip("2001:db8::"), ip("2001:db8::3"))
    assert pve.next_free_ip(sub, VM, pool) == ip("2001:db8::2")
    keys = document(storage)["zones"]["z1"]["subnets"]["2001:db8::/64"]["ips"]  # type: ignore[index]
    assert sorted(keys) == ["2001:db8::1", "2001:db8::2"]  # RFC 5952 keys, as upstream's canon


def test_ipv6_slash_127_has_one_host_address(storage: IpamStorage) -> None:
    pve = PveIpam("pve", storage)
    sub = subnet("2001:db8::/127")
    assert pve.next_free_ip(sub, VM) == ip("2001:db8::1")
    with pytest.raises(IpamExhaustedError):
        pve.next_free_ip(sub, VM)


def test_address_outside_the_subnet_is_refused(storage: IpamStorage) -> None:
    pve = PveIpam("pve", storage)
    with pytest.raises(IpamError, match=r"10\.0\.1\.5 is not in 10\.0\.0\.0/24"):
        pve.add_ip(subnet("10.0.0.0/24"), ip("10.0.1.5"), VM)
    with pytest.raises(IpamError, match="is not in"):
        pve.add_ip(subnet("10.0.0.0/24"), ip("2001:db8::5"), VM)
    assert document(storage) == {"zones": {}}


def test_update_and_delete_of_unknown_address_are_not_found(storage: IpamStorage) -> None:
    pve = PveIpam("pve", storage)
    sub = subnet("10.0.0.0/24")
    with pytest.raises(NotFoundError):
        pve.del_ip(sub, ip("10.0.0.9"))
    with pytest.raises(NotFoundError):
        pve.update_ip(sub, ip("10.0.0.9"), VM)
    pve.add_ip(sub, ip("10.0.0.9"), VM)
    pve.update_ip(sub, ip("10.0.0.9"), IpEntry(mac="02:00:00:00:00:01", hostname="renamed", vmid="100"))
    (alloc,) = pve.find_mac([sub], "02:00:00:00:00:01")
    assert alloc.entry.hostname == "renamed"
    assert pve.find_mac([sub], VM.mac or "") == []


def test_find_mac_is_case_insensitive_and_scoped_to_the_given_subnets(storage: IpamStorage) -> None:
    pve = PveIpam("pve", storage)
    v4, v6 = subnet("10.0.0.0/24"), subnet("2001:db8::/64")
    other = subnet("10.9.0.0/24", zone="z2")
    for sub in (v4, v6, other):
        pve.next_free_ip(sub, IpEntry(mac="DA:65:8F:18:9B:6F"))
    found = pve.find_mac([v4, v6], "da:65:8f:18:9b:6f")
    assert sorted(str(a.ip) for a in found) == ["10.0.0.1", "2001:db8::1"]


def test_zones_with_the_same_cidr_are_separate(storage: IpamStorage) -> None:
    pve = PveIpam("pve", storage)
    a, b = subnet("10.0.0.0/24", zone="z1"), subnet("10.0.0.0/24", zone="z2")
    assert pve.next_free_ip(a, VM) == pve.next_free_ip(b, VM) == ip("10.0.0.1")


def test_a_real_upstream_state_file_loads(tmp_path: Path) -> None:
    real = {
        "zones": {
            "zone1": {
                "subnets": {
                    "10.0.0.0/24": {
                        "ips": {
                            "10.0.0.1": {"gateway": 1},
                            "10.0.0.101": {"vmid": "1000", "mac": "BC:24:11:00:00:01", "hostname": "test0"},
                        }
                    },
                    "2001:db8::/64": {
                        "ips": {
                            "2001:db8:0:0:0:0:0:2": {"mac": "bc:24:11:aa:bb:cc"},  # Net::IP ip() spelling
                            "2001:db8::1": {"gateway": 1},
                        }
                    },
                }
            }
        }
    }
    store = LocalStore(tmp_path)
    store.commit({DOCUMENT: json.dumps(real).encode()})
    storage = JournalStorage(store, tmp_path / "journal")
    pve = PveIpam("pve", storage)
    v4 = Subnet(id="zone1-10.0.0.0-24", vnet="v1", zone="zone1", cidr="10.0.0.0/24", gateway=ip("10.0.0.1"))
    v6 = Subnet(id="zone1-2001:db8::-64", vnet="v1", zone="zone1", cidr="2001:db8::/64")
    assert [str(a.ip) for a in pve.find_mac([v4, v6], "bc:24:11:00:00:01")] == ["10.0.0.101"]
    assert pve.next_free_ip(v4, VM) == ip("10.0.0.2")
    assert pve.next_free_ip(v6, VM) == ip("2001:db8::3")  # ::2 spelled the long way is taken
    storage.close()
