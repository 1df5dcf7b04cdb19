"""The dnsmasq renderer refuses values dnsmasq would read as more than a value, even past validation.

The positive case is checked by dnsmasq itself (``dnsmasq --test``) and by splitting each option
at its commas, as dnsmasq does.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sdnkit.errors import ConfigError
from sdnkit.plan.desired import DhcpHost, DhcpInstance, DhcpSubnet
from sdnkit.render.dnsmasq import render_instance

ip = ipaddress.ip_address


def instance(
    *,
    tag: str = "z1-10.0.0.0-24",
    vnet: str = "vnet1",
    dns: str = "2001:db8::53",
    mac: str = "bc:24:11:00:00:01",
    vrf: str | None = None,
) -> DhcpInstance:
    subnets = (
        DhcpSubnet(
            subnet=tag,
            vnet=vnet,
            network=ipaddress.ip_network("10.0.0.0/24"),
            gateway=ip("10.0.0.1"),
            dns_server=ip(dns),
        ),
    )
    hosts = (DhcpHost(mac=mac, ips=(ip("10.0.0.5"), ip("2001:db8::5"))),)
    return DhcpInstance(zone="z1", mtu=1500, subnets=subnets, hosts=hosts, vrf=vrf)


def render(inst: DhcpInstance, root: Path = Path("/run/sdnkit/dhcp")) -> dict[str, str]:
    return render_instance(inst, root / "z1", root / "z1.leases")


@pytest.mark.parametrize(
    ("inst", "field"),
    [
        (instance(dns="fe80::1%eth0,8.8.8.8"), "dhcp-dns-server"),  # a zone ID, and a second server
        (instance(tag="z1,set:other"), "subnet"),
        (instance(tag="z1 #"), "subnet"),
        (instance(vnet="vnet1\ninterface=eth0"), "vnet"),
        (instance(vnet='v"1'), "vnet"),
        (instance(mac="bc:24:11:00:00:01,10.9.9.9"), "mac"),
        (instance(vrf="vrf_z\u2028x"), "vrf"),
    ],
)
def test_values_dnsmasq_reads_specially_are_refused(inst: DhcpInstance, field: str) -> None:
    with pytest.raises(ConfigError, match=f'option "{field}": .* cannot be written to a dnsmasq file'):
        render(inst)


def test_paths_with_blanks_or_comment_marks_are_refused() -> None:
    with pytest.raises(ConfigError, match='dhcp zone "z1": option "dhcp-leasefile"'):
        render(instance(), Path("/srv/my dhcp"))
    with pytest.raises(ConfigError, match="cannot be written to a dnsmasq file"):
        render(instance(), Path("/srv/#dhcp"))


def test_a_rendered_instance_splits_back_into_its_arguments(tmp_path: Path) -> None:
    files = render(instance(vrf="vrf_z1"), tmp_path)
    options = [
        line.split("=", 1)
        for line in files["10-vnet1.conf"].splitlines()
        if line and not line.startswith("#")
    ]
    assert options == [
        ["dhcp-range", "set:z1-10.0.0.0-24,10.0.0.0,static,255.255.255.0,infinite"],
        ["dhcp-option", "tag:z1-10.0.0.0-24,option:router,10.0.0.1"],
        ["dhcp-option", "tag:z1-10.0.0.0-24,option6:dns-server,[2001:db8::53]"],
        ["interface", "vnet1"],
    ]
    hosts = [line for line in files["ethers"].splitlines() if not line.startswith("#")]
    assert [h.split(",") for h in hosts] == [["bc:24:11:00:00:01", "10.0.0.5", "[2001:db8::5]"]]


def test_dnsmasq_accepts_the_rendered_files(tmp_path: Path) -> None:
    binary = shutil.which("dnsmasq")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("dnsmasq is not installed")
        pytest.skip("dnsmasq is not installed (scripts/install-deps.sh installs dnsmasq-base)")
    for name, text in render(instance(), tmp_path).items():
        (tmp_path / name).write_text(text)
    argv = [binary, "--test", "--conf-file=/dev/null", f"--conf-dir={tmp_path},*.conf"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    (tmp_path / "20-broken.conf").write_text("dhcp-option=tag:x,option6:dns-server,[fe80::1%eth0]\n")
    assert subprocess.run(argv, capture_output=True, check=False).returncode != 0  # the check can fail


def test_router_advertisements_carry_an_mtu_only_where_ipv6_can_use_it(tmp_path: Path) -> None:
    """dnsmasq refuses ra-param with an MTU below IPv6's 1280 (measured with dnsmasq --test)."""
    small = render(DhcpInstance(zone="z1", mtu=1200, subnets=instance().subnets))["00-default.conf"]
    assert "dhcp-option=26,1200\n" in small and "ra-param" not in small
    assert "ra-param=*,mtu:1280,0\n" in render(DhcpInstance(zone="z1", mtu=1280))["00-default.conf"]
