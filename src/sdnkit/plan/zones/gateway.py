"""Routed vnets (simple and evpn zones): gateway addresses, forwarding and SNAT of subnets.

Gateways and forwarding depend on the configuration only; SNAT rules need the node's egress and
are made per node from the subnets a vnet names for SNAT (``VnetPlan.snat``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from sdnkit.config.model import IPAddress, IPInterface, Subnet
from sdnkit.plan.context import ConfigIndex
from sdnkit.plan.desired import SnatRule
from sdnkit.plan.facts import NodeFacts
from sdnkit.plan.zones.base import ZoneEnv

# where PVE looks for the egress of SNAT traffic (``ip route get``), per address family
EGRESS_PROBE = {4: ipaddress.ip_address("8.8.8.8"), 6: ipaddress.ip_address("2001:4860:4860::8888")}
CONNTRACK_ZONE = 1  # firewall bridges' conntrack zone (PVE's ``-i fwbr+ -j CT --zone 1``)


def gateway_addresses(env: ZoneEnv, subnets: Sequence[Subnet]) -> tuple[IPInterface, ...]:
    """Each subnet's gateway with the subnet's prefix length, once per gateway address."""
    seen: set[IPAddress] = set()
    out: list[IPInterface] = []
    for sub in subnets:
        gateway = sub.gateway
        if gateway is not None and gateway not in seen:
            seen.add(gateway)
            out.append(env.index.gateway(sub, gateway))
    return tuple(out)


def forwarding(subnets: Sequence[Subnet]) -> tuple[bool | None, bool | None]:
    """``ip-forward`` / ``ip6-forward``: on when a subnet of that family has a gateway."""
    families = {s.gateway.version for s in subnets if s.gateway is not None}
    return (True if 4 in families else None), (True if 6 in families else None)


def snat_rules(
    facts: NodeFacts, index: ConfigIndex, vnet: str, subnets: Sequence[Subnet]
) -> tuple[tuple[SnatRule, ...], tuple[str, ...]]:
    """SNAT of each subnet (those marked ``snat``) to the node's egress address of its family,
    and a warning per subnet without an egress route.

    The family is the subnet's own (PVE takes the gateway's and treats "no gateway" as IPv4,
    §10.9); the conntrack-zone rule is set once per vnet and family, not once per subnet.
    """
    rules: list[SnatRule] = []
    warnings: list[str] = []
    families: set[int] = set()  # of the rules so far
    for sub in subnets:
        network = index.network(sub)
        version = network.version
        route = facts.route4 if version == 4 else facts.route6  # towards EGRESS_PROBE
        if route is None:
            warnings.append(f'vnet "{vnet}": subnet {sub.cidr} has snat but no IPv{version} egress route')
            continue
        rules.append(
            SnatRule(
                vnet=vnet,
                subnet=sub.id,
                source=network,
                out_iface=route.iface,
                to_source=route.src,
                conntrack_zone=None if version in families else CONNTRACK_ZONE,
            )
        )
        families.add(version)
    return tuple(rules), tuple(warnings)
