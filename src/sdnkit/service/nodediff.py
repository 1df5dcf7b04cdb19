"""Per-node rendered diffs for dry-run (PVE's ``interfaces-diff`` and ``frr-diff``).

PVE's ``GET /cluster/sdn/dry-run?node=X`` is proxied to node X, which renders its files and diffs
them. Here the node the process runs on plans both the current and the would-be running config
with its live facts (``sdnkit.agent.facts``) and diffs the two renderings, so the answer shows
exactly what apply would change in its ``/etc/network/interfaces.d/sdn`` and ``frr.conf``. For
another node the answer has no diffs: the API forwards the request to that node's agent.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from sdnkit.config.model import SdnConfig
from sdnkit.config.pending import text_diff
from sdnkit.config.running import RunningConfig
from sdnkit.errors import SdnError
from sdnkit.plan.facts import NodeFacts

__all__ = ["FactsFor", "local_facts", "rendered_diffs", "this_node"]

INTERFACES_FILE = "/etc/network/interfaces.d/sdn"
FRR_FILE = "/etc/frr/frr.conf"

FactsFor = Callable[[str, SdnConfig], NodeFacts | None]


def this_node() -> str:
    """The node name of this host, as ``sdn agent`` defaults it."""
    return socket.gethostname().split(".")[0]


def local_facts(node: str, config: SdnConfig) -> NodeFacts | None:
    """Live facts when ``node`` is this host, otherwise None."""
    if node != this_node():
        return None
    # imported here: reading the live system is only wanted when a dry-run asks for it
    from sdnkit.agent import facts as live
    from sdnkit.agent.agent import underlay_peers

    return live.gather(node, peers=underlay_peers(config, node))


def _frr_text(running: RunningConfig, facts: NodeFacts) -> tuple[str, str]:
    # imported here: the planner and renderers are only needed for per-node dry-runs
    from sdnkit.plan.planner import plan_node
    from sdnkit.render.frr import render_frr
    from sdnkit.render.ifupdown import render_interfaces

    plan = plan_node(running, facts)
    return render_interfaces(plan), render_frr(plan.frr) if plan.frr is not None else ""


def rendered_diffs(
    old: RunningConfig, new: RunningConfig, node: str, facts_for: FactsFor = local_facts
) -> dict[str, str]:
    """``{interfaces-diff, frr-diff}`` of ``node`` (empty for a node whose facts are unknown here)."""
    facts = facts_for(node, new.config)
    if facts is None:
        return {}
    try:
        before, after = _frr_text(old, facts), _frr_text(new, facts)
    except SdnError as err:
        return {"plan-error": f"node {node}: {err}"}
    return {
        "interfaces-diff": text_diff(before[0], after[0], INTERFACES_FILE),
        "frr-diff": text_diff(before[1], after[1], FRR_FILE),
    }
