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
from sdnkit.cli.main import main as cli_main
from sdnkit.config.model import Ipam
from sdnkit.errors import ConfigError, ExternalServiceError, IpamError, IpamExhaustedError, NotFoundError
from sdnkit.ipam.base import IpEntry, PluginEnv, build_plugin
from sdnkit.ipam.netbox import NetboxIpam
from sdnkit.service import SdnService
from sdnkit.service import ipam as svc_ipam
from sdnkit.service.ports import PortContext, PortSpec, add_port, del_port, list_ports
from sdnkit.store.local import LocalStore

pytestmark = pytest.mark.services


@pytest.fixture
def netbox() -> Iterator[FakeNetbox]:
    with FakeNetbox() as server:
        yield server  # type: ignore[misc]


def plugin(server: FakeNetbox, *, token: str = TOKEN, timeout: float = 5.0, **kw: str) -> NetboxIpam:
    cfg = Ipam(id="nb", type="netbox", url=server.url, token=token, **kw)
    nb = build_plugin(cfg, PluginEnv(timeout=timeout))
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


def test_verify_names_the_token_and_what_netbox_said(netbox: FakeNetbox) -> None:
    plugin(netbox).verify()  # the right token passes
    with pytest.raises(
        ConfigError, match=r'^ipam "nb": NetBox refused the token: HTTP 403: Invalid v1 token$'
    ) as err:
        plugin(netbox, token="wrong").verify()
    assert err.value.key == "token"
    v2 = "nbt_0123456789ab.abcdefghijklmnopqrstuvwxyz0123456789ABCD"
    with pytest.raises(ConfigError, match="HTTP 403: Invalid v2 token") as err:
        plugin(netbox, token=v2).verify()
    assert "wrong" not in str(err.value) and v2 not in str(err.value)
    assert netbox.requests[-1].headers["authorization"] == f"Bearer {v2}"  # a v2 token is a Bearer


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
    with pytest.raises(
        ConfigError, match=r"cannot be reached .*: GET /api/status/: no answer within 0\.3 s"
    ) as err:
        plugin(netbox, timeout=0.3).verify()
    assert err.value.key == "url"


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


def test_tls_is_verified_against_the_configured_cafile(tls_files: object) -> None:
    with FakeNetbox(tls=tls_files) as server:  # type: ignore[arg-type]
        plugin(server, cafile=str(tls_files.cert)).verify()  # type: ignore[attr-defined]
        with pytest.raises(
            ConfigError, match=r"not trusted .*TLS certificate of 127\.0\.0\.1 not trusted"
        ) as err:
            plugin(server).verify()
        assert err.value.key == "cafile"
        assert len(server.requests) == 1  # the untrusted server got nothing


def test_unreadable_cafile_and_cafile_with_fingerprint_are_refused(tls_files: object, tmp_path: Path) -> None:
    with FakeNetbox(tls=tls_files) as server:  # type: ignore[arg-type]
        missing = str(tmp_path / "missing.pem")
        with pytest.raises(ConfigError, match=r"cannot load the CA file .*missing\.pem") as err:
            plugin(server, cafile=missing)
        assert err.value.key == "cafile"
        (tmp_path / "junk.pem").write_text("not a certificate\n")
        with pytest.raises(ConfigError, match="cannot load the CA file"):
            plugin(server, cafile=str(tmp_path / "junk.pem"))
        both = {"cafile": str(tls_files.cert), "fingerprint": tls_files.fingerprint}  # type: ignore[attr-defined]
        with pytest.raises(ConfigError, match=r'give "fingerprint" .* or "cafile"'):
            plugin(server, **both)
        assert server.requests == []


def test_fingerprint_pins_the_certificate_and_nothing_is_sent_on_mismatch(tls_files: object) -> None:
    with FakeNetbox(tls=tls_files) as server:  # type: ignore[arg-type]
        plugin(server, fingerprint=tls_files.fingerprint.lower()).verify()  # type: ignore[attr-defined]
        assert len(server.requests) == 1
        wrong = ":".join(["AB"] * 32)
        with pytest.raises(ConfigError, match=f"does not match the configured {wrong}") as err:
            plugin(server, fingerprint=wrong).verify()
        assert err.value.key == "fingerprint"
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


