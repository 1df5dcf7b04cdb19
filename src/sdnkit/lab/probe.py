"""Which link kinds this kernel can create: try them in a scratch namespace (never assume).

``missing(("vlan", "qinq"))`` lists the features that failed, with the kernel's message.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable

# ip commands that create each feature in an empty namespace
PROBES: dict[str, tuple[tuple[str, ...], ...]] = {
    "vlan": (
        ("link", "add", "p0", "type", "veth", "peer", "name", "p1"),
        ("link", "add", "link", "p0", "name", "p0.10", "type", "vlan", "id", "10"),
    ),
    "qinq": (
        ("link", "add", "q0", "type", "veth", "peer", "name", "q1"),
        ("link", "add", "link", "q0", "name", "q0.20", "type", "vlan", "proto", "802.1ad", "id", "20"),
    ),
    "vlan_filtering": (("link", "add", "pbr", "type", "bridge", "vlan_filtering", "1"),),
    "vrf": (("link", "add", "pvrf", "type", "vrf", "table", "10"),),
    "dummy": (("link", "add", "pd", "type", "dummy"),),
    "vxlan": (("link", "add", "pvx", "type", "vxlan", "id", "10", "dstport", "4789"),),
}


def missing(features: Iterable[str]) -> dict[str, str]:
    """Feature -> the kernel's refusal, for each feature this kernel cannot create."""
    ns = f"sdnprobe{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True, capture_output=True)
    try:
        out = {}
        for feature in features:
            for argv in PROBES[feature]:
                done = subprocess.run(["ip", "-n", ns, *argv], capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    out[feature] = done.stderr.strip()
                    break
        return out
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
