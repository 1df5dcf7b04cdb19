"""Guest ports for real: IPAM in a store, dnsmasq in a node namespace, PowerDNS, nftables, veths.

Topology: a node namespace with the vnet bridge ``pv1`` carrying the gateways (as the realizer
leaves it), the zone's dnsmasq started by ``apply_dhcp`` (as the agent does), a PowerDNS server
on 127.0.0.1, and guest namespaces that ``add_port`` plugs into the bridge. Guests ask for their
address with busybox udhcpc and our own hook script.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from sdnkit.cli.main import main as sdn_main
from sdnkit.dhcp.base import DhcpPaths, DhcpSettings
from sdnkit.dns.pdns_server import PdnsServer
from sdnkit.errors import DnsError, IpamExhaustedError, RealizeError, SdnError
from sdnkit.ipam.base import IpEntry
from sdnkit.plan.facts import NodeFacts
from sdnkit.plan.planner import plan_node
from sdnkit.realize.dhcp import apply_dhcp, read_hosts
from sdnkit.realize.ipsets import read_sets
from sdnkit.service import SdnService
from sdnkit.service.node_services import NodeServices, NodeServicesResult, apply_node_services
from sdnkit.service.ports import PortContext, PortSpec, _View, add_port, del_port, list_ports
from sdnkit.store.snapshot import read_running

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.services,
    pytest.mark.needs("root", "dnsmasq", "busybox", "pdns_server", "dig", "nft"),
]

_COUNTER = itertools.count()
UDHCPC_HOOK = """#!/bin/sh
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew) ip -4 addr flush dev "$interface"; ip addr add "$ip/${mask:-24}" dev "$interface"
     echo "$ip" > "$LEASE_OUT" ;;
