"""The phpIPAM plugin against a double that answers as phpIPAM v1.8.2 does (tests/fakes/phpipam.py)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fakes package beside the tests

from fakes.httpserver import Fault, make_certificate
from fakes.ipam_inputs import VM, dual_stack_guest, ip, subnet, with_gateway
from fakes.phpipam import CODE, FakePhpipam
from sdnkit.cli.main import main as cli_main
from sdnkit.config.model import Ipam
from sdnkit.errors import ConfigError, ExternalServiceError, IpamError, IpamExhaustedError, NotFoundError
from sdnkit.ipam.base import IpEntry, PluginEnv, build_plugin
from sdnkit.ipam.phpipam import PhpipamIpam
from sdnkit.service import SdnService
from sdnkit.service import ipam as svc_ipam
from sdnkit.service.ports import PortContext, PortSpec, add_port, del_port, list_ports
from sdnkit.store.local import LocalStore

pytestmark = pytest.mark.services


@pytest.fixture
def phpipam() -> Iterator[FakePhpipam]:
    with FakePhpipam() as server:
        yield server  # type: ignore[misc]


def plugin(
    server: FakePhpipam, *, token: str = CODE, timeout: float = 5.0, section: int = 1, **kw: object
) -> PhpipamIpam:
    cfg = Ipam(id="php", type="phpipam", url=server.url, token=token, section=section, **kw)  # type: ignore[arg-type]
    plug = build_plugin(cfg, PluginEnv(timeout=timeout))
    assert isinstance(plug, PhpipamIpam)
    return plug


def test_subnet_and_first_free_allocation(phpipam: FakePhpipam) -> None:
    php = plugin(phpipam)
    php.verify()
    sub = subnet("10.0.0.0/24", "10.0.0.1")
    php.add_subnet(sub)
    php.add_subnet(sub)  # found by CIDR: not created twice
    assert [(s["subnet"], s["mask"], s["sectionId"]) for s in phpipam.subnets.values()] == [
        ("10.0.0.0", "24", 1)
    ]
    php.add_ip(sub, ip("10.0.0.1"), IpEntry(gateway=True))
    php.add_ip(sub, ip("10.0.0.3"), IpEntry(mac="02:00:00:00:00:03", vmid="101"))
    assert php.next_free_ip(sub, VM) == ip("10.0.0.2")
    stored = phpipam.ips()["10.0.0.2"]
    assert (stored["mac"], stored["hostname"], stored["description"]) == (VM.mac, "myhost", "100")
    assert phpipam.ips()["10.0.0.1"]["is_gateway"] == 1
    assert all(r.headers["token"] == CODE for r in phpipam.requests)
    assert any(r.method == "POST" and r.path.endswith("/addresses/first_free/7/") for r in phpipam.requests)


def test_full_subnet_is_exhausted(phpipam: FakePhpipam) -> None:
    php = plugin(phpipam)
    sub = subnet("10.0.2.0/30")
    php.add_subnet(sub)
    assert [php.next_free_ip(sub, VM) for _ in range(2)] == [ip("10.0.2.1"), ip("10.0.2.2")]
    with pytest.raises(IpamExhaustedError, match="No free addresses found"):
        php.next_free_ip(sub, VM)


def test_dhcp_range_falls_back_to_the_subnet(phpipam: FakePhpipam) -> None:
    php = plugin(phpipam)
    sub = subnet("10.0.0.0/24", None, (("10.0.0.100", "10.0.0.200"),))
    php.add_subnet(sub)
    assert php.next_free_ip(sub, VM, sub.dhcp_ranges[0]) == ip("10.0.0.1")  # phpIPAM has no ranges


def test_add_ip_refuses_a_taken_address_but_accepts_a_gateway_again(phpipam: FakePhpipam) -> None:
    php = plugin(phpipam)
    sub = with_gateway(php)
    php.add_ip(sub, ip("10.0.0.1"), IpEntry(gateway=True))  # the gateway again: accepted
    with pytest.raises(IpamError, match=r"10\.0\.0\.1 is already registered in phpIPAM"):
        php.add_ip(sub, ip("10.0.0.1"), VM)
    assert len(phpipam.addresses) == 1


def test_find_mac_update_and_delete(phpipam: FakePhpipam) -> None:
    """Upstream dies in get_ips_from_mac (spec §10.13); the answer is parsed here."""
    php = plugin(phpipam)
    v4, v6 = dual_stack_guest(php)
    found = php.find_mac([v4, v6], "DA:65:8F:18:9B:6F")
    assert sorted(str(a.ip) for a in found) == ["10.0.0.1", "2001:db8::1"]
    assert {(a.entry.hostname, a.entry.vmid) for a in found} == {("myhost", "100")}
    assert php.find_mac([v4], "02:00:00:00:00:42") == []
    php.update_ip(v4, ip("10.0.0.1"), IpEntry(mac=VM.mac, hostname="renamed", vmid="100"))
    assert phpipam.ips()["10.0.0.1"]["hostname"] == "renamed"
    php.del_ip(v4, ip("10.0.0.1"))
    with pytest.raises(NotFoundError):
        php.del_ip(v4, ip("10.0.0.1"))
    assert sorted(str(a.ip) for a in php.allocations([v4, v6])) == ["10.0.0.2", "2001:db8::1"]


def test_del_subnet_really_deletes_but_not_while_guests_remain(phpipam: FakePhpipam) -> None:
    """Upstream's del_subnet returns before the DELETE (spec §5.4)."""
    php = plugin(phpipam)
    sub = with_gateway(php)
    php.next_free_ip(sub, VM)
    with pytest.raises(IpamError, match="cannot delete, 1 address"):
        php.del_subnet(sub)
    php.del_ip(sub, ip("10.0.0.2"))
    php.del_subnet(sub)
    assert (phpipam.subnets, phpipam.addresses) == ({}, {})
    php.del_subnet(sub)  # already gone: nothing to do


