"""The FRR part of a node's plan: controllers, EVPN zones and vnets, fabrics, frr.conf.local.

Order as upstream (spec §3.8): every controller by ID, then every EVPN zone on this node, then
their vnets, then the fabrics; the local file is merged last. A controller or zone that cannot be
planned on this node (e.g. the node is not in the EVPN controller's fabric) is left out with a
warning, like PVE's per-object ``warn``, so the rest still applies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sdnkit.config.model import Controller, ControllerType
from sdnkit.errors import PlanError
from sdnkit.plan.context import PlanContext
from sdnkit.plan.frr import bgp, evpn, isis
from sdnkit.plan.frr.builder import FrrBuilder
from sdnkit.plan.frr.daemons import daemons_of
from sdnkit.plan.frr.fabrics import plan_fabrics
from sdnkit.plan.frr.local import merge_local
from sdnkit.plan.frr.model import PVE_FRR_VERSION, FrrConfig

ControllerPlanner = Callable[[PlanContext, FrrBuilder, Controller], None]

CONTROLLER_TYPES: dict[ControllerType, ControllerPlanner] = {
    ControllerType.EVPN: evpn.plan_controller,
    ControllerType.BGP: bgp.plan_controller,
    ControllerType.ISIS: isis.plan_controller,
}


@dataclass(frozen=True, slots=True)
class FrrPlan:
    config: FrrConfig | None
    daemons: tuple[str, ...] = ()  # besides zebra (plan/frr/daemons.py)


def wants_frr(ctx: PlanContext) -> bool:
    """PVE writes frr.conf when there are controllers or fabrics, or a local file to merge."""
    cfg = ctx.config
    return bool(cfg.controllers or cfg.fabrics or ctx.facts.frr_local)


def _guarded(ctx: PlanContext, what: str, step: Callable[..., None], *args: Any) -> None:
    try:
        step(ctx, *args)
    except PlanError as err:
        ctx.warn(f"{what}: {err} (left out of the FRR configuration)")


def plan_frr(ctx: PlanContext) -> FrrPlan:
    if not wants_frr(ctx):
        return FrrPlan(None)
    b = FrrBuilder(hostname=ctx.node, version=ctx.facts.frr_version or PVE_FRR_VERSION)
    for ctl in ctx.config.controllers.values():
        _guarded(ctx, f'controller "{ctl.id}"', CONTROLLER_TYPES[ctl.type], b, ctl)
    evpn_zones = {z.id: z for z in ctx.zones_here() if z.controller}
    for zone in evpn_zones.values():
        _guarded(ctx, f'zone "{zone.id}"', evpn.plan_zone, b, zone)
    routed = {z.id: z for z in evpn_zones.values() if evpn.routes_vnets(ctx, z)}  # usually none
    for vnet in ctx.vnets() if routed else ():
        if vnet.zone in routed:
            _guarded(ctx, f'vnet "{vnet.id}"', evpn.plan_vnet, b, routed[vnet.zone], vnet)
    daemons = plan_fabrics(ctx, b)
    if ctx.facts.frr_local:
        merge_local(ctx, b, ctx.facts.frr_local)
    config = b.build()
    return FrrPlan(config, daemons_of(config, daemons))