esac
exit 0
"""


def sh(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


@dataclass
class Env:
    svc: SdnService
    pdns: PdnsServer
    node_ns: str
    tag: str
    tmp: Path
    made: list[str]

    def ctx(self) -> PortContext:
        settings = DhcpSettings(paths=DhcpPaths.under(self.tmp / "dhcp"), netns=self.node_ns)
        return PortContext(
            store=self.svc.store, node="n1", node_netns=self.node_ns, dhcp=settings, firewall=True
        )

    def guest_ns(self, name: str) -> str:
        ns = f"{self.tag}{name}"
        sh("ip", "netns", "add", ns)
        self.made.append(ns)
        return ns

    def udhcpc(self, ns: str, tries: int = 5) -> str | None:
        out = self.tmp / f"{ns}.lease"
        out.unlink(missing_ok=True)
        argv = [
            "ip",
            "netns",
            "exec",
            ns,
            "busybox",
            "udhcpc",
            "-i",
            "eth0",
            "-n",
            "-q",
            "-f",
            "-t",
            str(tries),
        ]
        argv += ["-T", "1", "-s", str(self.tmp / "udhcpc.sh")]
        env = {**os.environ, "LEASE_OUT": str(out)}
        subprocess.run(argv, env=env, capture_output=True, timeout=30, check=False)
        return out.read_text().strip() if out.exists() else None

    def dig(self, *query: str) -> list[str]:
        argv = ["dig", "+short", "+time=2", "+tries=1", "@127.0.0.1", "-p", str(self.pdns.dns_port), *query]
        return sorted(sh(*argv).split())

    def agent_pass(self) -> NodeServicesResult:
        """What the node agent does after realizing the plan (and on every resync)."""
        plan = plan_node(read_running(self.svc.store), NodeFacts(node="n1"))
        node = NodeServices(dhcp=self.ctx().dhcp, netns=self.node_ns, firewall=True)
        return apply_node_services(self.svc.store, plan, node)

    def allocations(self):
        view = _View.load(self.ctx())
        zone = view.running.zones["pz"]
        plugin = view.ipam.plugin(zone.ipam)
        return plugin, plugin.allocations(view.running.subnets_of("pv1"))


@pytest.fixture(scope="module")
def pdns():
    """One PowerDNS server for the module; ``env`` gives every test fresh, empty zones on it."""
    server = PdnsServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def fresh_zones(pdns: PdnsServer) -> None:
    for zone in ("sdn.test.", "10.in-addr.arpa.", V6_ZONE):
        with contextlib.suppress(SdnError):  # absent: a test deleted it, or the first test
            pdns.delete_zone(zone)
        pdns.create_zone(zone)


@pytest.fixture
def env(pdns, tmp_path):
    """A store with the zone, a node namespace with the vnet bridge, and its DHCP server: per test."""
    tag = f"po{os.getpid() % 10000}x{next(_COUNTER)}"
    tmp = tmp_path
    (tmp / "udhcpc.sh").write_text(UDHCPC_HOOK)
    (tmp / "udhcpc.sh").chmod(0o755)
    made: list[str] = []
    node_ns = f"{tag}n"
    try:
        fresh_zones(pdns)
        svc = SdnService(tmp / "store")
        svc.create("dns", {"dns": "pdns", "type": "powerdns", "url": pdns.url, "key": pdns.key, "ttl": 300})
        zone = {"zone": "pz", "type": "simple", "ipam": "pve", "dhcp": "dnsmasq"}
        svc.create("zones", {**zone, "dns": "pdns", "reversedns": "pdns", "dnszone": "sdn.test"})
        svc.create("vnets", {"vnet": "pv1", "zone": "pz", "isolate-ports": 1})
        rng = ["start-address=10.0.1.100,end-address=10.0.1.102"]
        svc.create(
            "subnets", {"vnet": "pv1", "subnet": "10.0.1.0/24", "gateway": "10.0.1.1", "dhcp-range": rng}
        )
        svc.create("subnets", {"vnet": "pv1", "subnet": "2001:db8:1::/64", "gateway": "2001:db8:1::1"})
        svc.apply({})
        sh("ip", "netns", "add", node_ns)
        made.append(node_ns)
        batch = "link add pv1 type bridge\naddr add 10.0.1.1/24 dev pv1\n"
        batch += "addr add 2001:db8:1::1/64 dev pv1 nodad\nlink set pv1 up\n"
        subprocess.run(["ip", "-n", node_ns, "-batch", "-"], input=batch, text=True, check=True)
        e = Env(svc, pdns, node_ns, tag, tmp, made)
        e.agent_pass()  # the zone's DHCP server and the IP sets, as the node agent starts them
        yield e
    finally:
        apply_dhcp([], DhcpSettings(paths=DhcpPaths.under(tmp / "dhcp"), netns=node_ns))
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], check=False)


V6_ZONE = "1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
MAC1, MAC2, MAC3, MAC4 = (f"bc:24:11:00:10:0{i}" for i in range(1, 5))


def test_a_port_gets_address_dhcp_dns_firewall_and_device(env):
    ns = env.guest_ns("g1")
    port = add_port(env.ctx(), PortSpec(vnet="pv1", guest="101", mac=MAC1, hostname="web1", netns=ns))
    assert port.ips == ("10.0.1.100", "2001:db8:1::2")  # v4 from the dhcp-range, v6 next free
    assert port.device == "veth101i0"
    # the device: plugged, isolated (vnet isolate-ports), guest side has the port's MAC
    link = json.loads(sh("ip", "-n", env.node_ns, "-j", "-d", "link", "show", "dev", "veth101i0"))[0]
    assert link["master"] == "pv1" and link["linkinfo"]["info_slave_data"]["isolated"] is True
    assert json.loads(sh("ip", "-n", ns, "-j", "link", "show", "dev", "eth0"))[0]["address"] == MAC1
    # DHCP: the guest gets its IPAM address from the node's dnsmasq
    assert read_hosts("pz", env.ctx().dhcp)[MAC1] == f"{MAC1},10.0.1.100,[2001:db8:1::2]"
    assert env.udhcpc(ns) == "10.0.1.100"
    # DNS: forward and reverse
    assert env.dig("web1.sdn.test", "A") == ["10.0.1.100"]
    assert env.dig("web1.sdn.test", "AAAA") == ["2001:db8:1::2"]
    assert env.dig("-x", "10.0.1.100") == ["web1.sdn.test."]
    # firewall: the guest's set
    sets = read_sets(env.node_ns)
    assert sets["guest-ipam-101-v4"].intervals == ((int(ipaddress.ip_address("10.0.1.100")),) * 2,)
    assert [p.key for p in list_ports(env.ctx())] == [f"pv1/101/{MAC1}"]


def test_a_second_guest_gets_the_next_address_of_the_range(env):
    first = add_port(env.ctx(), PortSpec(vnet="pv1", guest="101", mac=MAC1, netns=env.guest_ns("g1")))
    assert first.ips[0] == "10.0.1.100"
    ns = env.guest_ns("g2")
    port = add_port(env.ctx(), PortSpec(vnet="pv1", guest="102", mac=MAC2, netns=ns))
    assert port.ips[0] == "10.0.1.101"
    assert env.udhcpc(ns) == "10.0.1.101"


def test_mapping_change_and_renew_gives_the_new_address(env):
    ns = env.guest_ns("g2")
    add_port(env.ctx(), PortSpec(vnet="pv1", guest="102", mac=MAC2, netns=ns))
    assert env.udhcpc(ns) == "10.0.1.100"
    plugin, allocs = env.allocations()
    old = next(a for a in allocs if a.entry.same_mac(MAC2) and a.ip.version == 4)
    plugin.del_ip(old.subnet, old.ip)
    plugin.add_ip(old.subnet, ipaddress.ip_address("10.0.1.50"), IpEntry(mac=MAC2, vmid="102"))
    # the node agent's next pass: the same plan, new mappings, a reload (no restart)
    result = env.agent_pass()
    assert [(c.action, c.files) for c in result.dhcp] == [("reload", ("ethers",))]
    assert result.ipsets.updated == ("guest-ipam-102-v4",)
    assert env.udhcpc(ns) == "10.0.1.50"


def test_a_refusing_dns_server_leaves_nothing_behind(env):
    ns = env.guest_ns("g3")
    before = env.allocations()[1]
    hosts = read_hosts("pz", env.ctx().dhcp)
    # without the ip6.arpa zone the A, PTR and AAAA records go in, then the IPv6 PTR is refused
    env.pdns.delete_zone(V6_ZONE)
    with pytest.raises(
        DnsError, match=r'port "pv1/103/.*": dns failed: dns "pdns": no reverse zone for 2001:db8:1::'
    ):
        add_port(env.ctx(), PortSpec(vnet="pv1", guest="103", mac=MAC3, hostname="db1", netns=ns))
    assert env.allocations()[1] == before  # IPAM released
    assert read_hosts("pz", env.ctx().dhcp) == hosts  # DHCP mapping removed again
    assert env.dig("db1.sdn.test", "A") == [] and env.dig("db1.sdn.test", "AAAA") == []
    assert [env.dig("-x", f"10.0.1.{i}") for i in (100, 101, 102)] == [[], [], []]
    assert "guest-ipam-103-v4" not in read_sets(env.node_ns)
    assert sh("ip", "-n", ns, "-o", "link", "show").count("eth0") == 0  # no device
    assert f"pv1/103/{MAC3}" not in {p.key for p in list_ports(env.ctx())}
    env.pdns.create_zone(V6_ZONE)
    port = add_port(env.ctx(), PortSpec(vnet="pv1", guest="103", mac=MAC3, hostname="db1", netns=ns))
    assert env.dig("-x", port.ips[1]) == ["db1.sdn.test."]
    assert env.dig("db1.sdn.test", "A") == [port.ips[0]]


def test_an_exhausted_range_and_a_missing_netns_fail_cleanly(env):
    # the range 10.0.1.100-102: three ports take it all
    for i in (6, 7, 8):
        add_port(env.ctx(), PortSpec(vnet="pv1", guest=f"10{i}", mac=f"bc:24:11:00:10:0{i}"))
    before = env.allocations()[1]
    full = r'port "pv1/104/.*": ipam failed: .*no free IP left in the IPv4 subnets'
    with pytest.raises(IpamExhaustedError, match=full):
        add_port(env.ctx(), PortSpec(vnet="pv1", guest="104", mac=MAC4))
    assert env.allocations()[1] == before
    with pytest.raises(RealizeError, match=r'device failed: network namespace "nosuchns" does not exist'):
        wanted = (ipaddress.ip_address("10.0.1.60"),)
        add_port(
            env.ctx(),
            PortSpec(vnet="pv1", guest="104", mac=MAC4, ips=wanted, hostname="gone", netns="nosuchns"),
        )
    assert env.allocations()[1] == before
    assert MAC4 not in read_hosts("pz", env.ctx().dhcp)
    assert env.dig("gone.sdn.test", "A") == []


def test_port_del_undoes_everything(env):
    ns = env.guest_ns("g1")
    add_port(env.ctx(), PortSpec(vnet="pv1", guest="101", mac=MAC1, hostname="web1", netns=ns))
    assert env.dig("web1.sdn.test", "A") == ["10.0.1.100"] and "guest-ipam-101-v4" in read_sets(env.node_ns)
    port = del_port(env.ctx(), "pv1", "101", MAC1)
    assert "10.0.1.100" in port.ips
    assert not any(a.entry.same_mac(MAC1) for a in env.allocations()[1])
    assert MAC1 not in read_hosts("pz", env.ctx().dhcp)
    assert env.dig("web1.sdn.test", "A") == [] and env.dig("-x", "10.0.1.100") == []
    assert "guest-ipam-101-v4" not in read_sets(env.node_ns)
    assert subprocess.run(
        ["ip", "-n", env.node_ns, "link", "show", "veth101i0"], capture_output=True, check=False
    ).returncode
    assert "eth0" not in sh("ip", "-n", ns, "-o", "link", "show")


def test_cli_port_add_list_del_json(env, capsys):
    store = str(env.tmp / "store")
    common = ["--config-dir", store, "--output", "json"]
    node = ["--node", "n1", "--node-netns", env.node_ns, "--dhcp-root", str(env.tmp / "dhcp")]
    argv = [*common, "port", "add", "--vnet", "pv1", "--guest", "105", "--mac", "bc:24:11:00:10:05",
            "--ip", "10.0.1.70", *node]  # fmt: skip
    assert sdn_main(argv) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["ips"][0] == "10.0.1.70" and added["guest"] == "105"
    assert read_sets(env.node_ns)["guest-ipam-105-v4"].intervals
    assert sdn_main([*common, "port", "list", "--vnet", "pv1", *node]) == 0
    assert "105" in {p["guest"] for p in json.loads(capsys.readouterr().out)}
    delete = [*common, "port", "del", "--vnet", "pv1", "--guest", "105", "--mac", "bc:24:11:00:10:05", *node]
    assert sdn_main(delete) == 0
    capsys.readouterr()
    assert sdn_main(delete) == 2
    assert "does not exist" in capsys.readouterr().err