def test_double_refuses_overlapping_ranges_as_netbox_does(netbox: FakeNetbox) -> None:
    """The contract the range move must live with (research notes, second check), verbatim."""
    nb = plugin(netbox)
    nb.add_subnet(subnet("10.60.0.0/29", None, (("10.60.0.2", "10.60.0.3"),)))
    body = {"start_address": "10.60.0.3/29", "end_address": "10.60.0.5/29"}
    resp = nb.http.request("POST", "/ipam/ip-ranges/", body=body, what="overlap", accept=(400,))
    assert (resp.status, resp.data) == (
        400,
        {"__all__": ["Defined addresses overlap with range 10.60.0.2-3/29 in VRF None"]},
    )
    body = {"start_address": "10.60.0.4/29", "end_address": "10.60.0.5/29"}  # next to it: fine
    assert nb.http.request("POST", "/ipam/ip-ranges/", body=body, what="beside").status == 201


def ranges_of(server: FakeNetbox) -> list[tuple[str, str]]:
    return sorted((r["start_address"], r["end_address"]) for r in server.ranges.values())


def test_moving_dhcp_ranges_onto_the_old_ones(netbox: FakeNetbox, tmp_path: Path) -> None:
    """NetBox refuses a range that overlaps one still there: the old ranges go first."""
    sdn = netbox_store(tmp_path, netbox)
    sid = {"vnet": "v1", "subnet": "z1-10.60.0.0-24"}
    old = [
        "start-address=10.60.0.10,end-address=10.60.0.19",
        "start-address=10.60.0.20,end-address=10.60.0.29",
    ]
    sdn.create("subnets", {"type": "subnet", "vnet": "v1", "subnet": "10.60.0.0/24", "dhcp-range": old})
    assert ranges_of(netbox) == [("10.60.0.10/24", "10.60.0.19/24"), ("10.60.0.20/24", "10.60.0.29/24")]
    new = [
        "start-address=10.60.0.15,end-address=10.60.0.24",
        "start-address=10.60.0.25,end-address=10.60.0.34",
    ]
    sdn.update("subnets", {**sid, "dhcp-range": new})
    assert ranges_of(netbox) == [("10.60.0.15/24", "10.60.0.24/24"), ("10.60.0.25/24", "10.60.0.34/24")]
    sdn.apply({})
    ctx = svc_ipam.running_context(sdn.store, timeout=5)
    assert [str(a.ip) for a in svc_ipam.allocate(ctx, "v1", mac=VM.mac)] == ["10.60.0.15"]  # type: ignore[arg-type]


def test_a_failed_range_move_puts_the_old_ranges_back(netbox: FakeNetbox, tmp_path: Path) -> None:
    sdn = netbox_store(tmp_path, netbox)
    sid = {"vnet": "v1", "subnet": "z1-10.60.0.0-24"}
    sdn.create(
        "subnets",
        {
            "type": "subnet",
            "vnet": "v1",
            "subnet": "10.60.0.0/24",
            "dhcp-range": "start-address=10.60.0.10,end-address=10.60.0.19",
        },
    )
    netbox.inject(Fault("POST", r"/ipam/ip-ranges/$", status=500))
    with pytest.raises(ExternalServiceError, match=r"create ip-range 10\.60\.0\.15-10\.60\.0\.24.*HTTP 500"):
        sdn.update("subnets", {**sid, "dhcp-range": "start-address=10.60.0.15,end-address=10.60.0.24"})
    assert ranges_of(netbox) == [("10.60.0.10/24", "10.60.0.19/24")]  # re-created
    kept = sdn.get("subnets", sid)["dhcp-range"]
    assert kept == [{"start-address": "10.60.0.10", "end-address": "10.60.0.19"}]


def test_allocation_the_server_finishes_after_the_timeout_is_reused(
    netbox: FakeNetbox, tmp_path: Path
) -> None:
    """A slow NetBox allocates after the client gave up (the orphan cleanup cannot see it yet):
    the retry takes that address instead of a second one, and the subnet can be deleted."""
    sdn = netbox_store(tmp_path, netbox)
    sdn.create("subnets", {"type": "subnet", "vnet": "v1", "subnet": "10.0.0.0/24", "gateway": "10.0.0.1"})
    sdn.apply({})
    ctx = PortContext(store=sdn.store, node="ipnode", firewall=False, timeout=0.5)
    slow = Fault("POST", r"/available-ips/$", status=None, delay=2.0)  # waits, then allocates
    netbox.inject(slow)
    with pytest.raises(
        ExternalServiceError, match=r"ipam failed: .*allocate an address.*no answer within 0\.5 s"
    ):
        add_port(ctx, PortSpec(vnet="v1", guest="100", mac=VM.mac))  # type: ignore[arg-type]
    assert slow.done.wait(30)
    mine = {a["address"] for a in netbox.hosts().values() if a["description"] == f"mac:{VM.mac}"}
    assert (mine, list_ports(ctx)) == ({"10.0.0.2/24"}, [])  # NetBox holds an orphan
    port = add_port(ctx, PortSpec(vnet="v1", guest="100", mac=VM.mac, hostname="vm1"))  # type: ignore[arg-type]
    assert port.ips == ("10.0.0.2",)
    assert (sorted(netbox.hosts()), netbox.hosts()["10.0.0.2"]["dns_name"]) == (
        ["10.0.0.1", "10.0.0.2"],
        "vm1",
    )
    other = add_port(ctx, PortSpec(vnet="v1", guest="101", mac=VM.mac))  # type: ignore[arg-type]
    assert other.ips == ("10.0.0.3",)  # an address a port holds is never taken again
    del_port(ctx, "v1", "101", VM.mac)  # type: ignore[arg-type]
    del_port(ctx, "v1", "100", VM.mac)  # type: ignore[arg-type]
    sdn.delete("subnets", {"vnet": "v1", "subnet": "z1-10.0.0.0-24"})
    assert (netbox.prefixes, netbox.addresses) == ({}, {})


