"""The ``local`` table's routing rule below the VRFs' (``ip rule``), as ifupdown2 sets it.

The kernel looks the ``local`` table up first (rule 0), before the VRFs' ``l3mdev`` rule (1000),
so an address of the default VRF is local to traffic inside every VRF as well. On an exit node
with ``exitnodes-local-routing``, the xvrf veth's default-VRF end has 10.255.255.1: a packet
from it reaching the VRF end is dropped there as a martian (its source is "local"), and the exit
node cannot reach a guest. ifupdown2's VRF module, which PVE uses, moves the local table's rule
to 32765 (after ``l3mdev``, before ``main``) when it makes a VRF; the reconciler does the same
when the plan has a VRF, for IPv4 and IPv6. Like ifupdown2 it leaves the rule there when the
VRFs go: it is as right without VRFs.
"""

from __future__ import annotations

import json
import subprocess

from sdnkit.errors import RealizeError

LOCAL_PREF = 32765


def _rules(family: str) -> list[dict[str, object]]:
    done = subprocess.run(["ip", family, "-j", "rule", "show"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        text = f"ip rule: reading the {family} rules failed: {done.stderr.strip()}"
        raise RealizeError(text, obj="ip rule")
    return list(json.loads(done.stdout or "[]"))


def _ip(family: str, *argv: str) -> None:
    done = subprocess.run(["ip", family, "rule", *argv], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        text = f"ip rule: {' '.join(argv)} ({family}) failed: {done.stderr.strip()}"
        raise RealizeError(text, obj="ip rule")


def local_table_after_vrfs() -> bool:
    """Move the ``local`` table's rule from 0 to :data:`LOCAL_PREF` in this namespace (both
    families); whether anything changed. The new rule goes in before the old one goes out, so
    local delivery never stops."""
    changed = False
    for family in ("-4", "-6"):
        plain = [r for r in _rules(family) if set(r) <= {"priority", "src", "table"}]  # no selectors
        prefs = {r.get("priority") for r in plain if r.get("table") == "local" and r.get("src") == "all"}
        if 0 not in prefs:
            continue
        if LOCAL_PREF not in prefs:
            _ip(family, "add", "pref", str(LOCAL_PREF), "table", "local")
        _ip(family, "del", "pref", "0", "table", "local")
        changed = True
    return changed
