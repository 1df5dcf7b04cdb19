"""dnsmasq per zone in network namespaces: guests get their IPAM addresses by DHCP, for real.

Topology per module: a "node" namespace with the vnet bridge and its gateways, and guest
namespaces plugged into it by veth. Clients are busybox udhcpc and dhclient -6 with our own hook
scripts (the stock ones would rewrite the host's resolv.conf).
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from sdnkit.config.running import RunningConfig
from sdnkit.dhcp.base import DhcpPaths, DhcpSettings
from sdnkit.dhcp.dnsmasq import Dnsmasq
from sdnkit.errors import RealizeError
from sdnkit.ipam.base import Allocation, IpEntry
from sdnkit.plan.desired import DhcpHost
from sdnkit.plan.dhcp import plan_dhcp, with_hosts
from sdnkit.realize.dhcp import DhcpAction, apply_dhcp, sync_hosts

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.needs("root", "dnsmasq", "busybox"),
]

_COUNTER = itertools.count()

UDHCPC_HOOK = """#!/bin/sh
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew) ip -4 addr flush dev "$interface"; ip addr add "$ip/${mask:-24}" dev "$interface"
     echo "$ip ${router:-} ${mtu:-} ${dns:-}" > "$LEASE_OUT" ;;
esac
exit 0
"""

DHCLIENT_HOOK = """#!/bin/sh
case "$reason" in
  BOUND6|RENEW6|REBIND6) ip -6 addr replace "$new_ip6_address/128" dev "$interface" nodad
     echo "$new_ip6_address" > "$(dirname "$0")/lease6" ;;  # dhclient clears the environment