def test_lost_answer_leaves_no_orphan(phpipam: FakePhpipam) -> None:
    php = plugin(phpipam)  # set-up calls: the usual timeout
    sub = subnet("10.0.0.0/24")
    php.add_subnet(sub)
    php.next_free_ip(sub, VM)
    phpipam.inject(Fault("POST", r"/first_free/", status=None, delay=1.0, after=True))
    with pytest.raises(ExternalServiceError, match=r"allocate an address: POST .* no answer within 0\.4 s"):
        plugin(phpipam, timeout=0.4).next_free_ip(sub, VM)  # only the call under test is short
    phpipam.inject(Fault("POST", r"/first_free/", status=500, after=True))
    with pytest.raises(ExternalServiceError, match="HTTP 500"):
        php.next_free_ip(sub, VM)
    assert sorted(phpipam.ips()) == ["10.0.0.1"]


def test_verify_names_the_option_and_what_phpipam_said(phpipam: FakePhpipam) -> None:
    plugin(phpipam).verify()  # the right token and section pass
    with pytest.raises(
        ConfigError, match=r'^ipam "php": phpIPAM refused the token: HTTP 401: Unauthorized$'
    ) as err:
        plugin(phpipam, token="wrong").verify()
    assert err.value.key == "token"
    with pytest.raises(
        ConfigError, match=r"no such section \(section=5\): HTTP 404: Section does not exist"
    ) as err:
        plugin(phpipam, section=5).verify()
    assert err.value.key == "section"


def test_errors_name_the_call(phpipam: FakePhpipam) -> None:
    with pytest.raises(IpamError, match="is not registered in phpIPAM"):
        plugin(phpipam).next_free_ip(subnet("10.7.0.0/24"), VM)
    with pytest.raises(ConfigError, match='option "section" is required'):
        build_plugin(Ipam(id="php", type="phpipam", url=phpipam.url, token=CODE), PluginEnv())


def test_app_code_over_plain_http_is_refused_with_the_server_reason() -> None:
    with (
        FakePhpipam(require_tls=True) as server,
        pytest.raises(ConfigError, match=r"\(url=http://.*HTTP 503: SSL connection is required for API$"),
    ):
        plugin(server).verify()  # type: ignore[arg-type]


