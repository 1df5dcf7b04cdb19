"""The agent's VNet firewall step: read the firewall files, plan, render, load (when changed).

It runs at the end of every pass (``agent.run_once``) and alone when only a firewall file changed
(``agent.run_forever`` watches ``firewall/``): as with PVE's firewall daemon, a rule change is
live within a poll interval, without an SDN apply. The vnets are those of the config live on the
node; the IP sets are the vnets' (from that config) and the guests' (``guest-ipam-<id>``, from the
built-in IPAM, read only when a rule names one).

A file that cannot be read or a table nftables refuses leaves the last loaded table in place
(nothing half applied) and marks the zones of the node's firewalled vnets ``error``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sdnkit.config.fwfile import VnetFirewall, document_name, parse_fw
from sdnkit.config.model import SdnConfig
from sdnkit.errors import SdnError
from sdnkit.plan.desired import IpSet
from sdnkit.plan.firewall import guest_ipsets, vnet_ipsets
from sdnkit.plan.vnet_firewall import plan_vnet_firewall
from sdnkit.realize.vnet_firewall import FirewallResult, apply_vnet_firewall
from sdnkit.render.nftables_firewall import render_vnet_firewall
from sdnkit.store.base import Store

__all__ = ["FIREWALL_PREFIX", "FirewallStep", "firewall_zones", "run_firewall"]

FIREWALL_PREFIX = "firewall/"


@dataclass(frozen=True, slots=True)
class FirewallStep:
    result: FirewallResult | None
    failed: Mapping[str, str]  # zone -> reason
    warnings: tuple[str, ...] = ()


def _node_vnets(config: SdnConfig, node: str) -> list[str]:
    return sorted(
        v.id for v in config.vnets.values() if v.zone in config.zones and config.zones[v.zone].on_node(node)
    )


def _vnet_of(name: str) -> str:
    return name[len(FIREWALL_PREFIX) : -len(".fw")]


def read_firewalls(store: Store, vnets: Iterable[str]) -> dict[str, VnetFirewall]:
    """The firewall files of ``vnets`` that exist, parsed (``ConfigError`` for a broken one)."""
    docs = store.read_many([document_name(v) for v in vnets])
    return {_vnet_of(name): parse_fw(_vnet_of(name), doc.data.decode()) for name, doc in docs.items() if doc}


def _guest_sets(store: Store) -> tuple[IpSet, ...]:
    from sdnkit.service import ipam as ipam_service
    from sdnkit.service.port_addresses import builtin_zone, zone_allocations

    ictx = ipam_service.running_context(store)
    zones = [z for z in ictx.config.zones.values() if builtin_zone(ictx, z)]
    return guest_ipsets(a for zone in zones for a in zone_allocations(ictx, zone))


def _ipsets(store: Store, config: SdnConfig, firewalls: Mapping[str, VnetFirewall]) -> dict[str, IpSet]:
    sets = {s.name: s for s in vnet_ipsets(config)}
    named = " ".join(f"{r.source} {r.dest}" for fw in firewalls.values() for r in fw.rules)
    if "+sdn/guest-ipam-" in named:
        sets.update({s.name: s for s in _guest_sets(store)})
    return sets


def firewall_zones(config: SdnConfig, vnets: Iterable[str]) -> list[str]:
    return sorted({config.vnets[v].zone for v in vnets if v in config.vnets})


def run_firewall(
    store: Store, config: SdnConfig, *, node: str, netns: str | None, state_dir: Path
) -> FirewallStep:
    """Bring the node's vnet firewall table in line with the files (see the module docstring)."""
    vnets = _node_vnets(config, node)
    try:
        firewalls = read_firewalls(store, vnets)
        plan = plan_vnet_firewall(config, node, firewalls, _ipsets(store, config, firewalls))
        result = apply_vnet_firewall(render_vnet_firewall(plan), netns=netns, state_dir=state_dir)
    except SdnError as err:
        names = [_vnet_of(n) for n in store.names(FIREWALL_PREFIX) if n.endswith(".fw")]
        zones = firewall_zones(config, [v for v in names if v in vnets])
        return FirewallStep(None, dict.fromkeys(zones, f"vnet firewall: {err}"))
    return FirewallStep(result, {}, plan.warnings)
