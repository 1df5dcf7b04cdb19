"""QinQ zone: a service VLAN (``tag``) of the uplink bridge carries customer VLANs (spec §3.4).

Per zone: a VLAN-aware bridge ``z_<zone>`` whose ports are the service-VLAN port and one end of
the veth pair ``ln_<zone>``/``pr_<zone>`` (for the one vnet without a tag). The service-VLAN port
depends on the uplink bridge: an OVS ``dot1q-tunnel`` internal port ``sv_<zone>``, the VLAN device
``<bridge>.<tag>`` of a VLAN-aware bridge, or the VLAN device ``sv_<zone>`` on the bridge's first
physical port. ``vlan-protocol`` selects 802.1ad service tags. Per vnet: a bridge whose port is
``z_<zone>.<vnet tag>`` (or ``pr_<zone>`` without a tag).
"""

from __future__ import annotations

from sdnkit.config.model import Vnet, Zone
from sdnkit.errors import PlanError
from sdnkit.plan.desired import AnyLink, Bridge, Existing, LinkRole, OvsIntPort, Veth, Vlan
from sdnkit.plan.mtu import bridged_mtu
from sdnkit.plan.zones.base import VLAN_AWARE_VIDS, Uplink, VnetPlan, ZoneEnv, vids
from sdnkit.plan.zones.uplink import uplink_bridge
from sdnkit.plan.zones.uplink import uplink_inputs as node_inputs

__all__ = ["node_inputs", "plan_vnet"]

DEFAULT_PROTOCOL = "802.1q"


def _service_port(zone: Zone, uplink: Uplink, stag: int) -> tuple[list[AnyLink], str]:
    """The link(s) that carry the service VLAN, and the port name for ``z_<zone>``."""
    mtu = bridged_mtu(zone)
    proto = zone.vlan_protocol
    if uplink.is_ovs:
        name = f"sv_{zone.id}"
        options = f"vlan_mode=dot1q-tunnel tag={stag} other_config:qinq-ethtype={proto or DEFAULT_PROTOCOL}"
        return [
            OvsIntPort(
                name=name, role=LinkRole.ZONE_PORT, ovs_bridge=uplink.name, ovs_options=options, mtu=mtu
            ),
            # QinQ zones share one ``ovs_ports`` line (ovs_port_lines left empty: see plan/links.py)
            Existing(name=uplink.name, role=LinkRole.UPLINK, ovs_ports=(name,)),
        ], name
    if uplink.vlan_aware:
        name = f"{uplink.name}.{stag}"
        links: list[AnyLink] = [
            Vlan(
                name=name,
                role=LinkRole.UPLINK,
                raw_device=uplink.name,
                vlan_id=stag,
                protocol=proto or DEFAULT_PROTOCOL,
                implicit=True,
            )
        ]
        if proto:  # the bridge must speak the service tag's protocol (fix #4683)
            links.append(Existing(name=uplink.name, role=LinkRole.UPLINK, vlan_protocol=proto))
        return links, name
    if not uplink.ports:
        raise PlanError(
            f'zone "{zone.id}": bridge "{uplink.name}" has no physical port for the service VLAN',
            obj=f'zone "{zone.id}"',
            key="bridge",
        )
    name = f"sv_{zone.id}"
    sv = Vlan(
        name=name,
        role=LinkRole.ZONE_PORT,
        raw_device=uplink.ports[0],
        vlan_id=stag,
        protocol=proto or DEFAULT_PROTOCOL,
    )
    return [sv], name


def _zone_links(env: ZoneEnv, zone: Zone) -> tuple[AnyLink, ...]:
    uplink = uplink_bridge(env.require())
    if zone.tag is None:
        raise PlanError(
            f'zone "{zone.id}": a qinq zone needs a service tag', obj=f'zone "{zone.id}"', key="tag"
        )
    links, port = _service_port(zone, uplink, zone.tag)
    ln, pr = f"ln_{zone.id}", f"pr_{zone.id}"
    links += [
        Veth(name=ln, role=LinkRole.ZONE_PORT, peer=pr),
        Veth(name=pr, role=LinkRole.ZONE_PORT, peer=ln),
        Bridge(
            name=f"z_{zone.id}",
            role=LinkRole.ZONE_BRIDGE,
            ports=(port, ln),
            vlan_aware=True,
            vids=VLAN_AWARE_VIDS,
            mtu=bridged_mtu(zone),
        ),
    ]
    return tuple(links)


def plan_vnet(env: ZoneEnv, zone: Zone, vnet: Vnet) -> VnetPlan:
    zone_links = env.shared(lambda: _zone_links(env, zone))
    zbridge = f"z_{zone.id}"
    if vnet.tag:
        port = f"{zbridge}.{vnet.tag}"
        cvlan: tuple[AnyLink, ...] = (
            Vlan(name=port, role=LinkRole.ZONE_PORT, raw_device=zbridge, vlan_id=vnet.tag, implicit=True),
        )
    else:
        port, cvlan = f"pr_{zone.id}", ()
    bridge = Bridge(
        name=vnet.id,
        role=LinkRole.VNET,
        ports=(port,),
        vlan_aware=vnet.vlanaware,
        vids=vids(vnet),
        mtu=bridged_mtu(zone),
        alias=vnet.alias,
        isolate_guest_ports=vnet.isolate_ports,
        guest_port_learning=not zone.bridge_disable_mac_learning,
    )
    return VnetPlan(links=(bridge, *cvlan, *zone_links))
