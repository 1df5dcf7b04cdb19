"""FRR for an IS-IS controller bound to this node: ``router isis`` and its interfaces (§3.8).

Only ``ip router isis`` is enabled on the interfaces (IPv4), while both address families'
connected routes are redistributed, as upstream.
"""

from __future__ import annotations

from sdnkit.config.model import Controller
from sdnkit.plan.context import PlanContext
from sdnkit.plan.frr.builder import FrrBuilder
from sdnkit.plan.frr.model import IsisInterface, IsisRouter


def plan_controller(ctx: PlanContext, b: FrrBuilder, ctl: Controller) -> None:
    if ctl.node != ctx.node or not (ctl.isis_domain and ctl.isis_net and ctl.isis_ifaces):
        return
    b.isis_routers.setdefault(ctl.isis_domain, IsisRouter(domain=ctl.isis_domain, net=ctl.isis_net))
    for name in sorted(ctl.isis_ifaces):
        b.isis_interfaces.setdefault(name, IsisInterface(name=name, domain=ctl.isis_domain))
