"""VLAN zones on the three kinds of uplink bridge (spec §3.3)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # plan_support.py beside the tests

from plan_support import (
    OVS_UPLINK,
    UPLINK,
    VLAN_AWARE_UPLINK,
    config,
    facts,
    link,
    plan,
    render,
    stanza,
    stanza_names,
)

from sdnkit.plan.desired import Bridge, Vlan


def vlan_zone(*vnets: tuple[str, int], mtu: int | None = None, vlanaware: bool = False) -> object:
    zone = {"type": "vlan", "bridge": "vmbr0", **({"mtu": mtu} if mtu else {})}
    return config(
        zones={"z1": zone},
        vnets={
            name: {"type": "vnet", "zone": "z1", "tag": tag, **({"vlanaware": 1} if vlanaware else {})}
            for name, tag in vnets
        },
    )


def test_plain_bridge_uses_a_legacy_vlan_bridge_and_a_veth_pair() -> None:
    sdn, _ = render(vlan_zone(("v1", 100), mtu=9000))
    assert stanza_names(sdn) == ["ln_v1", "pr_v1", "v1", "vmbr0v100"]
    assert stanza(sdn, "vmbr0v100") == [
        "bridge_ports  eth0.100 eth1.100 pr_v1",
        "bridge_stp off",
        "bridge_fd 0",
        "mtu 9000",
    ]
    assert stanza(sdn, "ln_v1") == ["link-type veth", "veth-peer-name pr_v1", "mtu 9000"]
    assert stanza(sdn, "pr_v1") == ["link-type veth", "veth-peer-name ln_v1", "mtu 9000"]
    assert stanza(sdn, "v1") == ["bridge_ports ln_v1", "bridge_stp off", "bridge_fd 0", "mtu 9000"]


def test_plain_bridge_vlan_devices_are_planned_but_implicit() -> None:
    result = plan(vlan_zone(("v1", 100)))
    nic_vlan = link(result, "eth1.100")
    assert isinstance(nic_vlan, Vlan) and (nic_vlan.raw_device, nic_vlan.vlan_id, nic_vlan.implicit) == (
        "eth1",
        100,
        True,
    )


def test_vlan_aware_bridge_uses_its_vlan_device() -> None:
    sdn, _ = render(vlan_zone(("v1", 100), ("v2", 200)), facts(VLAN_AWARE_UPLINK))
    assert stanza_names(sdn) == ["v1", "v2"]
    assert stanza(sdn, "v2") == ["bridge_ports vmbr0.200", "bridge_stp off", "bridge_fd 0"]


def test_vlan_aware_vnet() -> None:
    sdn, _ = render(vlan_zone(("v1", 100), vlanaware=True), facts(VLAN_AWARE_UPLINK))
    assert stanza(sdn, "v1")[-2:] == ["bridge-vlan-aware yes", "bridge-vids 2-4094"]


def test_ovs_bridge_gets_a_tagged_internal_port_per_vnet() -> None:
    sdn, _ = render(vlan_zone(("v1", 100), ("v2", 200), mtu=9000), facts(OVS_UPLINK))
    assert stanza(sdn, "ln_v1") == [
        "ovs_type OVSIntPort",
        "ovs_bridge vmbr0",
        "ovs_mtu 9000",
        "ovs_options tag=100",
    ]
    assert stanza(sdn, "vmbr0") == ["ovs_ports ln_v1", "ovs_ports ln_v2"]  # one line per vnet, as PVE
    assert stanza(sdn, "v2")[0] == "bridge_ports ln_v2"


def test_ovs_vlan_aware_vnet_is_a_dot1q_tunnel() -> None:
    sdn, _ = render(vlan_zone(("v1", 100), vlanaware=True), facts(OVS_UPLINK))
    assert (
        stanza(sdn, "ln_v1")[-1]
        == "ovs_options vlan_mode=dot1q-tunnel other_config:qinq-ethtype=802.1q tag=100"
    )


def test_mac_learning_off_is_for_guest_ports() -> None:
    cfg = config(
        zones={"z1": {"type": "vlan", "bridge": "vmbr0", "bridge-disable-mac-learning": 1}},
        vnets={"v1": {"type": "vnet", "zone": "z1", "tag": 5}},
    )
    bridge = link(plan(cfg), "v1")
    assert isinstance(bridge, Bridge) and not bridge.guest_port_learning


def test_missing_bridge_skips_the_zone_with_a_warning() -> None:
    cfg = config(
        zones={"z1": {"type": "vlan", "bridge": "vmbr9"}, "z2": {"type": "simple"}},
        vnets={"v1": {"type": "vnet", "zone": "z1", "tag": 5}, "v2": {"type": "vnet", "zone": "z2"}},
    )
    result = plan(cfg, facts(UPLINK))
    assert [x.name for x in result.links] == ["v2"]
    assert result.warnings == ('zone "z1": vnet "v1": zone "z1": bridge "vmbr9" does not exist on node "n1"',)


def test_two_zones_cannot_share_one_vlan_device() -> None:
    """Same bridge and tag in two zones: the second vnet would steal the first one's port."""
    cfg = config(
        zones={"za": {"type": "vlan", "bridge": "vmbr0"}, "zb": {"type": "vlan", "bridge": "vmbr0"}},
        vnets={
            "a1": {"type": "vnet", "zone": "za", "tag": 7},
            "b1": {"type": "vnet", "zone": "zb", "tag": 7},
        },
    )
    result = plan(cfg, facts(VLAN_AWARE_UPLINK))
    assert link(result, "a1") is not None and result.link("b1") is None
    assert any('"vmbr0.7"' in w and "a1" in w for w in result.warnings)


def test_two_zones_cannot_share_one_legacy_vlan_bridge() -> None:
    cfg = config(
        zones={"za": {"type": "vlan", "bridge": "vmbr0"}, "zb": {"type": "vlan", "bridge": "vmbr0"}},
        vnets={
            "a1": {"type": "vnet", "zone": "za", "tag": 7},
            "b1": {"type": "vnet", "zone": "zb", "tag": 7},
        },
    )
    result = plan(cfg)
    assert result.link("b1") is None and result.link("ln_b1") is None
    assert any('bridge "vmbr0v7" is already planned with other ports' in w for w in result.warnings)
