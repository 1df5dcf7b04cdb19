"""The PowerDNS plugin against a real pdns_server (sqlite backend, HTTP API), resolved with dig."""

from __future__ import annotations

import ipaddress
import subprocess

import pytest

from sdnkit.config.model import Dns, SdnConfig
from sdnkit.config.running import RunningConfig
from sdnkit.config.schema import Kind
from sdnkit.config.section import parse_section
from sdnkit.dns.base import forward_name, registration_for
from sdnkit.dns.pdns_server import PdnsServer
from sdnkit.dns.powerdns import PowerDns
from sdnkit.errors import ConfigError, DnsError, ExternalServiceError

pytestmark = [
    pytest.mark.services,
    pytest.mark.needs("pdns_server", "dig"),
]

ZONES = [
    "sdn.test.",
    "2.0.192.in-addr.arpa.",  # a /24 zone
    "10.in-addr.arpa.",  # an RFC 1918 /8 zone
    "8.b.d.0.1.0.0.2.ip6.arpa.",  # 2001:db8::/32
    "1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",  # 2001:db8:1::/48
]


@pytest.fixture(scope="session")
def pdns():
    server = PdnsServer()
    server.start()
    try:
        for zone in ZONES:
            server.create_zone(zone)
        yield server
    finally:
        server.stop()


def dns_cfg(server: PdnsServer, **opts) -> Dns:
    return Dns(id="pdns", type="powerdns", url=server.url, key=server.key, **opts)


