"""FRR for a BGP controller bound to this node: the ``BGP`` peer group (spec §3.8).

With a ``loopback`` the node announces its loopback address and rewrites the source of BGP
routes to it (``correct_src``); with ``ebgp`` the peers are external (optionally multihop).

On an EVPN exit node whose zones' VRFs are leaked into the default VRF, the peers also get
``next-hop-self`` (not upstream's): the leaked host routes of guests on other nodes have those
nodes' VTEP addresses as next hop, and an external router on the nodes' own subnet would be told
to send to them directly ("third-party next hop"), where the default VRF has no route to the
guest. Tested in the lab: without it the router learns ``10.0.2.101 via 192.0.2.3`` and the guest
on node3 gets no reply.
"""

from __future__ import annotations

from sdnkit.config.model import Controller, IPAddress, ZoneType
from sdnkit.plan.context import PlanContext
from sdnkit.plan.frr.builder import FrrBuilder, PendingEntry, RouterDraft
from sdnkit.plan.frr.model import DEFAULT_VRF, AfNeighbor, NeighborGroup, PrefixListEntry
from sdnkit.plan.underlay import ip_sorted, router_id

COALESCE_TIME = 1000
LOOPBACKS = "loopbacks_ips"
CORRECT_SRC = "correct_src"


def _loopback_source(ctx: PlanContext, b: FrrBuilder, ctl: Controller, ip: IPAddress) -> None:
    if ip.version != 4:
        # upstream writes an IPv4 route-map with an IPv6 source, which FRR refuses
        ctx.warn(f'controller "{ctl.id}": no source rewrite (correct_src) for IPv6 loopback {ip}')
        return
    b.set_prefix(LOOPBACKS, PrefixListEntry(seq=10, action="permit", network="0.0.0.0/0", le=32))
    b.append_route_map(
        CORRECT_SRC,
        PendingEntry("permit", matches=(f"ip address prefix-list {LOOPBACKS}",), sets=(f"src {ip}",)),
    )
    b.set_protocol_route_map("bgp", v4=CORRECT_SRC)


def _leaks_vrfs(ctx: PlanContext) -> bool:
    """Whether this node's default router imports EVPN zone VRFs (an exit node without local
    routing, see evpn.py)."""
    return any(
        z.type is ZoneType.EVPN and z.vrf_vxlan and ctx.node in z.exitnodes and not z.exitnodes_local_routing
        for z in ctx.zones_here()
    )


def plan_controller(ctx: PlanContext, b: FrrBuilder, ctl: Controller) -> None:
    if ctl.node != ctx.node or not ctl.asn:
        return
    underlay = ctx.peer_underlay(ctl.peers, ctl.loopback)
    ip = underlay.local_ip
    router = b.add_router(
        RouterDraft(
            vrf=DEFAULT_VRF,
            asn=ctl.asn,
            router_id=router_id(ctx.facts, ip, underlay.iface),
            default_ipv4_unicast=False,
            coalesce_time=COALESCE_TIME,
        )
    )
    if ctl.ebgp and ctl.loopback:
        router.disable_ebgp_connected_route_check = True
    if ctl.bgp_multipath_as_path_relax:
        router.bestpath_as_path_multipath_relax = True
    if ctl.peers:
        router.neighbor_groups.append(
            NeighborGroup(
                name="BGP",
                remote_as="external" if ctl.ebgp else str(ctl.asn),
                bfd=True,
                ebgp_multihop=ctl.ebgp_multihop if ctl.ebgp else None,
                ips=tuple(str(p) for p in ip_sorted(underlay.peers)),
            )
        )
        af = router.unicast("ipv6" if ip is not None and ip.version == 6 else "ipv4")
        if ctl.loopback and ip is not None:
            af.networks.append(f"{ip}/{ip.max_prefixlen}")
        af.neighbors.append(
            AfNeighbor(name="BGP", soft_reconfiguration_inbound=True, next_hop_self=_leaks_vrfs(ctx))
        )
    if ctl.loopback:
        if ip is None:
            ctx.warn(f'controller "{ctl.id}": loopback "{ctl.loopback}" has no address on this node')
        else:
            _loopback_source(ctx, b, ctl, ip)
