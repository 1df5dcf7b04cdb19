"""The NetBox IPAM plugin against a double that answers as NetBox v4.6.8 does (tests/fakes/netbox.py)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fakes package beside the tests

from fakes.httpserver import Fault, make_certificate
from fakes.ipam_inputs import VM, dual_stack_guest, ip, subnet, with_gateway
from fakes.netbox import TOKEN, FakeNetbox
from sdnkit.config.model import Ipam
from sdnkit.errors import ExternalServiceError, IpamError, IpamExhaustedError, NotFoundError
from sdnkit.ipam.base import IpEntry, PluginEnv, build_plugin
from sdnkit.ipam.netbox import NetboxIpam
from sdnkit.service import SdnService
from sdnkit.service import ipam as svc_ipam
from sdnkit.store.local import LocalStore

pytestmark = pytest.mark.services


@pytest.fixture
def netbox() -> Iterator[FakeNetbox]:
    with FakeNetbox() as server:
        yield server  # type: ignore[misc]


def plugin(
    server: FakeNetbox, *, token: str = TOKEN, timeout: float = 5.0, cafile: str | None = None, **kw: str
) -> NetboxIpam:
    cfg = Ipam(id="nb", type="netbox", url=server.url, token=token, **kw)
    nb = build_plugin(cfg, PluginEnv(timeout=timeout, cafile=cafile))
    assert isinstance(nb, NetboxIpam)
    return nb


def queries(server: FakeNetbox) -> list[str]:
    return [f"{r.method} {r.path}" for r in server.requests]


def test_subnet_registration_uses_exact_filters(netbox: FakeNetbox) -> None:
    nb = plugin(netbox)
    nb.verify()
    sub = subnet("10.0.0.0/24", "10.0.0.1", (("10.0.0.100", "10.0.0.200"),))
    nb.add_subnet(sub)
    nb.add_subnet(sub)  # registering again changes nothing
    assert [p["prefix"] for p in netbox.prefixes.values()] == ["10.0.0.0/24"]
    (rng,) = netbox.ranges.values()
    assert (rng["start_address"], rng["end_address"], rng["size"]) == ("10.0.0.100/24", "10.0.0.200/24", 101)
    sent = queries(netbox)
    assert "GET /api/ipam/prefixes/?prefix=10.0.0.0%2F24" in sent
    assert not any("q=" in q for q in sent)
    assert all(r.headers["authorization"] == f"Token {TOKEN}" for r in netbox.requests)


def test_next_free_fills_the_gap_and_records_mac_and_hostname(netbox: FakeNetbox) -> None:
    nb = plugin(netbox)
    sub = with_gateway(nb)
    nb.add_ip(sub, ip("10.0.0.3"), IpEntry(mac="02:00:00:00:00:03"))
    assert nb.next_free_ip(sub, VM) == ip("10.0.0.2")
    stored = netbox.hosts()["10.0.0.2"]
    assert (stored["address"], stored["description"], stored["dns_name"]) == (
        "10.0.0.2/24",
        f"mac:{VM.mac}",
        "myhost",
    )
    assert netbox.hosts()["10.0.0.1"]["description"] == "gateway"


def test_dhcp_range_allocation_and_full_range(netbox: FakeNetbox) -> None:
    nb = plugin(netbox)
    sub = subnet("10.0.1.0/24", None, (("10.0.1.10", "10.0.1.12"),))
    nb.add_subnet(sub)
    pool = sub.dhcp_ranges[0]
    got = [nb.next_free_ip(sub, IpEntry(mac=f"02:00:00:00:01:{i:02x}"), pool) for i in range(3)]
    assert got == [ip("10.0.1.10"), ip("10.0.1.11"), ip("10.0.1.12")]
    assert any("/ipam/ip-ranges/1/available-ips/" in q for q in queries(netbox))
    with pytest.raises(IpamExhaustedError, match=r"no free IP left in ip-range 10\.0\.1\.10-10\.0\.1\.12"):
        nb.next_free_ip(sub, VM, pool)
    assert len(netbox.addresses) == 3


def test_full_prefix_is_exhausted_and_ipv6_starts_at_1(netbox: FakeNetbox) -> None:
    nb = plugin(netbox)
    small = subnet("10.0.2.0/30")
    nb.add_subnet(small)
    assert [nb.next_free_ip(small, VM) for _ in range(2)] == [ip("10.0.2.1"), ip("10.0.2.2")]
    with pytest.raises(IpamExhaustedError, match="NetBox"):
        nb.next_free_ip(small, VM)
    v6 = subnet("2001:db8::/64")
    nb.add_subnet(v6)
    assert nb.next_free_ip(v6, VM) == ip("2001:db8::1")


def test_add_ip_refuses_a_taken_address_but_accepts_a_gateway_again(netbox: FakeNetbox) -> None:
    nb = plugin(netbox)
    sub = with_gateway(nb)
    nb.add_ip(sub, ip("10.0.0.1"), IpEntry(gateway=True))  # the gateway again: accepted
    with pytest.raises(IpamError, match=r"10\.0\.0\.1 is already registered in NetBox"):
        nb.add_ip(sub, ip("10.0.0.1"), VM)
    with pytest.raises(IpamError, match="is not in"):
        nb.add_ip(sub, ip("10.9.0.1"), VM)
    with pytest.raises(ExternalServiceError, match="DNS names"):
        nb.add_ip(sub, ip("10.0.0.7"), IpEntry(mac="02:00:00:00:00:07", hostname="bad name!"))
    assert sorted(netbox.hosts()) == ["10.0.0.1"]


def test_update_find_and_delete(netbox: FakeNetbox) -> None:
    nb = plugin(netbox)
    v4, v6 = dual_stack_guest(nb)
    found = nb.find_mac([v4, v6], VM.mac.upper())  # type: ignore[union-attr]
    assert sorted(str(a.ip) for a in found) == ["10.0.0.1", "2001:db8::1"]
    assert {a.entry.hostname for a in found} == {"myhost"}
    nb.update_ip(v4, ip("10.0.0.1"), IpEntry(mac=VM.mac, hostname="renamed"))
    assert netbox.hosts()["10.0.0.1"]["dns_name"] == "renamed"
    nb.del_ip(v4, ip("10.0.0.1"))
    with pytest.raises(NotFoundError):
        nb.del_ip(v4, ip("10.0.0.1"))
    with pytest.raises(NotFoundError):
        nb.update_ip(v4, ip("10.0.0.1"), VM)
    assert [str(a.ip) for a in nb.find_mac([v4, v6], VM.mac)] == ["2001:db8::1"]  # type: ignore[arg-type]


def test_lists_follow_pagination(netbox: FakeNetbox) -> None:
    nb = plugin(netbox)
    sub = subnet("10.0.0.0/24")
    nb.add_subnet(sub)
    for i in range(120):
        nb.next_free_ip(sub, IpEntry(mac=f"02:00:00:00:00:{i:02x}"))
    allocations = nb.allocations([sub])
    assert len(allocations) == 120
    assert sum("offset=100" in q for q in queries(netbox)) == 1


def test_del_subnet_refuses_while_guests_remain(netbox: FakeNetbox) -> None:
    nb = plugin(netbox)
    sub = with_gateway(nb, (("10.0.0.100", "10.0.0.200"),))
    nb.next_free_ip(sub, VM)
    with pytest.raises(IpamError, match="cannot delete, 1 address"):
        nb.del_subnet(sub)
    nb.del_ip(sub, ip("10.0.0.2"))
    nb.del_subnet(sub)
    assert (netbox.prefixes, netbox.ranges, netbox.addresses) == ({}, {}, {})


def test_authentication_errors_name_the_call(netbox: FakeNetbox) -> None:
    pattern = r"NetBox\): check the API and token: GET /api/status/ answered HTTP 403: .*Invalid v1 token"
    with pytest.raises(ExternalServiceError, match=pattern) as err:
        plugin(netbox, token="wrong").verify()
    assert err.value.status == 403
    assert "wrong" not in str(err.value)


def test_failure_half_way_through_add_subnet_leaves_nothing(netbox: FakeNetbox) -> None:
    nb = plugin(netbox)
    sub = subnet("10.0.0.0/24", None, (("10.0.0.10", "10.0.0.19"), ("10.0.0.20", "10.0.0.29")))
    netbox.inject(Fault("POST", r"/ip-ranges/$", status=500, skip=1))  # the second range fails
    with pytest.raises(ExternalServiceError, match=r"create ip-range 10\.0\.0\.20-10\.0\.0\.29.*HTTP 500"):
        nb.add_subnet(sub)
    assert (netbox.prefixes, netbox.ranges) == ({}, {})
    assert len([r for r in netbox.requests if r.method == "DELETE"]) == 2


def test_server_error_leaves_no_orphan_address(netbox: FakeNetbox) -> None:
    nb = plugin(netbox)
    sub = subnet("10.0.0.0/24")
    nb.add_subnet(sub)
    netbox.inject(Fault("POST", r"/available-ips/$", status=500, after=True))
    with pytest.raises(ExternalServiceError, match=r"allocate an address.*HTTP 500") as err:
        nb.next_free_ip(sub, VM)
    assert netbox.hosts() == {}
    assert any("removed address 10.0.0.1/24" in note for note in err.value.__notes__)


def test_lost_answer_after_timeout_leaves_no_orphan_address(netbox: FakeNetbox) -> None:
    nb = plugin(netbox)  # set-up calls: the usual timeout
    sub = subnet("10.0.0.0/24")
    nb.add_subnet(sub)
    nb.next_free_ip(sub, IpEntry(mac=VM.mac))  # an earlier address of the same MAC stays
    netbox.inject(Fault("POST", r"/available-ips/$", status=None, delay=1.0, after=True))
    with pytest.raises(ExternalServiceError, match=r"no answer within 0.4 s"):
        plugin(netbox, timeout=0.4).next_free_ip(sub, VM)  # only the call under test is short
    assert sorted(netbox.hosts()) == ["10.0.0.1"]


def test_slow_server_times_out(netbox: FakeNetbox) -> None:
    netbox.inject(Fault("GET", r"/status/", status=None, delay=1.0))
    with pytest.raises(ExternalServiceError, match=r"no answer within 0\.3 s") as err:
        plugin(netbox, timeout=0.3).verify()
    assert err.value.status is None


def test_parallel_allocations_get_distinct_addresses(netbox: FakeNetbox) -> None:
    nb = plugin(netbox)
    sub = subnet("10.0.0.0/24")
    nb.add_subnet(sub)
    got: list[object] = []
    threads = [
        threading.Thread(
            target=lambda i=i: got.append(nb.next_free_ip(sub, IpEntry(mac=f"02:00:00:00:00:{i:02x}")))
        )
        for i in range(10)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 10


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> object:
    return make_certificate(tmp_path_factory.mktemp("tls"))


def test_tls_is_verified(tls_files: object) -> None:
    with FakeNetbox(tls=tls_files) as server:  # type: ignore[arg-type]
        plugin(server, cafile=str(tls_files.cert)).verify()  # type: ignore[attr-defined]
        with pytest.raises(ExternalServiceError, match=r"TLS certificate of 127\.0\.0\.1 not trusted"):
            plugin(server).verify()


def test_fingerprint_pins_the_certificate_and_nothing_is_sent_on_mismatch(tls_files: object) -> None:
    with FakeNetbox(tls=tls_files) as server:  # type: ignore[arg-type]
        plugin(server, fingerprint=tls_files.fingerprint.lower()).verify()  # type: ignore[attr-defined]
        assert len(server.requests) == 1
        wrong = ":".join(["AB"] * 32)
        with pytest.raises(ExternalServiceError, match=f"does not match the configured {wrong}"):
            plugin(server, fingerprint=wrong).verify()
        assert len(server.requests) == 1  # the token never left


# -- through the service layer -------------------------------------------------------------------


def netbox_store(root: Path, server: FakeNetbox) -> SdnService:
    sdn = SdnService(LocalStore(root))
    sdn.create("ipams", {"ipam": "nb", "type": "netbox", "url": server.url, "token": TOKEN})
    sdn.create("zones", {"zone": "z1", "type": "simple", "ipam": "nb", "dhcp": "dnsmasq"})
    sdn.create("vnets", {"vnet": "v1", "zone": "z1"})
    return sdn


def test_subnet_hooks_register_in_netbox(netbox: FakeNetbox, tmp_path: Path) -> None:
    sdn = netbox_store(tmp_path, netbox)
    range_ = "start-address=10.0.0.100,end-address=10.0.0.200"
    sdn.create(
        "subnets",
        {
            "type": "subnet",
            "vnet": "v1",
            "subnet": "10.0.0.0/24",
            "gateway": "10.0.0.1",
            "dhcp-range": range_,
        },
    )
    assert [p["prefix"] for p in netbox.prefixes.values()] == ["10.0.0.0/24"]
    assert netbox.hosts()["10.0.0.1"]["dns_name"] == "v1-gw"
    assert len(netbox.ranges) == 1
    sdn.delete("subnets", {"vnet": "v1", "subnet": "z1-10.0.0.0-24"})
    assert (netbox.prefixes, netbox.ranges, netbox.addresses) == ({}, {}, {})


def test_failed_gateway_registration_refuses_the_subnet_and_leaves_nothing(
    netbox: FakeNetbox, tmp_path: Path
) -> None:
    sdn = netbox_store(tmp_path, netbox)
    netbox.inject(Fault("POST", r"/ipam/ip-addresses/$", status=500))
    with pytest.raises(ExternalServiceError, match=r"register address 10\.0\.0\.1"):
        sdn.create(
            "subnets", {"type": "subnet", "vnet": "v1", "subnet": "10.0.0.0/24", "gateway": "10.0.0.1"}
        )
    assert sdn.list("subnets", {"vnet": "v1"}) == []
    assert (netbox.prefixes, netbox.addresses) == ({}, {})


def test_dual_stack_allocation_failing_on_ipv6_releases_ipv4(netbox: FakeNetbox, tmp_path: Path) -> None:
    """Upstream keeps the IPv4 address when the plugin dies on IPv6 (spec §10.11)."""
    sdn = netbox_store(tmp_path, netbox)
    sdn.create("subnets", {"type": "subnet", "vnet": "v1", "subnet": "10.0.0.0/24", "gateway": "10.0.0.1"})
    sdn.create(
        "subnets", {"type": "subnet", "vnet": "v1", "subnet": "2001:db8::/64", "gateway": "2001:db8::1"}
    )
    sdn.apply({})
    ctx = svc_ipam.running_context(sdn.store, timeout=5)
    v6_prefix = next(p["id"] for p in netbox.prefixes.values() if p["family"]["value"] == 6)
    netbox.inject(Fault("POST", rf"/prefixes/{v6_prefix}/available-ips/$", status=500))
    with pytest.raises(ExternalServiceError, match="HTTP 500"):
        svc_ipam.allocate(ctx, "v1", mac=VM.mac, hostname="vm1", vmid=100)  # type: ignore[arg-type]
    assert sorted(netbox.hosts()) == ["10.0.0.1", "2001:db8::1"]  # only the gateways
    got = svc_ipam.allocate(ctx, "v1", mac=VM.mac, hostname="vm1", vmid=100)  # type: ignore[arg-type]
    assert [str(a.ip) for a in got] == ["10.0.0.2", "2001:db8::2"]
    rows = svc_ipam.status(ctx, "nb")
    assert [(r["ip"], r.get("mac"), r.get("hostname")) for r in rows if not r.get("gateway")] == [
        ("10.0.0.2", VM.mac, "vm1"),
        ("2001:db8::2", VM.mac, "vm1"),
    ]
    assert [str(a.ip) for a in svc_ipam.release(ctx, "v1", VM.mac)] == ["10.0.0.2", "2001:db8::2"]  # type: ignore[arg-type]
    assert sorted(netbox.hosts()) == ["10.0.0.1", "2001:db8::1"]
