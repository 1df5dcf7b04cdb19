"""FRR in the lab, for the kernel tests: where a lab member's FRR keeps its files, ``vtysh`` to it,
the outside router's eBGP configuration, and waiting for routing to converge.

``eventually`` is not a timed assertion: routing converges seconds after an apply (BGP timers,
OpenFabric's first synchronisation), and its bound only keeps a broken test from hanging.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# What a test of the FRR the agent runs needs (frr and frr-pythontools)
FRR_NEEDS = ("vtysh", "/usr/lib/frr/zebra", "/usr/lib/frr/bgpd", "/usr/lib/frr/frr-reload.py")

# The lab's outside host as an eBGP router (AS 65100) peering with node1 (AS 65000)
OUTSIDE_EBGP = """frr defaults datacenter
hostname outside
!
router bgp 65100
 bgp router-id 192.0.2.254
 no bgp default ipv4-unicast
 neighbor 192.0.2.1 remote-as 65000
 neighbor 192.0.2.1 timers connect 2
 !
 address-family ipv4 unicast
  neighbor 192.0.2.1 activate
 exit-address-family
exit
!
"""


def frr_dir(lab, member: str) -> Path:
    """The member's FRR folder (its frr.conf, daemons, pid files and vty sockets)."""
    return Path(os.environ["SDN_LAB_DIR"]) / lab.name / member / "frr"


def vtysh(lab, member: str, command: str) -> str:
    """One vtysh command to the member's own FRR."""
    d = str(frr_dir(lab, member))
    return lab.run(member, "vtysh", "--vty_socket", d, "--config_dir", d, "-c", command).stdout


def pvesh(lab, *argv: str) -> None:
    """``sdn pvesh ...`` against the lab's store; it must succeed."""
    rc, out = lab.sdn("pvesh", *argv)
    assert rc == 0, out


def eventually(
    check: Callable[[], T],
    what: str,
    timeout: float = 30.0,
    explain: Callable[[], str] | None = None,
    interval: float = 0.5,
) -> T:
    """``check()``'s first true value; after ``timeout`` a failure naming ``what`` (and
    ``explain()``'s diagnosis)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            diagnosis = f"\n{explain()}" if explain else ""
            raise AssertionError(f"{what}: not reached after {timeout:g} s{diagnosis}")
        time.sleep(interval)