esac
exit 0
"""


def sh(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def running_config(dhcp_range: bool = True) -> RunningConfig:
    sub4 = {"type": "subnet", "vnet": "dv1", "gateway": "10.77.0.1", "dhcp-dns-server": "10.77.0.53"}
    if dhcp_range:
        sub4["dhcp-range"] = ["start-address=10.77.0.100,end-address=10.77.0.110"]
    return RunningConfig.from_json(
        {
            "version": 1,
            "zones": {"ids": {"dz": {"type": "simple", "ipam": "pve", "dhcp": "dnsmasq", "mtu": 1400}}},
            "vnets": {"ids": {"dv1": {"type": "vnet", "zone": "dz"}}},
            "subnets": {
                "ids": {
                    "dz-10.77.0.0-24": sub4,
                    "dz-2001:db8:77::-64": {"type": "subnet", "vnet": "dv1", "gateway": "2001:db8:77::1"},
                }
            },
        }
    )


CONFIG = running_config().config


def Entry(zone: str, ip, mac: str | None, vmid: str | None = None, gateway: bool = False) -> Allocation:
    """An IPAM allocation in whichever subnet of the test config holds ``ip``."""
    subnet = next(s for s in CONFIG.subnets.values() if ip in s.network)
    assert subnet.zone == zone
    return Allocation(subnet, ip, IpEntry(gateway=True) if gateway else IpEntry(mac=mac, vmid=vmid))


@dataclass
class Lab:
    node: str
    guests: list[str]
    tmp: Path

    def settings(self, **kw) -> DhcpSettings:
        return DhcpSettings(paths=DhcpPaths.under(self.tmp / "dhcp"), netns=self.node, log_dhcp=True, **kw)

    def udhcpc(self, guest: str, *, tries: int = 5) -> list[str] | None:
        """Run one DHCPv4 exchange; the lease as [ip, router, mtu, dns], or None without an answer."""
        out = self.tmp / f"{guest}.lease4"
        out.unlink(missing_ok=True)
        proc = subprocess.run(
            ["ip", "netns", "exec", guest, "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f",
             "-t", str(tries), "-T", "1", "-O", "mtu", "-s", str(self.tmp / "udhcpc.sh")],
            env={**os.environ, "LEASE_OUT": str(out)},
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        return out.read_text().split() if proc.returncode == 0 and out.exists() else None

    def guest_ipv4(self, guest: str) -> list[str]:
        text = sh("ip", "-n", guest, "-4", "-o", "addr", "show", "dev", "eth0")
        return [line.split()[3].split("/")[0] for line in text.splitlines()]


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    """The namespaces, shared by the module (``lab`` gives every test a clean start on them)."""
    tag = f"dh{os.getpid() % 10000}x{next(_COUNTER)}"
    node, guests = f"{tag}n", [f"{tag}g{i}" for i in range(3)]
    tmp = tmp_path_factory.mktemp("dhcp")
    (tmp / "udhcpc.sh").write_text(UDHCPC_HOOK)
    (tmp / "dhclient.sh").write_text(DHCLIENT_HOOK)
    for hook in ("udhcpc.sh", "dhclient.sh"):
        (tmp / hook).chmod(0o755)
    created: list[str] = []
    try:
        for ns in (node, *guests):
            sh("ip", "netns", "add", ns)
            created.append(ns)
        batch = [
            "link add dv1 type bridge",
            "addr add 10.77.0.1/24 dev dv1",
            "addr add 2001:db8:77::1/64 dev dv1 nodad",
            "link set dv1 up",
        ]
        for i, guest in enumerate(guests):
            batch += [f"link add p{i} type veth peer name eth0 netns {guest}", f"link set p{i} master dv1 up"]
        subprocess.run(["ip", "-n", node, "-batch", "-"], input="\n".join(batch), text=True, check=True)
        for i, guest in enumerate(guests):
            sh("ip", "netns", "exec", guest, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0",
               "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.eth0.accept_dad=0")  # fmt: skip
            sh("ip", "-n", guest, "link", "set", "eth0", "address", f"bc:24:11:77:00:0{i}", "up")
        yield Lab(node, guests, tmp)
    finally:
        settings = DhcpSettings(paths=DhcpPaths.under(tmp / "dhcp"), netns=node)
        apply_dhcp([], settings)  # stops every instance of the module
        for ns in created:
            subprocess.run(["ip", "netns", "del", ns], check=False)


@pytest.fixture
def lab(topology):
    """No DHCP server running, no lease or config file left, guests without IPv4 addresses."""
    stop_and_forget(topology)
    try:
        yield topology
    finally:
        stop_and_forget(topology)


def stop_and_forget(lab: Lab) -> None:
    apply_dhcp([], lab.settings())
    shutil.rmtree(lab.tmp / "dhcp", ignore_errors=True)
    for guest in lab.guests:
        sh("ip", "-n", guest, "-4", "addr", "flush", "dev", "eth0")


MAC0, MAC1, MAC2 = "bc:24:11:77:00:00", "bc:24:11:77:00:01", "bc:24:11:77:00:02"


def planned(lab: Lab, entries, dhcp_range: bool = True):
    plan = plan_dhcp(running_config(dhcp_range).config, "n1")
    return with_hosts(plan.instances, entries)


def test_guest_gets_its_ipam_address_and_options(lab):
    entries = [
        Entry("dz", ipaddress.ip_address("10.77.0.1"), None, gateway=True),
        Entry("dz", ipaddress.ip_address("10.77.0.100"), MAC0, "100"),
        Entry("dz", ipaddress.ip_address("2001:db8:77::100"), MAC0, "100"),
    ]
    changes = apply_dhcp(planned(lab, entries), lab.settings())
    assert [c.action for c in changes] == [DhcpAction.START]
    assert lab.udhcpc(lab.guests[0]) == ["10.77.0.100", "10.77.0.1", "1400", "10.77.0.53"]
    assert lab.guest_ipv4(lab.guests[0]) == ["10.77.0.100"]
    # the lease file records it
    lease = (lab.tmp / "dhcp/leases/dnsmasq.dz.leases").read_text()
    assert f"{MAC0} 10.77.0.100" in lease


def test_unknown_mac_is_ignored_without_dynamic_leases(lab):
    entries = [Entry("dz", ipaddress.ip_address("10.77.0.100"), MAC0, "100")]
    apply_dhcp(planned(lab, entries), lab.settings())
    assert lab.udhcpc(lab.guests[0]) is not None  # the server answers a known MAC...
    assert lab.udhcpc(lab.guests[2], tries=2) is None  # ...and ignores an unknown one
    assert Dnsmasq(lab.settings()).pid("dz") is not None  # still running


def test_mapping_change_reloads_without_restart_and_renew_gets_new_address(lab):
    server = Dnsmasq(lab.settings())
    apply_dhcp(planned(lab, [Entry("dz", ipaddress.ip_address("10.77.0.100"), MAC0, "100")]), lab.settings())
    assert lab.udhcpc(lab.guests[0])[0] == "10.77.0.100"
    pid = server.pid("dz")
    entries = [
        Entry("dz", ipaddress.ip_address("10.77.0.101"), MAC0, "100"),
        Entry("dz", ipaddress.ip_address("10.77.0.102"), MAC1, "101"),
    ]
    changes = apply_dhcp(planned(lab, entries), lab.settings())
    assert [(c.action, c.files) for c in changes] == [(DhcpAction.RELOAD, ("ethers",))]
    assert server.pid("dz") == pid
    assert lab.udhcpc(lab.guests[0])[0] == "10.77.0.101"
    assert lab.udhcpc(lab.guests[1])[0] == "10.77.0.102"
    # port add/del path: only the mappings, again a reload
    host = DhcpHost(mac=MAC1, ips=(ipaddress.ip_address("10.77.0.103"),))
    assert sync_hosts("dz", [host], lab.settings()) is DhcpAction.RELOAD
    assert lab.udhcpc(lab.guests[1])[0] == "10.77.0.103"
    assert server.pid("dz") == pid


def test_unrelated_change_keeps_the_server_untouched(lab):
    server = Dnsmasq(lab.settings())
    insts = planned(lab, [Entry("dz", ipaddress.ip_address("10.77.0.101"), MAC0, "100")])
    apply_dhcp(insts, lab.settings())
    pid = server.pid("dz")
    # another zone appears (its vnet is not on this node's bridge list, dnsmasq still starts)
    other = replace(insts[0], zone="dz2", subnets=insts[0].subnets[:1], hosts=())
    changes = apply_dhcp([*insts, other], lab.settings())
    assert {c.zone: c.action for c in changes} == {"dz": DhcpAction.NONE, "dz2": DhcpAction.START}
    assert server.pid("dz") == pid
    changes = apply_dhcp(insts, lab.settings())
    assert {c.zone: c.action for c in changes} == {"dz": DhcpAction.NONE, "dz2": DhcpAction.STOP}
    assert server.pid("dz") == pid and server.pid("dz2") is None
    assert not (lab.tmp / "dhcp/dnsmasq.d/dz2").exists()


def test_config_change_restarts_and_a_refused_config_is_rolled_back(lab):
    server = Dnsmasq(lab.settings())
    insts = planned(lab, [Entry("dz", ipaddress.ip_address("10.77.0.101"), MAC0, "100")])
    apply_dhcp(insts, lab.settings())
    before = (lab.tmp / "dhcp/dnsmasq.d/dz/00-default.conf").read_text()
    # dnsmasq refuses DHCPv6 ranges shorter than /64 (the planner leaves them out; forced here)
    sub6 = insts[0].subnets[1]
    bad = replace(
        insts[0], subnets=(insts[0].subnets[0], replace(sub6, network=ipaddress.ip_network("2001:db8::/48")))
    )
    with pytest.raises(RealizeError, match="prefix length must be at least 64"):
        apply_dhcp([bad], lab.settings())
    assert (lab.tmp / "dhcp/dnsmasq.d/dz/00-default.conf").read_text() == before
    assert server.pid("dz") is not None
    assert lab.udhcpc(lab.guests[0])[0] == "10.77.0.101"
    # a real config change restarts
    pid = server.pid("dz")
    changes = apply_dhcp([replace(insts[0], mtu=1380)], lab.settings())
    assert [(c.action, c.files) for c in changes] == [(DhcpAction.RESTART, ("00-default.conf",))]
    assert server.pid("dz") not in (None, pid)
    assert lab.udhcpc(lab.guests[0])[2] == "1380"


def test_crashed_server_is_started_again(lab):
    server = Dnsmasq(lab.settings())
    insts = planned(lab, [Entry("dz", ipaddress.ip_address("10.77.0.101"), MAC0, "100")])
    apply_dhcp(insts, lab.settings())
    pid = server.pid("dz")
    os.kill(pid, 9)
    deadline = time.monotonic() + 5
    while server.pid("dz") is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    changes = apply_dhcp(insts, lab.settings())
    assert [c.action for c in changes] == [DhcpAction.START]
    assert lab.udhcpc(lab.guests[0])[0] == "10.77.0.101"


def test_a_deleted_ports_address_goes_to_the_next_guest_that_gets_it(lab):
    """MAC0 holds 10.77.0.101 for ever; its port goes and the address is given to MAC2."""
    server = Dnsmasq(lab.settings())
    apply_dhcp(planned(lab, [Entry("dz", ipaddress.ip_address("10.77.0.101"), MAC0, "100")]), lab.settings())
    assert lab.udhcpc(lab.guests[0])[0] == "10.77.0.101"
    pid = server.pid("dz")

    host = DhcpHost(mac=MAC2, ips=(ipaddress.ip_address("10.77.0.101"),))
    assert sync_hosts("dz", [host], lab.settings()) is DhcpAction.RESTART
    assert server.pid("dz") not in (None, pid)
    assert lab.udhcpc(lab.guests[2])[0] == "10.77.0.101"
    lease = (lab.tmp / "dhcp/leases/dnsmasq.dz.leases").read_text()
    assert MAC0 not in lease and f"{MAC2} 10.77.0.101" in lease
    # and back through an apply (the planned mappings): the same, by the apply's restart
    changes = apply_dhcp(
        planned(lab, [Entry("dz", ipaddress.ip_address("10.77.0.101"), MAC0, "100")]), lab.settings()
    )
    assert [c.action for c in changes] == [DhcpAction.RESTART]
    assert lab.udhcpc(lab.guests[0])[0] == "10.77.0.101"


def test_dynamic_leases_for_unknown_macs_when_enabled(lab):
    insts = planned(lab, [Entry("dz", ipaddress.ip_address("10.77.0.101"), MAC0, "100")])
    apply_dhcp(insts, lab.settings())
    assert lab.udhcpc(lab.guests[2], tries=2) is None  # static only: unknown MACs get nothing
    settings = lab.settings(dynamic=True)
    changes = apply_dhcp(insts, settings)
    assert [c.action for c in changes] == [DhcpAction.RESTART]
    lease = lab.udhcpc(lab.guests[2])
    assert lease is not None
    assert ipaddress.ip_address(lease[0]) in ipaddress.ip_network("10.77.0.96/28")
    assert 100 <= int(lease[0].rsplit(".", 1)[1]) <= 110 and lease[0] != "10.77.0.101"
    # the reserved guest still gets its own address
    assert lab.udhcpc(lab.guests[0])[0] == "10.77.0.101"


@pytest.mark.needs("dhclient")
def test_ipv6_router_advertisement_and_dhcpv6_static_address(lab):
    entries = [
        Entry("dz", ipaddress.ip_address("10.77.0.101"), MAC0, "100"),
        Entry("dz", ipaddress.ip_address("2001:db8:77::101"), MAC0, "100"),
    ]
    apply_dhcp(planned(lab, entries), lab.settings())
    guest = lab.guests[0]
    out = lab.tmp / "lease6"
    out.unlink(missing_ok=True)
    # link up sends a router solicitation: the answer need not wait for the next periodic RA
    sh("ip", "-n", guest, "link", "set", "eth0", "down")
    sh("ip", "-n", guest, "link", "set", "eth0", "up")
    client = subprocess.Popen(  # in the foreground (-d): stopped below, never left behind
        ["ip", "netns", "exec", guest, "dhclient", "-6", "-1", "-d", "-sf", str(lab.tmp / "dhclient.sh"),
         "-lf", str(lab.tmp / "dh6.leases"), "-pf", str(lab.tmp / "dh6.pid"), "eth0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not out.exists() and client.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        client.terminate()
        client.wait(timeout=10)
    assert out.read_text().strip() == "2001:db8:77::101"
    # the router advertisement gave the default route and the MTU
    deadline = time.monotonic() + 10
    while "default via fe80::" not in (routes := sh("ip", "-n", guest, "-6", "route")):
        assert time.monotonic() < deadline, routes
        time.sleep(0.2)
    assert "mtu 1400" in routes.split("default via", 1)[1].splitlines()[0]