def test_https_with_pinned_fingerprint(tmp_path: Path) -> None:
    tls = make_certificate(tmp_path)
    with FakePhpipam(tls=tls, require_tls=True) as server:
        php = plugin(server, fingerprint=tls.fingerprint)  # type: ignore[arg-type]
        sub = subnet("10.0.0.0/24")
        php.add_subnet(sub)  # the lookups honour the fingerprint too (upstream's do not, §10.13)
        assert php.next_free_ip(sub, VM) == ip("10.0.0.1")
        with pytest.raises(ConfigError, match="not trusted") as err:
            plugin(server).verify()  # type: ignore[arg-type]
        assert err.value.key == "cafile"
        plugin(server, cafile=str(tls.cert)).verify()  # type: ignore[arg-type]


# -- what phpIPAM v1.8.2 really answers (research notes, second check) ----------------------------


def bare_v6_subnet(php: PhpipamIpam) -> str:
    """fd00:50::/64 created in phpIPAM directly (no reservation); its id."""
    body = {"subnet": "fd00:50::", "mask": 64, "sectionId": 1}
    return str(php.http.request("POST", "/subnets/", body=body, what="create").data["id"])


def test_double_answers_as_phpipam_does(phpipam: FakePhpipam) -> None:
    """The double's answers to the quirks (research notes, second check), verbatim."""
    php = plugin(phpipam)
    v4 = subnet("10.0.0.0/24")
    php.add_subnet(v4)
    sid = bare_v6_subnet(php)
    php.next_free_ip(v4, VM)
    took = php.http.request("POST", f"/addresses/first_free/{sid}/", body={"mac": VM.mac}, what="v6").data
    assert (took["data"], "location" in took) == ("fd00:50::", False)  # the network address
    rows = php.http.request("GET", f"/addresses/search_mac/{VM.mac}/", what="rows").data["data"]
    assert [r["ip"] for r in rows] == ["10.0.0.1", "336294689271836716985810193734443204608"]
    assert took["id"] == str(rows[1]["id"])  # a string in the POST answer, an integer in objects
    assert [(type(r["id"]), r["subnetId"], r["is_gateway"]) for r in rows] == [
        (int, 7, 0),
        (int, int(sid), 0),
    ]
    assert (rows[0]["description"], rows[1]["description"]) == ("100", "API created")
    assert php.http.request("GET", "/sections/1/", what="section").data["data"]["id"] == 1


def test_find_mac_reads_decimal_rows_and_the_cleanup_too(phpipam: FakePhpipam) -> None:
    """A MAC with an IPv4 and an IPv6 address: the second search_mac row is decimal."""
    php = plugin(phpipam, timeout=0.4)
    v4, v6 = subnet("10.0.0.0/24"), subnet("2001:db8::/64")
    for sub in (v4, v6):
        php.add_subnet(sub)
    php.next_free_ip(v4, VM)
    php.next_free_ip(v6, VM)
    assert sorted(str(a.ip) for a in php.find_mac([v4, v6], VM.mac)) == ["10.0.0.1", "2001:db8::1"]  # type: ignore[arg-type]
    # an allocation whose answer is lost: the cleanup must read the decimal rows as well
    phpipam.inject(Fault("POST", r"/first_free/", status=500, after=True))
    with pytest.raises(ExternalServiceError, match="HTTP 500") as err:
        php.next_free_ip(v6, VM)
    assert any("removed address 2001:db8::2 created by the failed call" in n for n in err.value.__notes__)
    assert sorted(phpipam.ips()) == ["10.0.0.1", "2001:db8::", "2001:db8::1"]  # the anycast reservation


def php_store(root: Path, server: FakePhpipam) -> SdnService:
    sdn = SdnService(LocalStore(root))
    sdn.create("ipams", {"ipam": "php", "type": "phpipam", "url": server.url, "token": CODE, "section": 1})
    sdn.create("zones", {"zone": "z1", "type": "simple", "ipam": "php", "dhcp": "dnsmasq"})
    sdn.create("vnets", {"vnet": "v1", "zone": "z1"})
    return sdn


