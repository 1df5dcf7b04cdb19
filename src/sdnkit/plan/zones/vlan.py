"""VLAN zone: each vnet is one VLAN of an existing uplink bridge (spec §3.3).

How the VLAN reaches the vnet bridge depends on the uplink bridge:

* Open vSwitch: an internal port ``ln_<vnet>`` tagged with the VLAN, added to the OVS bridge;
* VLAN-aware Linux bridge: the VLAN device ``<bridge>.<tag>`` is the vnet bridge's port;
* plain Linux bridge: PVE's legacy per-VLAN bridge ``<bridge>v<tag>`` holds ``<nic>.<tag>`` of
  every physical port plus one end of a veth pair ``ln_<vnet>``/``pr_<vnet>``; the other end is
  the vnet bridge's port.
"""

from __future__ import annotations

from sdnkit.config.model import Vnet, Zone
from sdnkit.plan.desired import AnyLink, Bridge, Existing, LinkRole, OvsIntPort, Veth, Vlan
from sdnkit.plan.mtu import bridged_mtu
from sdnkit.plan.zones.base import Uplink, VnetPlan, ZoneEnv, require_tag, vids
from sdnkit.plan.zones.uplink import uplink_bridge
from sdnkit.plan.zones.uplink import uplink_inputs as node_inputs

__all__ = ["node_inputs", "plan_vnet"]


def _ovs(vnet: Vnet, bridge: str, tag: int, mtu: int | None) -> tuple[list[AnyLink], str]:
    port = f"ln_{vnet.id}"
    options = (
        f"vlan_mode=dot1q-tunnel other_config:qinq-ethtype=802.1q tag={tag}"
        if vnet.vlanaware
        else f"tag={tag}"
    )
    links: list[AnyLink] = [
        OvsIntPort(name=port, role=LinkRole.VNET_PORT, ovs_bridge=bridge, ovs_options=options, mtu=mtu),
        Existing(name=bridge, role=LinkRole.UPLINK, ovs_ports=(port,), ovs_port_lines=((port,),)),
    ]
    return links, port


def _legacy(vnet: Vnet, uplink: Uplink, tag: int, mtu: int | None) -> tuple[list[AnyLink], str]:
    ln, pr = f"ln_{vnet.id}", f"pr_{vnet.id}"
    nic_vlans = [f"{nic}.{tag}" for nic in uplink.ports]
    links: list[AnyLink] = [
        Veth(name=ln, role=LinkRole.VNET_PORT, peer=pr, mtu=mtu),
        Veth(name=pr, role=LinkRole.VNET_PORT, peer=ln, mtu=mtu),
        Bridge(name=f"{uplink.name}v{tag}", role=LinkRole.LEGACY_BRIDGE, ports=(*nic_vlans, pr), mtu=mtu),
    ]
    links += [
        Vlan(name=f"{nic}.{tag}", role=LinkRole.UPLINK, raw_device=nic, vlan_id=tag, implicit=True)
        for nic in uplink.ports
    ]
    return links, ln


def plan_vnet(env: ZoneEnv, zone: Zone, vnet: Vnet) -> VnetPlan:
    uplink = uplink_bridge(env.require())
    tag = require_tag(zone, vnet)
    mtu = bridged_mtu(zone)
    if uplink.is_ovs:
        links, port = _ovs(vnet, uplink.name, tag, mtu)
    elif uplink.vlan_aware:
        port = f"{uplink.name}.{tag}"
        links = [Vlan(name=port, role=LinkRole.UPLINK, raw_device=uplink.name, vlan_id=tag, implicit=True)]
    else:
        links, port = _legacy(vnet, uplink, tag, mtu)
    bridge = Bridge(
        name=vnet.id,
        role=LinkRole.VNET,
        ports=(port,),
        vlan_aware=vnet.vlanaware,
        vids=vids(vnet),
        mtu=mtu,
        alias=vnet.alias,
        isolate_guest_ports=vnet.isolate_ports,
        guest_port_learning=not zone.bridge_disable_mac_learning,
    )
    return VnetPlan(links=(bridge, *links))
