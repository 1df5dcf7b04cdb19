"""``sdn lab up --kernel uml``: the lab inside a User-Mode-Linux kernel, driven from this host.

The seed's VLAN example (which this host kernel cannot run) goes through the same commands as on
the host: the store is this host's, every ``sdn lab`` command is forwarded into the UML kernel,
and the agents' status records come back into the store.
"""

from __future__ import annotations

import json
import platform

import pytest

pytestmark = [pytest.mark.kernel, pytest.mark.slow, pytest.mark.needs("root", "uml")]


@pytest.fixture(scope="module")
def lab(make_lab):
    """The seed's VLAN example in a UML lab (one boot for the module; the tests only read it)."""
    env = make_lab(nodes=2, kernel="uml")
    env.create("zones", zone="vlanzone", type="vlan", bridge="vmbr0")
    env.create("vnets", vnet="myvnet1", zone="vlanzone", tag=10)
    env.create("vnets", vnet="myvnet2", zone="vlanzone", tag=11)
    env.apply()
    env.guest("vm1", node="node1", vnet="myvnet1", ip="10.0.3.100/24")
    env.guest("vm2", node="node2", vnet="myvnet1", ip="10.0.3.101/24")
    env.guest("vm9", node="node2", vnet="myvnet2", ip="10.0.3.109/24")
    env.guest("vm10", node="node1", vnet="myvnet2", ip="10.0.3.110/24")
    return env


def lab_ping(lab, member, target):
    return (
        lab.sdn("lab", "exec", "--name", lab.name, member, "--", "ping", "-c1", "-w2", "-q", target)[0] == 0
    )


def test_vlan_example_works_inside_uml(lab):
    assert lab_ping(lab, "vm1", "10.0.3.101")
    assert lab_ping(lab, "vm9", "10.0.3.110")  # VLAN 11 works too...
    assert not lab_ping(lab, "vm9", "10.0.3.100")  # ...and stays apart from VLAN 10


def test_status_records_come_back_to_the_host_store(lab):
    rc, out = lab.sdn("--output", "json", "status")
    records = {r["node"]: r for r in json.loads(out)}
    assert rc == 0 and sorted(records) == ["node1", "node2"]
    assert records["node2"]["vnets"]["myvnet1"]["status"] == "available"


def test_exec_runs_in_the_uml_kernel_and_returns_output_and_exit_code(lab):
    rc, out = lab.sdn("lab", "exec", "--name", lab.name, "node2", "--", "sh", "-c", "uname -r; exit 5")
    assert rc == 5
    assert out.strip() and out.strip() != platform.release()  # UML's kernel, not this host's
