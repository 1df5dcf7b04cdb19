"""The phpIPAM plugin against a double that answers as phpIPAM v1.8.2 does (tests/fakes/phpipam.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fakes package beside the tests

from fakes.httpserver import Fault, make_certificate
from fakes.ipam_inputs import VM, dual_stack_guest, ip, subnet, with_gateway
from fakes.phpipam import CODE, FakePhpipam
from sdnkit.config.model import Ipam
from sdnkit.errors import ConfigError, ExternalServiceError, IpamError, IpamExhaustedError, NotFoundError
from sdnkit.ipam.base import IpEntry, PluginEnv, build_plugin
from sdnkit.ipam.phpipam import PhpipamIpam

pytestmark = pytest.mark.services


@pytest.fixture
def phpipam() -> Iterator[FakePhpipam]:
    with FakePhpipam() as server:
        yield server  # type: ignore[misc]


def plugin(
    server: FakePhpipam, *, token: str = CODE, timeout: float = 5.0, cafile: str | None = None, **kw: object
) -> PhpipamIpam:
    cfg = Ipam(id="php", type="phpipam", url=server.url, token=token, section=1, **kw)  # type: ignore[arg-type]
    plug = build_plugin(cfg, PluginEnv(timeout=timeout, cafile=cafile))
    assert isinstance(plug, PhpipamIpam)
    return plug


def test_subnet_and_first_free_allocation(phpipam: FakePhpipam) -> None:
    php = plugin(phpipam)
    php.verify()
    sub = subnet("10.0.0.0/24", "10.0.0.1")
    php.add_subnet(sub)
    php.add_subnet(sub)  # found by CIDR: not created twice
    assert [(s["subnet"], s["mask"], s["sectionId"]) for s in phpipam.subnets.values()] == [
        ("10.0.0.0", "24", "1")
    ]
    php.add_ip(sub, ip("10.0.0.1"), IpEntry(gateway=True))
    php.add_ip(sub, ip("10.0.0.3"), IpEntry(mac="02:00:00:00:00:03", vmid="101"))
    assert php.next_free_ip(sub, VM) == ip("10.0.0.2")
    stored = phpipam.ips()["10.0.0.2"]
    assert (stored["mac"], stored["hostname"], stored["description"]) == (VM.mac, "myhost", "100")
    assert phpipam.ips()["10.0.0.1"]["is_gateway"] == "1"
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


def test_errors_name_the_call(phpipam: FakePhpipam) -> None:
    with pytest.raises(
        ExternalServiceError, match=r"\(phpIPAM\): check the API.*HTTP 401: .*Invalid token"
    ) as err:
        plugin(phpipam, token="wrong").verify()
    assert err.value.status == 401
    with pytest.raises(IpamError, match="is not registered in phpIPAM"):
        plugin(phpipam).next_free_ip(subnet("10.7.0.0/24"), VM)
    with pytest.raises(ConfigError, match='option "section" is required'):
        build_plugin(Ipam(id="php", type="phpipam", url=phpipam.url, token=CODE), PluginEnv())


def test_app_code_over_plain_http_is_refused_with_the_server_reason() -> None:
    with (
        FakePhpipam(require_tls=True) as server,
        pytest.raises(ExternalServiceError, match=r"HTTP 503: .*SSL"),
    ):
        plugin(server).verify()  # type: ignore[arg-type]


def test_https_with_pinned_fingerprint(tmp_path: Path) -> None:
    tls = make_certificate(tmp_path)
    with FakePhpipam(tls=tls, require_tls=True) as server:
        php = plugin(server, fingerprint=tls.fingerprint)  # type: ignore[arg-type]
        sub = subnet("10.0.0.0/24")
        php.add_subnet(sub)  # the lookups honour the fingerprint too (upstream's do not, §10.13)
        assert php.next_free_ip(sub, VM) == ip("10.0.0.1")
        with pytest.raises(ExternalServiceError, match="not trusted"):
            plugin(server).verify()  # type: ignore[arg-type]
