"""``plan_node``: the pure function from (running config, node facts) to a ``NodePlan``.

The plan is assembled by a list of contributors, each adding its part to the plan made so far
(later contributors can read earlier parts, e.g. DHCP reads the planned bridges). Adding a part
is one function and one entry in ``CONTRIBUTORS``. Nothing here reads the live system, a clock
or randomness: same inputs, same plan.

Parts that do not depend on the node (zone blocks, merged link layouts, IP sets) are kept with
the configuration (``SdnConfig.derived``) under keys that hold every node-specific input they
read, so planning many nodes of one configuration does that work once; the result never
depends on which node was planned first (``tests/unit/test_plan_cache.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from sdnkit.config.running import RunningConfig
from sdnkit.plan.context import PlanContext
from sdnkit.plan.desired import NodePlan
from sdnkit.plan.dhcp import contribute_dhcp
from sdnkit.plan.facts import NodeFacts
from sdnkit.plan.firewall import contribute_ipsets
from sdnkit.plan.frr import plan_frr
from sdnkit.plan.layout import plan_links

Contributor = Callable[[PlanContext, NodePlan], NodePlan]


def contribute_links(ctx: PlanContext, plan: NodePlan) -> NodePlan:
    links, snat = plan_links(ctx)
    return replace(plan, links=links, snat=snat)


def contribute_frr(ctx: PlanContext, plan: NodePlan) -> NodePlan:
    frr = plan_frr(ctx)
    return replace(plan, frr=frr.config, frr_daemons=frr.daemons)


# in order; DHCP instances (plan/dhcp.py) and firewall IP sets (plan/firewall.py) add theirs here
CONTRIBUTORS: tuple[Contributor, ...] = (
    contribute_links,
    contribute_frr,
    contribute_dhcp,
    contribute_ipsets,
)


def plan_node(running: RunningConfig, facts: NodeFacts) -> NodePlan:
    ctx = PlanContext(running, facts)
    plan = NodePlan(node=facts.node, version=running.version)
    for contribute in CONTRIBUTORS:
        plan = contribute(ctx, plan)
    return replace(plan, warnings=plan.warnings + tuple(ctx.warnings))
