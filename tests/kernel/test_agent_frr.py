"""The agent runs FRR for real in a host lab: it starts the daemons the plan needs in each node's
namespace, loads frr.conf with FRR's own reload only when something changed, and reports FRR's
refusal in the node's status. The peer is a real FRR router on the lab's outside host.

BGP controllers need no VRF, so this runs on the host kernel (EVPN zones: test_lab_evpn.py, UML).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.services,
    pytest.mark.slow,
    pytest.mark.needs(
        "root", "vtysh", "/usr/lib/frr/zebra", "/usr/lib/frr/bgpd",
        "/usr/lib/frr/frr-reload.py",
    ),
]

OUTSIDE_CONF = """frr defaults datacenter
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
    return Path(os.environ["SDN_LAB_DIR"]) / lab.name / member / "frr"


def vtysh(lab, member: str, command: str) -> str:
    d = str(frr_dir(lab, member))
    return lab.run(member, "vtysh", "--vty_socket", d, "--config_dir", d, "-c", command).stdout


def pids(lab, member: str) -> dict[str, str]:
    return {p.stem: p.read_text().strip() for p in frr_dir(lab, member).glob("*.pid")}


def eventually(check, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached after {timeout:g} s")
        time.sleep(0.3)


FORWARDING = re.compile(r"(no )?ip(v6)? forwarding")


def frr_configuration(lab, member: str) -> list[str]:
    """FRR's running configuration, without zebra's ``[no] ip[v6] forwarding``: those lines are
    the namespace's forwarding switches (sysctls) as zebra shows them, not lines of frr.conf (and
    frr-reload.py turns them on whenever it reloads a file that does not say ``no ip forwarding``)."""
    text = vtysh(lab, member, "show running-config")
    return [line for line in text.splitlines() if not FORWARDING.fullmatch(line)]


def established(lab, member: str, peer: str) -> bool:
    out = vtysh(lab, member, "show bgp summary json")
    peers = json.loads(out or "{}").get("ipv4Unicast", {}).get("peers", {})
    return peers.get(peer, {}).get("state") == "Established"


@pytest.fixture(scope="module")
def lab(make_lab, tmp_path_factory):
    env = make_lab(nodes=2)
    conf = tmp_path_factory.mktemp("outside") / "frr.conf"
    conf.write_text(OUTSIDE_CONF)
    rc, out = env.lab("router", "start", "--conf", str(conf))
    assert rc == 0, out
    env.create("controllers", controller="bgp1", type="bgp", node="node1", asn=65000,
               peers="192.0.2.254", ebgp=1)  # fmt: skip
    env.apply()
    return env


def test_agent_starts_the_daemons_the_plan_needs_and_the_session_comes_up(lab):
    assert {"zebra", "bgpd", "bfdd"} <= set(pids(lab, "node1"))  # bfd: the controller's peers use it
    assert set(pids(lab, "node2")) == {"zebra"}  # no BGP router planned for node2
    eventually(lambda: established(lab, "node1", "192.0.2.254"), "node1's eBGP session")
    assert established(lab, "outside", "192.0.2.1")  # the outside router sees it too


def test_vtysh_in_a_lab_node_talks_to_that_nodes_frr(lab):
    rc, _ = lab.sdn("lab", "exec", "--name", lab.name, "node1", "--", "vtysh", "-c", "show version")
    assert rc == 0
    assert "router bgp 65000" in vtysh(lab, "node1", "show running-config")
    assert "router bgp" not in vtysh(lab, "node2", "show running-config")


def test_an_unrelated_change_restarts_and_reloads_nothing(lab):
    before, conf = pids(lab, "node1"), frr_dir(lab, "node1") / "frr.conf"
    stamp = conf.stat().st_mtime_ns
    lab.create("zones", zone="plain", type="simple")
    lab.create("vnets", vnet="plainv", zone="plain")
    lab.apply()
    assert pids(lab, "node1") == before
    assert conf.stat().st_mtime_ns == stamp
    # the positive pair: a controller change is reloaded into the running daemons
    lab.update("controllers", controller="bgp1", peers="192.0.2.254,192.0.2.253")
    lab.apply()
    assert "neighbor 192.0.2.253 peer-group BGP" in vtysh(lab, "node1", "show running-config")
    assert pids(lab, "node1")["zebra"] == before["zebra"]
    eventually(lambda: established(lab, "node1", "192.0.2.254"), "the session after the reload")


def test_frr_refusal_is_reported_and_the_old_configuration_stays(lab):
    # what FRR runs before (the session comes up some seconds after the lab's first apply)
    eventually(lambda: established(lab, "node1", "192.0.2.254"), "node1's eBGP session")
    running = frr_configuration(lab, "node1")
    assert "router bgp 65000" in running
    local = frr_dir(lab, "node1").parent / "frr.conf.local"
    local.write_text("router bgp 65000\n bgp no-such-command\nexit\n")
    try:
        lab.svc.apply({})
        rc, out = lab.sdn("--output", "json", "lab", "apply", "--name", lab.name)
        results = {r["node"]: r for r in json.loads(out)}
        assert rc != 0 and not results["node1"]["ok"]
        assert "Unknown command" in results["node1"]["error"], results["node1"]
        assert "no-such-command" not in (frr_dir(lab, "node1") / "frr.conf").read_text()
        rc, out = lab.sdn("--output", "json", "status")
        record = {r["node"]: r for r in json.loads(out)}["node1"]
        assert "Unknown command" in json.dumps(record)
        assert frr_configuration(lab, "node1") == running  # FRR still runs what it ran
        assert established(lab, "node1", "192.0.2.254")  # and the session stayed up
    finally:
        local.unlink()
    assert all(r["ok"] for r in lab.apply())