def dig(server: PdnsServer, *query: str) -> list[str]:
    out = subprocess.run(
        ["dig", "+short", "+time=2", "+tries=1", "@127.0.0.1", "-p", str(server.dns_port), *query],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sorted(out.split())


def dig_ttl(server: PdnsServer, name: str, rtype: str) -> int:
    out = subprocess.run(
        ["dig", "+noall", "+answer", "@127.0.0.1", "-p", str(server.dns_port), name, rtype],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(out.split()[1])


def ip(text: str):
    return ipaddress.ip_address(text)


def test_several_addresses_under_one_name_and_deleting_only_one(pdns):
    plugin = PowerDns.from_config(dns_cfg(pdns, ttl=3600))
    plugin.add_a_record("sdn.test", "multi.sdn.test.", ip("192.0.2.10"))
    plugin.add_a_record("sdn.test", "multi.sdn.test.", ip("192.0.2.11"))
    plugin.add_a_record("sdn.test", "multi.sdn.test.", ip("192.0.2.11"))  # again: no duplicate
    assert dig(pdns, "multi.sdn.test", "A") == ["192.0.2.10", "192.0.2.11"]
    assert dig_ttl(pdns, "multi.sdn.test", "A") == 3600
    plugin.del_a_record("sdn.test", "multi.sdn.test.", ip("192.0.2.10"))
    assert dig(pdns, "multi.sdn.test", "A") == ["192.0.2.11"]
    plugin.del_a_record("sdn.test", "multi.sdn.test.", ip("192.0.2.99"))  # not there: nothing happens
    plugin.del_a_record("sdn.test", "multi.sdn.test.", ip("192.0.2.11"))
    assert dig(pdns, "multi.sdn.test", "A") == []


def test_default_ttl_is_14400(pdns):
    plugin = PowerDns.from_config(dns_cfg(pdns))
    plugin.add_a_record("sdn.test", "ttl.sdn.test.", ip("192.0.2.20"))
    assert dig_ttl(pdns, "ttl.sdn.test", "A") == 14400


def config(server: PdnsServer, cidr: str, **dns_opts) -> SdnConfig:
    zone = {"type": "simple", "ipam": "pve", "dns": "pdns", "reversedns": "pdns", "dnszone": "sdn.test"}
    subnet = {"type": "subnet", "vnet": "v1", "dnszoneprefix": "dc1"}
    running = RunningConfig.from_json(
        {
            "version": 1,
            "zones": {"ids": {"z1": zone}},
            "vnets": {"ids": {"v1": {"type": "vnet", "zone": "z1"}}},
            "subnets": {"ids": {f"z1-{cidr.replace('/', '-')}": subnet}},
        }
    )
    opts = {"url": server.url, "key": server.key, **{k: str(v) for k, v in dns_opts.items()}}
    dns = parse_section(Kind.DNS, "powerdns", "pdns", opts)
    return SdnConfig({**running.config.sections, Kind.DNS: {"pdns": dns}})


@pytest.mark.parametrize(
    ("cidr", "address", "revzone"),
    [
        ("192.0.2.64/26", "192.0.2.70", "2.0.192.in-addr.arpa."),  # mask over /24: its /24 zone
        ("10.20.0.0/16", "10.20.3.4", "10.in-addr.arpa."),  # mask under /24: the hosted /8 zone
        ("2001:db8:1::/64", "2001:db8:1::70", "1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."),  # most specific
        ("2001:db8:2::/64", "2001:db8:2::70", "8.b.d.0.1.0.0.2.ip6.arpa."),
    ],
)
def test_register_forward_and_reverse_for_any_mask(pdns, cidr, address, revzone):
    cfg = config(pdns, cidr)
    reg = registration_for(cfg.dns, cfg.zones["z1"], next(iter(cfg.subnets.values())), "web1")
    assert reg is not None and reg.name == "web1.dc1.sdn.test."
    addr = ip(address)
    assert reg.reverse.reverse_zone(addr) == revzone
    reg.check([addr])
    reg.add(addr)
    rtype = "A" if addr.version == 4 else "AAAA"
    assert dig(pdns, "web1.dc1.sdn.test", rtype) == [address]
    assert dig(pdns, "-x", address) == ["web1.dc1.sdn.test."]
    reg.remove(addr)
    assert dig(pdns, "web1.dc1.sdn.test", rtype) == []
    assert dig(pdns, "-x", address) == []


def test_reversemaskv6_is_applied(pdns):
    cfg = config(pdns, "2001:db8:1::/64", reversemaskv6=32)
    reg = registration_for(cfg.dns, cfg.zones["z1"], next(iter(cfg.subnets.values())), "v6")
    assert reg.reverse.reverse_zone(ip("2001:db8:1::5")) == "8.b.d.0.1.0.0.2.ip6.arpa."
    cfg = config(pdns, "2001:db8:1::/64", reversemaskv6=64)
    reg = registration_for(cfg.dns, cfg.zones["z1"], next(iter(cfg.subnets.values())), "v6")
    with pytest.raises(DnsError, match=r"no reverse zone for 2001:db8:1::5 .*reversemaskv6=64"):
        reg.check([ip("2001:db8:1::5")])


def test_missing_zones_are_reported_before_anything_is_written(pdns):
    cfg = config(pdns, "198.51.100.0/24")
    reg = registration_for(cfg.dns, cfg.zones["z1"], next(iter(cfg.subnets.values())), "lost")
    with pytest.raises(
        DnsError, match=r"no reverse zone for 198\.51\.100\.5 .*100\.51\.198\.in-addr\.arpa\."
    ):
        reg.check([ip("198.51.100.5")])
    plugin = PowerDns.from_config(dns_cfg(pdns))
    with pytest.raises(DnsError, match=r'dns "pdns": zone nowhere\.test\. does not exist'):
        plugin.verify_zone("nowhere.test")
    # a PTR failure undoes the A record it followed
    with pytest.raises(DnsError):
        reg.add(ip("198.51.100.5"))
    assert dig(pdns, "lost.dc1.sdn.test", "A") == []


def test_wrong_key_is_an_external_service_error_without_the_key(pdns):
    plugin = PowerDns.from_config(Dns(id="pdns", type="powerdns", url=pdns.url, key="wrong-key"))
    with pytest.raises(ExternalServiceError) as err:
        plugin.verify()
    assert err.value.status == 401
    assert "wrong-key" not in str(err.value)


def test_hostname_must_be_a_dns_name():
    assert forward_name("Web1", "Example.COM", "dc1") == "web1.dc1.example.com."
    with pytest.raises(ConfigError, match="not a valid DNS name"):
        forward_name("bad name\nx", "example.com")
