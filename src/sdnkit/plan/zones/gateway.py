"""Routed vnets (simple and evpn zones): gateway addresses, forwarding and SNAT of subnets."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from sdnkit.config.model import IPAddress, IPInterface, Subnet
from sdnkit.plan.context import PlanContext
from sdnkit.plan.desired import SnatRule

# where PVE looks for the egress of SNAT traffic (``ip route get``), per address family
EGRESS_PROBE = {4: ipaddress.ip_address("8.8.8.8"), 6: ipaddress.ip_address("2001:4860:4860::8888")}
CONNTRACK_ZONE = 1  # firewall bridges' conntrack zone (PVE's ``-i fwbr+ -j CT --zone 1``)


def gateway_addresses(ctx: PlanContext, subnets: Sequence[Subnet]) -> tuple[IPInterface, ...]:
    """Each subnet's gateway with the subnet's prefix length, once per gateway address."""
    seen: set[IPAddress] = set()
    out: list[IPInterface] = []
    for sub in subnets:
        gateway = sub.gateway
        if gateway is not None and gateway not in seen:
            seen.add(gateway)
            iface = ipaddress.IPv4Interface if gateway.version == 4 else ipaddress.IPv6Interface
            out.append(iface((int(gateway), ctx.network(sub).prefixlen)))  # from int: no re-parsing
    return tuple(out)


def forwarding(subnets: Sequence[Subnet]) -> tuple[bool | None, bool | None]:
    """``ip-forward`` / ``ip6-forward``: on when a subnet of that family has a gateway."""
    families = {s.gateway.version for s in subnets if s.gateway is not None}
    return (True if 4 in families else None), (True if 6 in families else None)


def snat_rules(ctx: PlanContext, vnet: str, subnets: Sequence[Subnet]) -> tuple[SnatRule, ...]:
    """SNAT of each ``snat`` subnet to the node's egress address of the subnet's family.

    The family is the subnet's own (PVE takes the gateway's and treats "no gateway" as IPv4,
    §10.9); the conntrack-zone rule is set once per vnet and family, not once per subnet.
    """
    rules: list[SnatRule] = []
    for sub in subnets:
        if not sub.snat:
            continue
        network = ctx.network(sub)
        route = ctx.facts.route4 if network.version == 4 else ctx.facts.route6  # towards EGRESS_PROBE
        if route is None:
            ctx.warn(f'vnet "{vnet}": subnet {sub.cidr} has snat but no IPv{network.version} egress route')
            continue
        first = not any(r.source.version == network.version for r in rules)
        rules.append(
            SnatRule(
                vnet=vnet,
                subnet=sub.id,
                source=network,
                out_iface=route.iface,
                to_source=route.src,
                conntrack_zone=CONNTRACK_ZONE if first else None,
            )
        )
    return tuple(rules)
