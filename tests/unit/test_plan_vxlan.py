"""VXLAN zones: static peers or a fabric, MTU from the underlay (spec §3.5, §2.10)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # plan_support.py beside the tests

from plan_support import config, facts, plan, render, stanza

PEERS = "192.0.2.1,192.0.2.2,192.0.2.3"
FABRIC = {
    "f1": {"type": "openfabric_fabric", "ip_prefix": "198.51.100.0/24"},
    "f1_n2": {"type": "openfabric_node", "ip": "198.51.100.2", "interfaces": ["name=ens20"]},
    "f1_n1": {"type": "openfabric_node", "ip": "198.51.100.1", "interfaces": ["name=ens20"]},
}


def vxlan(vnet: dict | None = None, **zone: object) -> object:
    return config(
        zones={"z1": {"type": "vxlan", **({"peers": PEERS} | zone)}},
        vnets={"v1": {"type": "vnet", "zone": "z1", "tag": 100, **(vnet or {})}},
    )


def test_peers_without_ourselves_are_the_flood_list() -> None:
    sdn, _ = render(vxlan())
    assert stanza(sdn, "vxlan_v1") == [
        "vxlan-id 100",
        "vxlan_remoteip 192.0.2.2",
        "vxlan_remoteip 192.0.2.3",
        "mtu 1450",
    ]
    assert stanza(sdn, "v1") == ["bridge_ports vxlan_v1", "bridge_stp off", "bridge_fd 0", "mtu 1450"]


def test_vxlan_port_and_alias_and_vlan_aware_vnet() -> None:
    sdn, _ = render(vxlan({"alias": "storage", "vlanaware": 1}, **{"vxlan-port": 6000}))
    assert stanza(sdn, "vxlan_v1")[-2:] == ["vxlan-port 6000", "mtu 1450"]
    assert stanza(sdn, "v1")[3:] == [
        "bridge-vlan-aware yes",
        "bridge-vids 2-4094",
        "mtu 1450",
        "alias storage",
    ]


def test_mtu_follows_the_underlay_interface_mtu() -> None:
    jumbo = "auto vmbr0\niface vmbr0 inet static\n\taddress 192.0.2.1/24\n\tbridge-ports eth0\n\tmtu 9000\n"
    sdn, _ = render(vxlan(), facts(jumbo))
    assert stanza(sdn, "vxlan_v1")[-1] == "mtu 8950"
    sdn, _ = render(vxlan(mtu=1400), facts(jumbo))  # the zone's mtu wins
    assert stanza(sdn, "vxlan_v1")[-1] == "mtu 1400"


def test_remote_peers_are_reached_through_the_route() -> None:
    """No peer is local: the route towards the first peer tells the local address (not flooded to)."""
    sdn, _ = render(vxlan(peers="203.0.113.1,203.0.113.2"))
    assert stanza(sdn, "vxlan_v1")[1:3] == ["vxlan_remoteip 203.0.113.1", "vxlan_remoteip 203.0.113.2"]


def test_fabric_peers_and_local_tunnel_address() -> None:
    cfg = config(
        zones={"z1": {"type": "vxlan", "fabric": "f1"}},
        vnets={"v1": {"type": "vnet", "zone": "z1", "tag": 100}},
        fabrics=FABRIC,
    )
    sdn, _ = render(cfg)
    assert stanza(sdn, "vxlan_v1") == [
        "vxlan-id 100",
        "vxlan_remoteip 198.51.100.2",
        "vxlan-local-tunnelip 198.51.100.1",
        "mtu 1450",
    ]


def test_fabric_without_this_node_skips_the_zone() -> None:
    cfg = config(
        zones={"z1": {"type": "vxlan", "fabric": "f1"}},
        vnets={"v1": {"type": "vnet", "zone": "z1", "tag": 100}},
        fabrics=FABRIC,
    )
    result = plan(cfg, facts(node="n9"))
    assert result.link("v1") is None
    assert any('fabric "f1": node "n9" is not a member' in w for w in result.warnings)


def test_vnet_without_tag_is_refused() -> None:
    cfg = config(
        zones={"z1": {"type": "vxlan", "peers": PEERS}}, vnets={"v1": {"type": "vnet", "zone": "z1"}}
    )
    result = plan(cfg)
    assert result.links == ()
    assert any("needs a tag" in w for w in result.warnings)