def test_ipam_create_and_update_check_the_server(netbox: FakeNetbox, tmp_path: Path) -> None:
    """A wrong token or URL is refused when the IPAM is saved, not at its first subnet."""
    sdn = SdnService(LocalStore(tmp_path))
    params = {"ipam": "nb", "type": "netbox", "url": netbox.url, "token": "0" * 40}
    with pytest.raises(
        ConfigError, match=r'^ipam "nb": NetBox refused the token: HTTP 403: Invalid v1 token$'
    ) as err:
        sdn.create("ipams", params)
    assert set(err.value.errors) == {"token"}
    assert [i["ipam"] for i in sdn.list("ipams")] == ["pve"]  # nothing saved
    sdn.create("ipams", {**params, "token": TOKEN})
    wrong_path = f"{netbox.origin}/netbox/api"
    with pytest.raises(
        ConfigError, match=r"NetBox answered the check with an error \(url=.*/netbox/api\): HTTP 404"
    ):
        sdn.update("ipams", {"ipam": "nb", "url": wrong_path})
    with FakeNetbox() as gone:
        gone_url = gone.url
    with pytest.raises(ConfigError, match=r"NetBox cannot be reached at this URL .*Connection ?Refused"):
        sdn.update("ipams", {"ipam": "nb", "url": gone_url})
    assert sdn.get("ipams", {"ipam": "nb"})["url"] == netbox.url  # unchanged


def test_cli_ipam_create_reports_the_refusal(
    netbox: FakeNetbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--config-dir", str(tmp_path), "ipam", "create", "nb", "--type", "netbox", "--url", netbox.url]
    assert cli_main([*args, "--token", "nbt_key.wrongsecret"]) == 2
    assert (
        capsys.readouterr().err
        == 'sdn: error: ipam "nb": NetBox refused the token: HTTP 403: Invalid v2 token\n'
    )
    assert cli_main([*args, "--token", TOKEN]) == 0
    assert [r.headers["authorization"] for r in netbox.requests] == [
        "Bearer nbt_key.wrongsecret",
        f"Token {TOKEN}",
    ]


def test_double_address_lookup_as_netbox(netbox: FakeNetbox) -> None:
    """``?address=`` as the research notes measured: the host, or host and mask when one is given."""
    nb = plugin(netbox)
    nb.add_ip(subnet("10.0.0.0/24"), ip("10.0.0.5"), VM)

    def count(value: str) -> int:
        query = {"address": value}
        return int(nb.http.request("GET", "/ipam/ip-addresses/", query=query, what="look up").data["count"])

    assert [count(v) for v in ("10.0.0.5", "10.0.0.5/24", "10.0.0.5/32", "10.0.0.50", "bogus")] == [
        1,
        1,
        0,
        0,
        0,
    ]


def test_cafile_option_is_checked_before_any_call(netbox: FakeNetbox, tmp_path: Path) -> None:
    sdn = SdnService(LocalStore(tmp_path))
    params = {"ipam": "nb", "type": "netbox", "url": netbox.url, "token": TOKEN}
    with pytest.raises(ConfigError, match=r"cafile.*absolute path of a PEM file") as err:
        sdn.create("ipams", {**params, "cafile": "certs/ca.pem"})
    assert set(err.value.errors) == {"cafile"}
    with pytest.raises(ConfigError, match="cannot load the CA file") as err:
        sdn.create("ipams", {**params, "cafile": str(tmp_path / "none.pem")})
    assert set(err.value.errors) == {"cafile"}
    assert (netbox.requests, [i["ipam"] for i in sdn.list("ipams")]) == ([], ["pve"])
