"""The commands and the agent on an etcd store: an edit on the store, realized in a node's namespace.

The lab on etcd (``sdn lab up --etcd``) is the cluster part's; this checks the store's share:
``sdn --store etcd://...`` edits, applies, ``sdn agent`` realizes from the store and reports its
status into it, and ``sdn status`` reads that back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import netns_unavailable

pytestmark = [pytest.mark.kernel, pytest.mark.services]

SDN = str(Path(sys.executable).with_name("sdn"))


@pytest.fixture
def netns() -> Iterator[str]:
    reason = netns_unavailable()
    if reason:
        pytest.fail(reason) if os.environ.get("CI") else pytest.skip(reason)
    name = f"st-ag{os.getpid() % 100000}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def sdn(url: str, *args: str) -> str:
    done = subprocess.run(
        [SDN, "--store", url, *args], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, f"sdn {' '.join(args)}: {done.stderr}"
    return done.stdout


def test_an_edit_on_etcd_is_realized_by_the_agent(etcd_url: str, netns: str, tmp_path: Path) -> None:
    sdn(etcd_url, "zone", "create", "stz", "--type", "simple", "--ipam", "pve")
    sdn(etcd_url, "vnet", "create", "stv", "--zone", "stz")
    sdn(etcd_url, "subnet", "create", "stv", "10.77.0.0/24", "--gateway", "10.77.0.1")
    link = subprocess.run(
        ["ip", "-n", netns, "-j", "addr", "show"], capture_output=True, text=True, check=True
    )
    assert "stv" not in {i["ifname"] for i in json.loads(link.stdout)}  # pending: nothing yet
    sdn(etcd_url, "apply")
    agent = ["agent", "--once", "--node", "n1", "--netns", netns, "--no-firewall"]
    sdn(
        etcd_url,
        "-o",
        "json",
        *agent,
        "--state-dir",
        str(tmp_path / "agent"),
        "--dhcp-root",
        str(tmp_path / "dhcp"),
    )
    link = subprocess.run(
        ["ip", "-n", netns, "-j", "addr", "show", "stv"], capture_output=True, text=True, check=True
    )
    addrs = {f"{a['local']}/{a['prefixlen']}" for i in json.loads(link.stdout) for a in i["addr_info"]}
    assert "10.77.0.1/24" in addrs  # the gateway on the vnet bridge, from the kernel
    records = json.loads(sdn(etcd_url, "-o", "json", "status"))
    assert [(r["node"], r["vnets"]["stv"]["status"]) for r in records] == [("n1", "available")]
