"""``sdn agent --backend ifupdown2`` with FRR, as PVE applies: write the interfaces file, ``ifreload
-a``, then FRR's reload; FRR's refusal puts the previous interfaces file back and reloads it.

The agent runs in a lab node's namespace with Debian's ifupdown2 (``scripts/ifupdown2.sh``, its
state in a private folder) as its ``--ifreload``, and starts that node's FRR itself (``--frr
direct``); the peer is a real FRR router on the lab's outside host. The zone is a VXLAN zone and
the controller a BGP controller: nothing here needs a VRF, so this runs on the host kernel.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.kernel, pytest.mark.services, pytest.mark.slow]

IFUPDOWN2 = Path(__file__).resolve().parents[2] / "scripts" / "ifupdown2.sh"
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


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def eventually(check, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached after {timeout:g} s")
        time.sleep(0.3)


@pytest.fixture(scope="module")
def lab(make_lab, tmp_path_factory):
    if shutil.which("vtysh") is None or not Path("/usr/lib/frr/zebra").exists():
        unavailable("FRR is not installed (apt install frr frr-pythontools)")
    done = subprocess.run([str(IFUPDOWN2), "prepare"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        unavailable(f"ifupdown2 is not available: {done.stderr.strip()}")
    env = make_lab(nodes=2)
    conf = tmp_path_factory.mktemp("outside") / "frr.conf"
    conf.write_text(OUTSIDE_CONF)
    rc, out = env.lab("router", "start", "--conf", str(conf))
    assert rc == 0, out
    env.create("controllers", controller="bgp1", type="bgp", node="node1", asn=65000,
               peers="192.0.2.254", ebgp=1)  # fmt: skip
    env.create("zones", zone="vx", type="vxlan", peers="192.0.2.1,192.0.2.2")
    env.create("vnets", vnet="vxv1", zone="vx", tag=300)
    env.svc.apply({})
    env.workdir = tmp_path_factory.mktemp("ifupdown2")  # its interfaces file and state
    return env


def frr_dir(lab) -> Path:
    return Path(os.environ["SDN_LAB_DIR"]) / lab.name / "node1" / "frr"


def agent(lab) -> tuple[int, dict]:
    """``sdn agent --once --backend ifupdown2`` on node1, as the lab runs its agents otherwise."""
    from sdnkit.lab.agents import agent_args
    from sdnkit.lab.state import LabStore

    state = LabStore(lab.name).load()
    ifreload = [str(IFUPDOWN2), "run", state.ns("node1"), str(lab.workdir), "ifreload", "-a"]
    argv = [*agent_args(state, "node1", once=True), "--backend", "ifupdown2", "--interfaces-file",
            str(lab.workdir / "interfaces"), "--ifreload", shlex.join(ifreload)]  # fmt: skip
    done = subprocess.run(
        ["ip", "netns", "exec", state.ns("node1"), sys.executable, "-m", "sdnkit.cli.main", *argv],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    rc, out = lab.sdn("--output", "json", "status")
    assert rc == 0, out
    record = {r["node"]: r for r in json.loads(out)}.get("node1", {})
    return done.returncode, record | {"agent_output": done.stdout + done.stderr}


def established(lab) -> bool:
    d = str(frr_dir(lab))
    out = lab.run("node1", "vtysh", "--vty_socket", d, "-c", "show bgp summary json").stdout
    peers = json.loads(out or "{}").get("ipv4Unicast", {}).get("peers", {})
    return peers.get("192.0.2.254", {}).get("state") == "Established"


def test_ifreload_then_frr_reload(lab):
    rc, record = agent(lab)
    assert rc == 0, record
    assert "iface vxv1" in (lab.workdir / "interfaces").read_text()
    links = lab.links("node1")
    assert links["vxlan_vxv1"]["master"] == "vxv1"  # ifupdown2 made the vnet
    assert {"zebra", "bgpd"} <= {p.stem for p in frr_dir(lab).glob("*.pid")}
    eventually(lambda: established(lab), "node1's eBGP session, loaded after ifreload")


def test_a_refused_frr_reload_puts_the_previous_interfaces_back(lab):
    rc, record = agent(lab)
    assert rc == 0, record["agent_output"]
    before = (lab.workdir / "interfaces").read_text()
    local = frr_dir(lab).parent / "frr.conf.local"
    local.write_text("router bgp 65000\n bgp no-such-command\nexit\n")
    lab.create("vnets", vnet="vxv2", zone="vx", tag=301)
    lab.svc.apply({})
    try:
        rc, record = agent(lab)
        assert rc != 0 and "Unknown command" in json.dumps(record), record
        assert (lab.workdir / "interfaces").read_text() == before
        links = lab.links("node1")
        assert "vxv2" not in links and "vxv1" in links  # ifreload of the previous file removed it
        assert established(lab)  # FRR still runs what it ran
    finally:
        local.unlink()
    rc, record = agent(lab)  # the positive pair: without the refused line, both apply
    assert rc == 0, record
    assert "vxv2" in lab.links("node1")
    lab.delete("vnets", vnet="vxv2")
    lab.svc.apply({})
    assert agent(lab)[0] == 0
