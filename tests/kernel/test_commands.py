"""Commands users run on a node, through the command, on a lab node:

* ``sdn agent --once --backend ifupdown2``: writes the rendered file and runs ``ifreload -a``
  (Debian's real ifupdown2, in the node's namespace); the kernel then has the vnet as planned.
* ``sdn dry-run --node <this host>``: plans with the live facts of the namespace it runs in, and
  shows the rendered diff; the facts it must have used are read from the kernel with ``ip -j``.
"""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from prerequisites import REPO

pytestmark = [pytest.mark.kernel, pytest.mark.needs("root")]

SDN = str(Path(sys.executable).with_name("sdn"))
IFUPDOWN2 = REPO / "scripts" / "ifupdown2.sh"


@pytest.fixture
def lab(new_lab):
    """A 2-node lab with a simple zone (gateway 10.0.1.1) and a vxlan zone, applied in the store
    only: no agent has run on the nodes."""
    env = new_lab(nodes=2)
    env.create("zones", zone="simple", type="simple")
    env.create("vnets", vnet="vnet1", zone="simple")
    env.create("subnets", vnet="vnet1", subnet="10.0.1.0/24", gateway="10.0.1.1")
    env.svc.apply({})
    return env


def node_sdn(lab, node: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """The real ``sdn`` command, run inside a lab node's namespace."""
    return lab.run(node, SDN, "--config-dir", str(lab.config_dir), *argv, check=False)


def addresses(lab, node: str, dev: str) -> list[str]:
    out = lab.run(node, "ip", "-j", "addr", "show", "dev", dev, check=False).stdout or "[]"
    return [f"{a['local']}/{a['prefixlen']}" for x in json.loads(out) for a in x["addr_info"]]


@pytest.mark.needs("ifupdown2")
def test_agent_with_the_ifupdown2_backend_brings_the_vnet_up(lab, tmp_path: Path) -> None:
    ns = lab.netns("node1")
    work = tmp_path / "ifupdown2"  # mounted at /run/sdnkit-ifupdown2 while ifupdown2 runs
    (work / "interfaces.d").mkdir(parents=True)
    (work / "interfaces").write_text("source /run/sdnkit-ifupdown2/interfaces.d/*\n")
    ifreload = shlex.join([str(IFUPDOWN2), "run", ns, str(work), "ifreload", "-a"])
    argv = ["--output", "json", "agent", "--once", "--backend", "ifupdown2", "--node", "node1",
            "--netns", ns, "--state-dir", str(tmp_path / "agent"),
            "--interfaces-file", str(work / "interfaces.d" / "sdn"), "--ifreload", ifreload]  # fmt: skip
    assert "vnet1" not in lab.links("node1")
    rc, out = lab.sdn(*argv)
    assert rc == 0, out
    assert json.loads(out)["vnets"]["vnet1"]["status"] == "available"
    assert "iface vnet1" in (work / "interfaces.d" / "sdn").read_text()  # the file ifupdown2 read
    vnet1 = lab.links("node1")["vnet1"]  # what ifupdown2 made, read from the kernel
    assert vnet1["linkinfo"]["info_kind"] == "bridge" and "UP" in vnet1["flags"]
    assert "10.0.1.1/24" in addresses(lab, "node1", "vnet1")
    rc, out = lab.sdn("--output", "json", "status", "--node", "node1")
    assert rc == 0 and json.loads(out)[0]["vnets"]["vnet1"]["status"] == "available"


def test_agent_with_the_ifupdown2_backend_reports_a_failing_reload(lab, tmp_path: Path) -> None:
    refuse = "sh -c 'echo refused >&2; exit 1'"
    argv = ["--output", "json", "agent", "--once", "--backend", "ifupdown2", "--node", "node1",
            "--netns", lab.netns("node1"), "--state-dir", str(tmp_path / "agent"),
            "--interfaces-file", str(tmp_path / "sdn"), "--ifreload", refuse]  # fmt: skip
    rc, out = lab.sdn(*argv)
    assert rc == 1
    record = json.loads(out)
    assert record["vnets"]["vnet1"]["status"] == "error" and "refused" in json.dumps(record)
    assert "iface vnet1" in (tmp_path / "sdn").read_text()  # the file was written, the reload refused


def test_dry_run_for_this_node_plans_with_its_live_facts(lab) -> None:
    lab.create("zones", zone="vx", type="vxlan", peers="192.0.2.1,192.0.2.2")
    lab.create("vnets", vnet="vxnet1", zone="vx", tag=100000)  # pending: what apply would add
    this_host = socket.gethostname().split(".")[0]
    for node in ("node1", "node2"):
        done = node_sdn(lab, node, "--output", "json", "dry-run", "--node", this_host)
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        diff = result["interfaces-diff"]
        assert "+auto vxnet1" in diff and "+auto vxlan_vxnet1" in diff
        # the peers but this node itself: its own underlay address, as the kernel has it, is left out
        (underlay,) = [a.split("/")[0] for a in addresses(lab, node, "vmbr0") if "." in a]
        remotes = {line.split()[-1] for line in diff.splitlines() if line.startswith("+\tvxlan_remoteip")}
        assert remotes == {"192.0.2.1", "192.0.2.2"} - {underlay}
        assert {c["id"] for c in result["changes"]} == {"vx", "vxnet1"}
    other = node_sdn(lab, "node1", "--output", "json", "dry-run", "--node", "not-this-host")
    assert other.returncode == 0
    assert "interfaces-diff" not in json.loads(other.stdout)  # another node's facts are not known here
