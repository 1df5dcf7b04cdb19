"""Plan the firewall IP sets (spec §6, the seed's "Firewall Integration").

Per vnet, from the running config:

* ``<vnet>-all``: every subnet (normalised network);
* ``<vnet>-gateway``: every gateway address;
* ``<vnet>-no-gateway``: every subnet, with the gateways as ``nomatch`` (excluded) entries;
* ``<vnet>-dhcp``: every DHCP range as ``start-end``.

Per guest, from IPAM state: ``guest-ipam-<id>`` with every address IPAM holds for that guest
ID, across all zones (gateway entries excluded). A guest without addresses has no set.

Sets are cluster-wide, as upstream: every node plans the sets of every vnet, so that a rule
naming any vnet's set works on every node. Both address families live in one ``IpSet``; the
nftables renderer splits them (nft sets hold one family each).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace

from sdnkit.config.model import IPAddress, IPNetwork, SdnConfig, Subnet
from sdnkit.ipam.base import Allocation
from sdnkit.plan.context import PlanContext, config_index
from sdnkit.plan.desired import IpSet, NodePlan
from sdnkit.plan.dhcp import with_hosts

__all__ = ["contribute_ipsets", "guest_ipsets", "plan_ipsets", "vnet_ipsets", "with_ipam_state"]


def _key(ip: IPAddress) -> tuple[int, int]:
    return ip.version, int(ip)


def _network_key(net: IPNetwork) -> tuple[int, int, int]:
    """The order of ``(version, network)``, from integers (no comparisons of network objects)."""
    return net.version, int(net.network_address), int(net.netmask)


def _gateways(subnets: tuple[Subnet, ...]) -> tuple[str, ...]:
    if len(subnets) == 1:
        return () if subnets[0].gateway is None else (str(subnets[0].gateway),)
    gws = sorted({s.gateway for s in subnets if s.gateway is not None}, key=_key)
    return tuple(str(g) for g in gws)


Texts = tuple[str, ...]


def _sets(name: str, nets: Texts, gateways: Texts, ranges: Texts) -> list[IpSet]:
    return [
        IpSet(name=f"{name}-all", comment=f"All subnets of VNet {name}", elements=nets),
        IpSet(name=f"{name}-gateway", comment=f"All gateways of VNet {name}", elements=gateways),
        IpSet(
            name=f"{name}-no-gateway",
            comment=f"All subnets of VNet {name}, excluding gateways",
            elements=nets,
            nomatch=gateways,
        ),
        IpSet(name=f"{name}-dhcp", comment=f"DHCP ranges of VNet {name}", elements=ranges),
    ]


def vnet_ipsets(config: SdnConfig) -> tuple[IpSet, ...]:
    index = config_index(config)
    sets: list[IpSet] = []
    for vnet in index.vnets:
        subnets = index.subnets(vnet.id)
        if not subnets:
            sets += _sets(vnet.id, (), (), ())
            continue
        if len(subnets) > 1:
            subnets = tuple(sorted(subnets, key=lambda s: _network_key(index.network(s))))
        nets = tuple(str(index.network(s)) for s in subnets)
        ranges = tuple(f"{r.start}-{r.end}" for s in subnets for r in s.dhcp_ranges)
        sets += _sets(vnet.id, nets, _gateways(subnets), ranges)
    return tuple(sets)


def guest_ipsets(entries: Iterable[Allocation]) -> tuple[IpSet, ...]:
    by_guest: dict[str, set[IPAddress]] = defaultdict(set)
    for alloc in entries:
        if alloc.entry.vmid and not alloc.entry.gateway:
            by_guest[alloc.entry.vmid].add(alloc.ip)
    return tuple(
        IpSet(
            name=f"guest-ipam-{vmid}",
            comment=f"IPAM addresses of guest {vmid}",
            elements=tuple(str(ip) for ip in sorted(ips, key=_key)),
        )
        for vmid, ips in sorted(by_guest.items())
    )


def plan_ipsets(config: SdnConfig, entries: Iterable[Allocation] = ()) -> tuple[IpSet, ...]:
    """Every IP set of the running ``config`` and IPAM ``entries``, sorted by name."""
    return tuple(sorted((*vnet_ipsets(config), *guest_ipsets(entries)), key=lambda s: s.name))


def contribute_ipsets(ctx: PlanContext, plan: NodePlan) -> NodePlan:
    """Planner contributor: the vnet IP sets (guest sets come from IPAM state: ``with_ipam_state``).

    They are the same on every node: computed once per configuration."""
    config = ctx.config
    return replace(plan, ipsets=config.derived((__name__, "vnet_ipsets"), lambda: vnet_ipsets(config)))


def with_ipam_state(plan: NodePlan, allocations: Iterable[Allocation]) -> NodePlan:
    """``plan`` with the IPAM state folded in: DHCP static mappings and the guest IP sets.

    The planner sees only configuration; the node agent calls this with the allocations of the
    zones' IPAMs before realizing DHCP and IP sets (and again whenever the IPAM state changes).
    """
    allocations = list(allocations)
    sets = [s for s in plan.ipsets if not s.name.startswith("guest-ipam-")]
    sets += guest_ipsets(allocations)
    return replace(
        plan,
        dhcp=with_hosts(plan.dhcp, allocations),
        ipsets=tuple(sorted(sets, key=lambda s: s.name)),
    )
