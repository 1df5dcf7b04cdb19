"""Which DHCP instances a node runs, and the dnsmasq files they get (spec §3.9, §10.5/§10.6 fixed)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from sdnkit.config.running import RunningConfig
from sdnkit.ipam.base import Allocation, IpEntry
from sdnkit.plan.desired import Bridge, DhcpHost
from sdnkit.plan.dhcp import plan_dhcp, with_hosts
from sdnkit.render.dnsmasq import render_instance


def running(**zone_opts) -> RunningConfig:
    zone = {"type": "simple", "ipam": "pve", "dhcp": "dnsmasq", **zone_opts}
    return RunningConfig.from_json(
        {
            "version": 4,
            "zones": {
                "ids": {
                    "z1": zone,
                    "nodhcp": {"type": "simple", "ipam": "pve"},
                    "ev": {
                        "type": "evpn",
                        "controller": "ctl",
                        "vrf-vxlan": 10000,
                        "dhcp": "dnsmasq",
                        "mtu": 1450,
                    },
                }
            },
            "vnets": {
                "ids": {
                    "v1": {"type": "vnet", "zone": "z1"},
                    "v2": {"type": "vnet", "zone": "z1"},
                    "n1": {"type": "vnet", "zone": "nodhcp"},
                    "e1": {"type": "vnet", "zone": "ev", "tag": 11000},
                }
            },
            "subnets": {
                "ids": {
                    "z1-10.0.1.0-24": {
                        "type": "subnet",
                        "vnet": "v1",
                        "gateway": "10.0.1.1",
                        "dhcp-dns-server": "10.0.1.53",
                        "dhcp-range": ["start-address=10.0.1.100,end-address=10.0.1.200"],
                    },
                    "z1-2001:db8:1::-64": {
                        "type": "subnet",
                        "vnet": "v1",
                        "gateway": "2001:db8:1::1",
                        "dhcp-dns-server": "2001:db8:1::53",
                    },
                    "z1-10.0.2.0-24": {"type": "subnet", "vnet": "v2"},  # no gateway
                    "z1-2001:db8:2::-48": {"type": "subnet", "vnet": "v2", "gateway": "2001:db8:2::1"},
                    "nodhcp-10.9.0.0-24": {"type": "subnet", "vnet": "n1", "gateway": "10.9.0.1"},
                    "ev-10.5.0.0-24": {"type": "subnet", "vnet": "e1", "gateway": "10.5.0.1"},
                }
            },
        }
    )


def test_one_instance_per_zone_with_dhcp_and_servable_subnets():
    plan = plan_dhcp(running().config, "node1")
    assert [i.zone for i in plan.instances] == ["ev", "z1"]  # every zone type, not only simple
    z1 = plan.instances[1]
    assert [s.subnet for s in z1.subnets] == ["z1-10.0.1.0-24", "z1-2001:db8:1::-64"]
    assert z1.mtu == 1500 and not z1.shared_segment
    ev = plan.instances[0]
    assert ev.mtu == 1450 and ev.shared_segment
    assert any("z1-10.0.2.0-24" in w and "no gateway" in w for w in plan.warnings)
    assert any("z1-2001:db8:2::-48" in w and "/64" in w for w in plan.warnings)


def test_zone_nodes_are_respected():
    assert [i.zone for i in plan_dhcp(running(nodes="node2").config, "node1").instances] == ["ev"]
    assert [i.zone for i in plan_dhcp(running(nodes="node2").config, "node2").instances] == ["ev", "z1"]


def test_planned_links_decide_who_holds_the_gateway_and_the_mtu():
    gw = ipaddress.ip_interface("10.0.1.1/24")
    links = [Bridge(name="v1", addresses=(gw,), mtu=1400), Bridge(name="e1")]  # e1 without gateway
    plan = plan_dhcp(running().config, "node1", links)
    assert [i.zone for i in plan.instances] == ["z1"]
    assert [s.subnet for s in plan.instances[0].subnets] == ["z1-10.0.1.0-24"]
    assert plan.instances[0].mtu == 1400


def test_vnets_in_a_vrf_run_their_server_in_it():
    gw = ipaddress.ip_interface("10.5.0.1/24")
    plan = plan_dhcp(running().config, "node1", [Bridge(name="e1", addresses=(gw,), vrf="vrfvx_ev")])
    assert [(i.zone, i.vrf) for i in plan.instances] == [("ev", "vrfvx_ev")]
    files = render_instance(plan.instances[0], Path("/d"), Path("/l"))
    assert files["vrf"].splitlines()[-1] == "vrfvx_ev"


def test_hosts_come_from_ipam_entries_of_the_zone():
    config = running().config
    sub4, sub6 = config.subnets["z1-10.0.1.0-24"], config.subnets["z1-2001:db8:1::-64"]
    nodhcp = config.subnets["nodhcp-10.9.0.0-24"]
    ip = ipaddress.ip_address
    allocs = [
        Allocation(sub4, ip("10.0.1.1"), IpEntry(gateway=True)),
        Allocation(sub4, ip("10.0.1.100"), IpEntry(mac="BC:24:11:00:00:01", vmid="100")),
        Allocation(sub6, ip("2001:db8:1::100"), IpEntry(mac="bc:24:11:00:00:01", vmid="100")),
        Allocation(sub4, ip("10.0.1.101"), IpEntry(vmid="101")),  # no MAC: no mapping
        Allocation(nodhcp, ip("10.9.0.5"), IpEntry(mac="bc:24:11:00:00:09")),  # other zone
    ]
    (ev, z1) = with_hosts(plan_dhcp(config, "node1").instances, allocs)
    assert ev.hosts == ()
    assert z1.hosts == (DhcpHost(mac="bc:24:11:00:00:01", ips=(ip("10.0.1.100"), ip("2001:db8:1::100"))),)


def test_plan_is_deterministic():
    assert plan_dhcp(running().config, "node1") == plan_dhcp(running().config, "node1")


@pytest.fixture
def z1_files():
    config = running().config
    sub4 = config.subnets["z1-10.0.1.0-24"]
    ip = ipaddress.ip_address
    allocs = [Allocation(sub4, ip("10.0.1.100"), IpEntry(mac="bc:24:11:00:00:01", vmid="100"))]
    (_ev, z1) = with_hosts(plan_dhcp(config, "node1").instances, allocs)
    return z1


def test_rendered_files_match_upstream_layout(z1_files):
    files = render_instance(z1_files, Path("/etc/dnsmasq.d/z1"), Path("/var/lib/misc/dnsmasq.z1.leases"))
    assert sorted(files) == ["00-default.conf", "10-v1.conf", "ethers"]
    default = files["00-default.conf"].splitlines()
    for line in (
        "except-interface=lo",
        "enable-ra",
        "quiet-ra",
        "bind-dynamic",
        "no-hosts",
        "port=0",
        "dhcp-leasefile=/var/lib/misc/dnsmasq.z1.leases",
        "dhcp-hostsfile=/etc/dnsmasq.d/z1/ethers",
        "dhcp-ignore=tag:!known",
        "dhcp-option=26,1500",
        "ra-param=*,mtu:1500,0",
    ):
        assert line in default
    assert files["10-v1.conf"].splitlines()[1:] == [
        "dhcp-range=set:z1-10.0.1.0-24,10.0.1.0,static,255.255.255.0,infinite",
        "dhcp-option=tag:z1-10.0.1.0-24,option:router,10.0.1.1",
        "dhcp-option=tag:z1-10.0.1.0-24,option:dns-server,10.0.1.53",
        "dhcp-range=set:z1-2001:db8:1::-64,2001:db8:1::,static,64,infinite",
        "dhcp-option=tag:z1-2001:db8:1::-64,option6:dns-server,[2001:db8:1::53]",
        "interface=v1",
    ]
    assert files["ethers"].splitlines()[1:] == ["bc:24:11:00:00:01,10.0.1.100"]


def test_dynamic_leases_only_on_node_local_segments(z1_files):
    files = render_instance(z1_files, Path("/d"), Path("/l"), dynamic=True)
    assert "dhcp-ignore=tag:!known" not in files["00-default.conf"]
    assert "dhcp-range=set:z1-10.0.1.0-24,10.0.1.100,10.0.1.200,255.255.255.0,1h" in files["10-v1.conf"]
    ev = plan_dhcp(running().config, "node1").instances[0]
    files = render_instance(ev, Path("/d"), Path("/l"), dynamic=True)
    assert "dhcp-ignore=tag:!known" in files["00-default.conf"]  # a shared segment stays static


def test_planner_contributes_dhcp_and_ipsets_and_render_writes_them():
    from sdnkit.plan.facts import NodeFacts
    from sdnkit.plan.firewall import with_ipam_state
    from sdnkit.plan.planner import plan_node
    from sdnkit.render.services import node_service_files

    cfg = running()
    plan = plan_node(cfg, NodeFacts(node="node1"))
    assert "z1" in [i.zone for i in plan.dhcp]  # the simple zone's bridge holds its gateways
    assert {s.name for s in plan.ipsets} >= {"v1-all", "v1-gateway", "v1-no-gateway", "v1-dhcp"}
    sub4 = cfg.config.subnets["z1-10.0.1.0-24"]
    alloc = Allocation(sub4, ipaddress.ip_address("10.0.1.100"), IpEntry(mac="bc:24:11:00:00:01", vmid="100"))
    plan = with_ipam_state(plan, [alloc])
    files = node_service_files(plan)
    assert files["dnsmasq.d/z1/ethers"].splitlines()[1:] == ["bc:24:11:00:00:01,10.0.1.100"]
    assert "dhcp-hostsfile=/etc/dnsmasq.d/z1/ethers" in files["dnsmasq.d/z1/00-default.conf"]
    assert "set guest-ipam-100-v4 {" in files["sdnkit-ipsets.nft"]
