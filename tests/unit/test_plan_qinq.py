"""QinQ zones: service VLAN on the uplink, customer VLANs on the zone bridge (spec §3.4)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # plan_support.py beside the tests

from plan_support import (
    OVS_UPLINK,
    VLAN_AWARE_UPLINK,
    config,
    facts,
    link,
    plan,
    render,
    stanza,
    stanza_names,
)

from sdnkit.plan.desired import Vlan

ZONE_BRIDGE = [
    "bridge-stp off",
    "bridge-ports {} ln_z1",
    "bridge-fd 0",
    "bridge-vlan-aware yes",
    "bridge-vids 2-4094",
]


def qinq(protocol: str | None = None, mtu: int | None = None, **vnets: dict) -> object:
    zone = {"type": "qinq", "bridge": "vmbr0", "tag": 10}
    zone |= {"vlan-protocol": protocol} if protocol else {}
    zone |= {"mtu": mtu} if mtu else {}
    return config(
        zones={"z1": zone},
        vnets={name: {"type": "vnet", "zone": "z1", **opts} for name, opts in vnets.items()}
        or {"v1": {"type": "vnet", "zone": "z1", "tag": 100}},
    )


def test_plain_bridge_service_vlan_on_the_first_nic() -> None:
    sdn, _ = render(qinq())
    assert stanza_names(sdn) == ["ln_z1", "pr_z1", "sv_z1", "v1", "z_z1"]
    assert stanza(sdn, "sv_z1") == ["vlan-raw-device eth0", "vlan-id 10"]
    assert stanza(sdn, "z_z1") == [line.format("sv_z1") for line in ZONE_BRIDGE]
    assert stanza(sdn, "ln_z1") == ["link-type veth", "veth-peer-name pr_z1"]
    assert stanza(sdn, "v1") == ["bridge_ports z_z1.100", "bridge_stp off", "bridge_fd 0"]
    customer = link(plan(qinq()), "z_z1.100")
    assert isinstance(customer, Vlan) and customer.implicit and customer.raw_device == "z_z1"


def test_plain_bridge_802_1ad() -> None:
    sdn, _ = render(qinq("802.1ad"))
    assert stanza(sdn, "sv_z1") == ["vlan-raw-device eth0", "vlan-id 10", "vlan-protocol 802.1ad"]


def test_vlan_aware_bridge_carries_the_service_vlan_itself() -> None:
    sdn, _ = render(qinq(), facts(VLAN_AWARE_UPLINK))
    assert stanza_names(sdn) == ["ln_z1", "pr_z1", "v1", "z_z1"]
    assert stanza(sdn, "z_z1") == [line.format("vmbr0.10") for line in ZONE_BRIDGE]


def test_vlan_aware_bridge_802_1ad_sets_the_bridge_and_vlan_protocol() -> None:
    sdn, _ = render(qinq("802.1ad"), facts(VLAN_AWARE_UPLINK))
    assert stanza(sdn, "vmbr0") == ["bridge-vlan-protocol 802.1ad"]
    assert stanza(sdn, "vmbr0.10") == ["vlan-protocol 802.1ad"]


def test_ovs_service_port_and_one_shared_ovs_ports_line() -> None:
    cfg = config(
        zones={
            "z1": {"type": "qinq", "bridge": "vmbr0", "tag": 10, "mtu": 1600},
            "z2": {"type": "qinq", "bridge": "vmbr0", "tag": 20, "vlan-protocol": "802.1ad"},
        },
        vnets={
            "va": {"type": "vnet", "zone": "z1", "tag": 5},
            "vb": {"type": "vnet", "zone": "z2", "tag": 5},
        },
    )
    sdn, _ = render(cfg, facts(OVS_UPLINK))
    assert stanza(sdn, "sv_z1") == [
        "ovs_type OVSIntPort",
        "ovs_bridge vmbr0",
        "ovs_mtu 1600",
        "ovs_options vlan_mode=dot1q-tunnel tag=10 other_config:qinq-ethtype=802.1q",
    ]
    assert (
        stanza(sdn, "sv_z2")[-1]
        == "ovs_options vlan_mode=dot1q-tunnel tag=20 other_config:qinq-ethtype=802.1ad"
    )
    assert stanza(sdn, "vmbr0") == ["ovs_ports sv_z1 sv_z2"]
    assert stanza(sdn, "z_z1")[0] == "mtu 1600"


def test_ovs_vlan_zone_and_qinq_zone_share_the_bridge() -> None:
    cfg = config(
        zones={
            "vz": {"type": "vlan", "bridge": "vmbr0"},
            "qz": {"type": "qinq", "bridge": "vmbr0", "tag": 10},
        },
        vnets={
            "va": {"type": "vnet", "zone": "vz", "tag": 5},
            "vb": {"type": "vnet", "zone": "qz", "tag": 6},
        },
    )
    sdn, _ = render(cfg, facts(OVS_UPLINK))
    assert stanza(sdn, "vmbr0") == ["ovs_ports ln_va", "ovs_ports sv_qz"]


def test_untagged_vnet_uses_the_zone_veth() -> None:
    sdn, _ = render(qinq(v1={"tag": 100}, v2={"vlanaware": 1}))
    assert stanza(sdn, "v2") == [
        "bridge_ports pr_z1",
        "bridge_stp off",
        "bridge_fd 0",
        "bridge-vlan-aware yes",
        "bridge-vids 2-4094",
    ]


def test_mtu_is_on_zone_bridge_and_vnets_not_on_the_service_vlan() -> None:
    sdn, _ = render(qinq(mtu=1600))
    assert stanza(sdn, "v1")[-1] == "mtu 1600"
    assert stanza(sdn, "z_z1")[0] == "mtu 1600"
    assert not any(x.startswith("mtu") for x in stanza(sdn, "sv_z1") + stanza(sdn, "ln_z1"))


def test_plain_bridge_without_nics_is_refused() -> None:
    bare = "auto vmbr0\niface vmbr0 inet manual\n\tbridge-ports none\n"
    result = plan(qinq(), facts(bare))
    assert result.links == ()
    assert any("no physical port" in w for w in result.warnings)
