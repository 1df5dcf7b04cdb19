"""Port operations without devices or daemons: checks, IPAM allocation, the registry, all or nothing.

Every test runs on both stores (a directory, and real etcd: ``tests/conftest.py``).
"""

from __future__ import annotations

import ipaddress
import json

import pytest

from sdnkit.errors import ConfigError, IpamError, IpamExhaustedError, NotFoundError
from sdnkit.service import SdnService
from sdnkit.service.port_registry import LEGACY_DOC, read_ports
from sdnkit.service.ports import PortContext, PortSpec, _View, add_port, del_port, list_ports


@pytest.fixture
def svc(store_spec):
    svc = SdnService(store_spec)
    svc.create("zones", {"zone": "z1", "type": "simple", "ipam": "pve", "dhcp": "dnsmasq"})
    svc.create("zones", {"zone": "noipam", "type": "simple"})
    svc.create("vnets", {"vnet": "v1", "zone": "z1"})
    svc.create("vnets", {"vnet": "v2", "zone": "noipam"})
    rng = ["start-address=10.0.1.100,end-address=10.0.1.101"]
    svc.create("subnets", {"vnet": "v1", "subnet": "10.0.1.0/24", "gateway": "10.0.1.1", "dhcp-range": rng})
    svc.create("subnets", {"vnet": "v1", "subnet": "2001:db8:1::/64", "gateway": "2001:db8:1::1"})
    svc.create("subnets", {"vnet": "v2", "subnet": "10.0.2.0/24", "gateway": "10.0.2.1"})
    svc.apply({})
    return svc


def ctx(svc) -> PortContext:
    return PortContext(store=svc.store, node="n1", firewall=False)


def addresses(svc) -> list[str]:
    view = _View.load(ctx(svc))
    plugin = view.ipam.plugin("pve")
    return sorted(str(a.ip) for a in plugin.allocations(view.running.subnets_of("v1")) if not a.entry.gateway)


def test_add_allocates_one_address_per_family_and_records_the_port(svc):
    port = add_port(ctx(svc), PortSpec(vnet="v1", guest="100", mac="BC:24:11:00:00:01", hostname="web1"))
    assert port.ips == ("10.0.1.100", "2001:db8:1::2")  # v4 inside the dhcp-range
    assert port.mac == "bc:24:11:00:00:01" and port.node == "n1" and port.device is None
    ports, _rev = read_ports(svc.store)
    assert list(ports) == ["v1/100/bc:24:11:00:00:01"]
    assert addresses(svc) == ["10.0.1.100", "2001:db8:1::2"]
    # one document per port, so that no write grows with the number of ports
    doc = svc.store.read("ports/v1/100/bc-24-11-00-00-01.json")
    assert doc is not None and json.loads(doc.data)["ips"] == ["10.0.1.100", "2001:db8:1::2"]


def test_ports_of_an_older_ports_json_are_moved_to_their_own_documents(svc):
    add_port(ctx(svc), PortSpec(vnet="v2", guest="100", mac="bc:24:11:00:00:01"))
    old = {
        "vnet": "v2", "zone": "noipam", "guest": "101", "mac": "bc:24:11:00:00:02", "node": "n1",
        "ips": [], "device": None, "device_kind": None, "netns": None, "ifname": None,
        "hostname": None, "device_created": True,
    }  # fmt: skip
    legacy = {"ports": {"v2/101/bc:24:11:00:00:02": old}}
    svc.store.commit({LEGACY_DOC: json.dumps(legacy).encode()})
    assert [p.guest for p in list_ports(ctx(svc))] == ["100", "101"]  # read from both
    add_port(ctx(svc), PortSpec(vnet="v2", guest="102", mac="bc:24:11:00:00:03"))
    assert svc.store.read(LEGACY_DOC) is None
    assert list(svc.store.names("ports")) == [
        "ports/v2/100/bc-24-11-00-00-01.json",
        "ports/v2/101/bc-24-11-00-00-02.json",
        "ports/v2/102/bc-24-11-00-00-03.json",
    ]
    del_port(ctx(svc), "v2", "101", "bc:24:11:00:00:02")
    assert [p.guest for p in list_ports(ctx(svc))] == ["100", "102"]


