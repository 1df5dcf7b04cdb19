"""The node's service files for ``sdn render``: the DHCP servers' folders and the firewall IP sets.

``dnsmasq.d/<zone>/…`` (for ``/etc/dnsmasq.d``, PVE's paths inside the files) for each DHCP
instance of the plan, and ``sdnkit-ipsets.nft`` (load with ``nft -f``) when the plan has IP sets.
Static DHCP mappings and guest IP sets appear when IPAM state was folded into the plan
(``plan.firewall.with_ipam_state``).
"""

from __future__ import annotations

from sdnkit.plan.desired import NodePlan
from sdnkit.render.dnsmasq import render_plan
from sdnkit.render.nftables_sets import render_ipsets

__all__ = ["IPSETS_FILE", "node_service_files"]

IPSETS_FILE = "sdnkit-ipsets.nft"


def node_service_files(plan: NodePlan) -> dict[str, str]:
    files = {f"dnsmasq.d/{name}": text for name, text in render_plan(plan.dhcp).items()}
    if plan.ipsets:
        files[IPSETS_FILE] = render_ipsets(plan.ipsets)
    return files