def dual_stack_vnet(root: Path, server: FakePhpipam) -> SdnService:
    sdn = php_store(root, server)
    sdn.create("subnets", {"type": "subnet", "vnet": "v1", "subnet": "10.0.0.0/24", "gateway": "10.0.0.1"})
    sdn.create("subnets", {"type": "subnet", "vnet": "v1", "subnet": "fd00:50::/64", "gateway": "fd00:50::1"})
    sdn.apply({})
    return sdn


def test_dual_stack_mac_through_the_cli_the_ips_api_ensure_and_release(
    phpipam: FakePhpipam, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sdn = dual_stack_vnet(tmp_path, phpipam)
    ctx = svc_ipam.running_context(sdn.store, timeout=5)
    got = svc_ipam.allocate(ctx, "v1", mac=VM.mac, hostname="vm1", vmid=100)  # type: ignore[arg-type]
    assert [str(a.ip) for a in got] == ["10.0.0.2", "fd00:50::2"]
    list_mac = ["--config-dir", str(tmp_path), "-o", "json", "ip", "list", "--vnet", "v1", "--mac", VM.mac]
    assert cli_main(list_mac) == 0  # type: ignore[list-item]
    assert [r["ip"] for r in json.loads(capsys.readouterr().out)] == ["10.0.0.2", "fd00:50::2"]
    again = svc_ipam.ensure(ctx, "v1", mac=VM.mac, hostname="vm1", vmid=100)  # type: ignore[arg-type]
    assert [str(a.ip) for a in again] == ["10.0.0.2", "fd00:50::2"]  # nothing new
    api = svc_ipam.IpamService(sdn.store, timeout=5)
    api.update_ip({"vnet": "v1", "zone": "z1", "ip": "fd00:50::9", "mac": VM.mac})  # PUT .../ips
    mine = sorted(a["ip"] for a in phpipam.addresses.values() if a["mac"] == VM.mac)
    assert mine == ["10.0.0.2", "fd00:50::9"]
    released = svc_ipam.release(ctx, "v1", VM.mac)  # type: ignore[arg-type]
    assert [str(a.ip) for a in released] == ["10.0.0.2", "fd00:50::9"]
    assert sorted(phpipam.ips()) == ["10.0.0.1", "fd00:50::", "fd00:50::1"]  # gateways and the reservation


def test_an_unreadable_answer_is_an_error_not_a_traceback(
    phpipam: FakePhpipam, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sdn = dual_stack_vnet(tmp_path, phpipam)
    sid = next(s["id"] for s in phpipam.subnets.values() if s["subnet"] == "10.0.0.0")
    phpipam.addresses[99] = {"id": 99, "subnetId": sid, "ip": "10.0.0.300", "mac": VM.mac, "is_gateway": 0}
    args = ["--config-dir", str(tmp_path), "ip", "list", "--vnet", "v1", "--mac", VM.mac]
    assert cli_main(args) == 1  # type: ignore[list-item]
    err = capsys.readouterr().err
    assert err.startswith('sdn: error: ipam "php" (phpIPAM): find_mac: unexpected answer from the server')
    assert "10.0.0.300" in err and "Traceback" not in err
    del phpipam.addresses[99]
    assert cli_main(args) == 0  # type: ignore[list-item]
    assert sdn.list("subnets", {"vnet": "v1"})


def test_ipv6_subnet_router_anycast_address_is_never_handed_out(phpipam: FakePhpipam) -> None:
    """phpIPAM's first_free gives an IPv6 subnet's network address first; add_subnet reserves it."""
    php = plugin(phpipam)
    v6 = subnet("fd00:50::/64")
    php.add_subnet(v6)
    reserved = phpipam.ips()["fd00:50::"]
    assert (reserved["tag"], reserved["mac"], reserved["hostname"]) == (3, None, None)
    assert php.next_free_ip(v6, VM) == ip("fd00:50::1")
    assert [str(a.ip) for a in php.allocations([v6])] == ["fd00:50::1"]  # the reservation is no guest
    php.del_ip(v6, ip("fd00:50::1"))
    php.del_subnet(v6)  # the reservation does not block it
    assert (phpipam.subnets, phpipam.addresses) == ({}, {})


def test_ipv6_subnet_registered_before_skips_the_network_address(phpipam: FakePhpipam) -> None:
    php = plugin(phpipam)
    bare_v6_subnet(php)  # registered by someone else, or by sdnkit before it reserved the address
    v6 = subnet("fd00:50::/64")
    assert php.next_free_ip(v6, VM) == ip("fd00:50::1")
    assert php.next_free_ip(v6, IpEntry(mac="02:00:00:00:00:02")) == ip("fd00:50::2")
    anycast = phpipam.ips()["fd00:50::"]
    assert (anycast["tag"], anycast["mac"]) == (3, None)  # kept, reserved
    assert [str(a.ip) for a in php.find_mac([v6], VM.mac)] == ["fd00:50::1"]  # type: ignore[arg-type]


def test_allocation_the_server_finishes_after_the_timeout_is_reused(
    phpipam: FakePhpipam, tmp_path: Path
) -> None:
    """A slow phpIPAM allocates after the client gave up (the orphan cleanup cannot see it yet):
    the retry takes that address instead of a second one, and the subnet can be deleted."""
    sdn = php_store(tmp_path, phpipam)
    sdn.create("subnets", {"type": "subnet", "vnet": "v1", "subnet": "10.0.0.0/24", "gateway": "10.0.0.1"})
    sdn.apply({})
    ctx = PortContext(store=sdn.store, node="ipnode", firewall=False, timeout=0.5)
    slow = Fault("POST", r"/first_free/", status=None, delay=2.0)  # waits, then allocates
    phpipam.inject(slow)
    with pytest.raises(
        ExternalServiceError, match=r"ipam failed: .*allocate an address.*no answer within 0\.5 s"
    ):
        add_port(ctx, PortSpec(vnet="v1", guest="100", mac=VM.mac))  # type: ignore[arg-type]
    assert slow.done.wait(30)
    assert ([a["ip"] for a in phpipam.addresses.values() if a["mac"] == VM.mac], list_ports(ctx)) == (
        ["10.0.0.2"],
        [],
    )
    port = add_port(ctx, PortSpec(vnet="v1", guest="100", mac=VM.mac, hostname="vm1"))  # type: ignore[arg-type]
    assert port.ips == ("10.0.0.2",)
    assert (sorted(phpipam.ips()), phpipam.ips()["10.0.0.2"]["hostname"]) == (["10.0.0.1", "10.0.0.2"], "vm1")
    other = add_port(ctx, PortSpec(vnet="v1", guest="101", mac=VM.mac))  # type: ignore[arg-type]
    assert other.ips == ("10.0.0.3",)  # an address a port holds is never taken again
    del_port(ctx, "v1", "101", VM.mac)  # type: ignore[arg-type]
    del_port(ctx, "v1", "100", VM.mac)  # type: ignore[arg-type]
    sdn.delete("subnets", {"vnet": "v1", "subnet": "z1-10.0.0.0-24"})
    assert (phpipam.subnets, phpipam.addresses) == ({}, {})


def test_ipam_create_checks_token_and_section(phpipam: FakePhpipam, tmp_path: Path) -> None:
    sdn = SdnService(LocalStore(tmp_path))
    params = {"ipam": "php", "type": "phpipam", "url": phpipam.url, "token": "wrong", "section": 1}
    with pytest.raises(ConfigError, match=r'^ipam "php": phpIPAM refused the token: HTTP 401: Unauthorized$'):
        sdn.create("ipams", params)
    with pytest.raises(
        ConfigError, match=r"no such section \(section=7\): HTTP 404: Section does not exist"
    ) as err:
        sdn.create("ipams", {**params, "token": CODE, "section": 7})
    assert set(err.value.errors) == {"section"}
    assert [i["ipam"] for i in sdn.list("ipams")] == ["pve"]
    sdn.create("ipams", {**params, "token": CODE})
    assert [i["ipam"] for i in sdn.list("ipams")] == ["php", "pve"]


def test_subnet_create_without_pear_on_the_server_says_so() -> None:
    with FakePhpipam(pear=False) as server:
        php = plugin(server)  # type: ignore[arg-type]
        with pytest.raises(
            ExternalServiceError, match=r"create the subnet: POST .* answered HTTP 500: \(empty answer\)$"
        ):
            php.add_subnet(subnet("10.0.0.0/24"))