def test_requested_address_is_reserved_and_the_other_family_allocated(svc):
    wanted = (ipaddress.ip_address("10.0.1.50"),)
    port = add_port(ctx(svc), PortSpec(vnet="v1", guest="100", mac="bc:24:11:00:00:01", ips=wanted))
    assert port.ips == ("10.0.1.50", "2001:db8:1::2")
    with pytest.raises(IpamError, match=r"ipam failed: .*10.0.1.50 is already registered"):
        add_port(ctx(svc), PortSpec(vnet="v1", guest="101", mac="bc:24:11:00:00:02", ips=wanted))
    assert addresses(svc) == ["10.0.1.50", "2001:db8:1::2"]


MAC1 = "bc:24:11:00:00:01"


@pytest.mark.parametrize(
    ("spec", "key", "message"),
    [
        (PortSpec(vnet="v1", guest="abc", mac="bc:24:11:00:00:01"), "guest", "not a number"),
        (PortSpec(vnet="v1", guest="100", mac="01:00:5e:00:00:01"), "mac", "multicast"),
        (PortSpec(vnet="v1", guest="100", mac="bc:24:11:00:00:01", hostname="a b"), "hostname", "DNS name"),
        (
            PortSpec(
                vnet="v1", guest="100", mac="bc:24:11:00:00:01", ips=(ipaddress.ip_address("10.9.9.9"),)
            ),
            "ip",
            "in no subnet",
        ),
        (PortSpec(vnet="v1", guest="100", mac="bc:24:11:00:00:01", netns="a", tap="b"), "netns", "not both"),
        (
            PortSpec(vnet="v1", guest="100", mac=MAC1, ips=(ipaddress.ip_address("2001:db8:1::9%x,y"),)),
            "ip",
            "zone ID",
        ),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(svc, spec, key, message):
    with pytest.raises(ConfigError, match=message) as err:
        add_port(ctx(svc), spec)
    assert err.value.key == key
    assert list(svc.store.names("ports")) == [] and addresses(svc) == []


def test_unknown_vnet_and_duplicate_port(svc):
    with pytest.raises(NotFoundError, match='vnet "nope" is not in the running config'):
        add_port(ctx(svc), PortSpec(vnet="nope", guest="100", mac="bc:24:11:00:00:01"))
    add_port(ctx(svc), PortSpec(vnet="v1", guest="100", mac="bc:24:11:00:00:01"))
    with pytest.raises(ConfigError, match="already exists"):
        add_port(ctx(svc), PortSpec(vnet="v1", guest="100", mac="BC:24:11:00:00:01"))


def test_exhausted_range_fails_the_ipam_step_and_leaves_no_other_family(svc):
    for i in range(2):
        add_port(ctx(svc), PortSpec(vnet="v1", guest=f"10{i}", mac=f"bc:24:11:00:00:0{i}"))
    before = addresses(svc)
    with pytest.raises(IpamExhaustedError, match=r'port "v1/102/bc:24:11:00:00:09": ipam failed: .*IPv4'):
        add_port(ctx(svc), PortSpec(vnet="v1", guest="102", mac="bc:24:11:00:00:09"))
    assert addresses(svc) == before  # the IPv6 address of the failed port is not kept


def test_zone_without_ipam_keeps_requested_addresses_only(svc):
    wanted = (ipaddress.ip_address("10.0.2.7"),)
    port = add_port(ctx(svc), PortSpec(vnet="v2", guest="100", mac="bc:24:11:00:00:01", ips=wanted))
    assert port.ips == ("10.0.2.7",)


def test_del_releases_and_list_filters(svc):
    add_port(ctx(svc), PortSpec(vnet="v1", guest="100", mac="bc:24:11:00:00:01"))
    add_port(ctx(svc), PortSpec(vnet="v1", guest="101", mac="bc:24:11:00:00:02"))
    assert [p.guest for p in list_ports(ctx(svc), guest="101")] == ["101"]
    assert [p.guest for p in list_ports(ctx(svc), vnet="v2")] == []
    del_port(ctx(svc), "v1", "100", "BC:24:11:00:00:01")
    assert [p.guest for p in list_ports(ctx(svc))] == ["101"]
    assert addresses(svc) == ["10.0.1.101", "2001:db8:1::3"]
    with pytest.raises(NotFoundError, match="does not exist"):
        del_port(ctx(svc), "v1", "100", "bc:24:11:00:00:01")
