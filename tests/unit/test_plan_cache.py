"""The planner's and renderer's caches never change output: any node order, cold or warm.

Planning keeps node-independent parts with the configuration (zone blocks, merged link layouts,
IP sets) and the renderer keeps stanza texts per link object. Each node's files must be the
same bytes whether it is planned alone on a freshly parsed configuration (cold) or after other
nodes of the same configuration object (warm), in any order, and the same as in a process
where the other nodes came first.
"""

from __future__ import annotations

import gc
import itertools
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # plan_support.py beside the tests

from plan_support import OVS_UPLINK, UPLINK, VLAN_AWARE_UPLINK

from sdnkit.config.running import RunningConfig
from sdnkit.plan.facts import NodeFacts
from sdnkit.plan.factsfile import build_facts
from sdnkit.plan.interfaces_file import parse_interfaces
from sdnkit.plan.planner import plan_node
from sdnkit.render import ifupdown
from sdnkit.render.frr import render_frr
from sdnkit.render.ifupdown import render_interfaces

PEERS = "192.0.2.1,192.0.2.2,192.0.2.3"
CONFIG: dict[str, Any] = {
    "version": 3,
    "zones": {
        "ids": {
            "simp": {"type": "simple", "dhcp": "dnsmasq"},
            "vlz": {"type": "vlan", "bridge": "vmbr0"},
            "qz": {"type": "qinq", "bridge": "vmbr0", "tag": 10},
            "vxz": {"type": "vxlan", "peers": PEERS, "nodes": "n1,n2"},
            "fvx": {"type": "vxlan", "fabric": "of"},
            "ev": {"type": "evpn", "controller": "ctl", "vrf-vxlan": 100, "exitnodes": "n2,n3"},
        }
    },
    "vnets": {
        "ids": {
            **{f"s{i}": {"type": "vnet", "zone": "simp"} for i in range(3)},
            **{f"l{i}": {"type": "vnet", "zone": "vlz", "tag": 100 + i} for i in range(3)},
            **{f"q{i}": {"type": "vnet", "zone": "qz", "tag": 200 + i} for i in range(3)},
            **{f"x{i}": {"type": "vnet", "zone": "vxz", "tag": 300 + i} for i in range(3)},
            **{f"f{i}": {"type": "vnet", "zone": "fvx", "tag": 350 + i} for i in range(2)},
            **{f"e{i}": {"type": "vnet", "zone": "ev", "tag": 400 + i} for i in range(3)},
            "eth1": {"type": "vnet", "zone": "simp"},  # collides with n1's NIC only
            "lost": {"type": "vnet", "zone": "gone"},
        }
    },
    "subnets": {
        "ids": {
            **{
                f"simp-10.{i}.0.0-24": {
                    "type": "subnet",
                    "vnet": f"s{i}",
                    "gateway": f"10.{i}.0.1",
                    "snat": 1,
                    "dhcp-range": [f"start-address=10.{i}.0.100,end-address=10.{i}.0.200"],
                }
                for i in range(3)
            },
            "simp-2001:db8:5::-64": {"type": "subnet", "vnet": "s1", "gateway": "2001:db8:5::1", "snat": 1},
            **{
                f"ev-10.9{i}.0.0-24": {
                    "type": "subnet",
                    "vnet": f"e{i}",
                    "gateway": f"10.9{i}.0.1",
                    "snat": 1,
                }
                for i in range(3)
            },
        }
    },
    "controllers": {"ids": {"ctl": {"type": "evpn", "asn": 65000, "peers": PEERS}}},
    "fabrics": {
        "ids": {
            "of": {"type": "openfabric_fabric", "ip_prefix": "172.20.3.0/24"},
            "of_n1": {"type": "openfabric_node", "ip": "172.20.3.1", "interfaces": ["name=ens20"]},
            "of_n2": {"type": "openfabric_node", "ip": "172.20.3.2", "interfaces": ["name=ens20"]},
        }
    },
}
NODES: dict[str, tuple[str, dict[str, Any]]] = {
    # n1: plain Linux uplink (eth0, eth1); n2: VLAN-aware, MTU 9000; n3: OVS, no route to the
    # peers and no egress
    "n1": (UPLINK, {"underlay_iface": "vmbr0"}),
    "n2": (
        VLAN_AWARE_UPLINK.replace("192.0.2.1/24", "192.0.2.2/24\n\tmtu 9000"),
        {"underlay_iface": "vmbr0"},
    ),
    "n3": (OVS_UPLINK.replace("192.0.2.1/", "192.0.2.3/"), {"underlay_iface": "eth9"}),
}


def facts(node: str) -> NodeFacts:
    interfaces, extra = NODES[node]
    return build_facts({"node": node, "mac": "02:00:00:00:00:01", **extra}, parse_interfaces(interfaces))


def files(running: RunningConfig, node: str) -> tuple[str, str, tuple[str, ...]]:
    plan = plan_node(running, facts(node))
    assert plan.frr is not None
    return render_interfaces(plan), render_frr(plan.frr), plan.warnings


def fresh() -> RunningConfig:
    return RunningConfig.loads(json.dumps(CONFIG))


def cold() -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """Each node alone, on its own freshly parsed configuration."""
    return {node: files(fresh(), node) for node in NODES}


def test_the_config_exercises_every_cached_part() -> None:
    out = cold()
    sdn1, _, warnings1 = out["n1"]
    assert "vxlan_remoteip 192.0.2.2" in sdn1 and "auto f0" in sdn1 and "iface ens20 inet static" in sdn1
    assert "SNAT --to-source 192.0.2.1" in sdn1 and "auto eth1" not in sdn1
    assert (
        'zone "simp": vnet "eth1": interface "eth1" already exists on the node and is not ours' in warnings1
    )
    assert "auto eth1" in out["n2"][0] and "mtu 8950" in out["n2"][0] and "ovs_ports" in out["n3"][0]
    assert any("no IPv4 egress route" in w for w in out["n3"][2])
    assert len({sdn for sdn, _, _ in out.values()}) == 3


def test_any_node_order_on_one_config_gives_the_cold_bytes() -> None:
    expected = cold()
    for order in itertools.permutations(NODES):
        running = fresh()
        got = {node: files(running, node) for node in order}
        assert got == expected, order
        assert {node: files(running, node) for node in reversed(order)} == expected  # warm again


def test_a_config_planned_for_other_nodes_first_gives_the_cold_bytes() -> None:
    """The renderer's stanza cache outlives configurations: a new one must not reuse old texts."""
    expected = cold()
    changed = json.loads(json.dumps(CONFIG))
    changed["zones"]["ids"]["vlz"]["mtu"] = 9000
    running = RunningConfig.loads(json.dumps(changed))
    other = {node: files(running, node) for node in NODES}
    assert other["n1"][0] != expected["n1"][0]
    assert {node: files(fresh(), node) for node in NODES} == expected


def test_cached_texts_go_with_their_links() -> None:
    gc.collect()
    before = len(ifupdown.STANZA_TEXT.texts)
    running = fresh()
    files(running, "n1")
    assert len(ifupdown.STANZA_TEXT.texts) > before
    del running
    gc.collect()
    assert len(ifupdown.STANZA_TEXT.texts) == before
