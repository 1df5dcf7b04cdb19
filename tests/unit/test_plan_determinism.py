"""Same inputs, same bytes: the plan and its files do not depend on input or hash order."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # plan_support.py beside the tests

import pytest
from plan_support import UPLINK

from sdnkit.config.running import RunningConfig
from sdnkit.plan.factsfile import build_facts
from sdnkit.plan.interfaces_file import parse_interfaces
from sdnkit.plan.planner import plan_node
from sdnkit.render.frr import render_frr
from sdnkit.render.ifupdown import render_interfaces

LIST_OPTIONS = ("peers", "nodes", "exitnodes", "isis-ifaces", "rt-import")
LOCAL = "ip nht resolve-via-default\nroute-map X permit 10\n set metric 1\nexit\n"
LOCAL += "interface eth7\n ip ospf area 0\nexit\n"

CONFIG: dict[str, Any] = {
    "version": 42,
    "zones": {
        "ids": {
            "simp": {"type": "simple", "nodes": "n1,n2,n3"},
            "vlz": {"type": "vlan", "bridge": "vmbr0", "mtu": 9000},
            "qz": {"type": "qinq", "bridge": "vmbr0", "tag": 10, "vlan-protocol": "802.1ad"},
            "vxz": {"type": "vxlan", "peers": "192.0.2.3,192.0.2.1,192.0.2.2"},
            "ev1": {
                "type": "evpn",
                "controller": "ctl",
                "vrf-vxlan": 100,
                "exitnodes": "n3,n1",
                "rt-import": "2:2,1:1",
            },
            "ev2": {
                "type": "evpn",
                "controller": "ctl",
                "vrf-vxlan": 200,
                "exitnodes": "n1",
                "exitnodes-local-routing": 1,
            },
        }
    },
    "vnets": {
        "ids": {
            **{f"s{i}": {"type": "vnet", "zone": "simp"} for i in range(5)},
            **{f"l{i}": {"type": "vnet", "zone": "vlz", "tag": 100 + i} for i in range(5)},
            **{f"q{i}": {"type": "vnet", "zone": "qz", "tag": 200 + i} for i in range(5)},
            **{f"x{i}": {"type": "vnet", "zone": "vxz", "tag": 300 + i} for i in range(5)},
            **{
                f"e{i}": {"type": "vnet", "zone": "ev1" if i % 2 else "ev2", "tag": 400 + i} for i in range(5)
            },
        }
    },
    "subnets": {
        "ids": {
            **{
                f"simp-10.{i}.0.0-24": {
                    "type": "subnet",
                    "vnet": f"s{i}",
                    "gateway": f"10.{i}.0.1",
                    "snat": 1,
                }
                for i in range(5)
            },
            **{
                f"ev1-10.9{i}.0.0-24": {"type": "subnet", "vnet": f"e{i}", "gateway": f"10.9{i}.0.1"}
                for i in (1, 3)
            },
            **{
                f"ev2-2001:db8:{i}::-64": {"type": "subnet", "vnet": f"e{i}", "gateway": f"2001:db8:{i}::1"}
                for i in (0, 2, 4)
            },
        }
    },
    "controllers": {
        "ids": {
            "ctl": {"type": "evpn", "asn": 65000, "peers": "192.0.2.2,192.0.2.1,192.0.2.9"},
            "b1": {"type": "bgp", "asn": 65001, "node": "n1", "peers": "192.0.2.253,192.0.2.252", "ebgp": 1},
            "is1": {
                "type": "isis",
                "node": "n1",
                "isis-domain": "d",
                "isis-ifaces": "eth1,eth0",
                "isis-net": "49.0001.1921.6800.0001.00",
            },
        }
    },
    "fabrics": {
        "ids": {
            "of": {"type": "openfabric_fabric", "ip_prefix": "172.20.3.0/24"},
            "of_n1": {
                "type": "openfabric_node",
                "ip": "172.20.3.1",
                "interfaces": ["name=ens21", "name=ens20"],
            },
            "of_n2": {"type": "openfabric_node", "ip": "172.20.3.2", "interfaces": ["name=ens20"]},
        }
    },
}


def shuffled(value: Any, rng: random.Random) -> Any:
    """The same configuration with every object's keys and every list option in another order."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        out = {}
        for key, item in items:
            if key in LIST_OPTIONS:
                parts = item.split(",")
                rng.shuffle(parts)
                item = ",".join(parts)
            out[key] = shuffled(item, rng)
        return out
    return value


def shuffled_interfaces(rng: random.Random) -> str:
    stanzas = UPLINK.split("\n\n")
    rng.shuffle(stanzas)
    return "\n\n".join(s.strip("\n") for s in stanzas) + "\n"


def render(config: dict[str, Any], interfaces: str, node: str = "n1") -> tuple[str, str]:
    running = RunningConfig.loads(json.dumps(config))
    facts = build_facts(
        {"node": node, "underlay_iface": "vmbr0", "mac": "02:00:00:00:00:01"},
        parse_interfaces(interfaces),
        LOCAL,
    )
    plan = plan_node(running, facts)
    assert plan.frr is not None
    return render_interfaces(plan), render_frr(plan.frr)


def test_same_inputs_same_bytes_and_equal_plans() -> None:
    first = render(CONFIG, UPLINK)
    assert render(CONFIG, UPLINK) == first
    running = RunningConfig.loads(json.dumps(CONFIG))
    facts = build_facts({"node": "n1", "underlay_iface": "vmbr0"}, parse_interfaces(UPLINK), LOCAL)
    assert plan_node(running, facts) == plan_node(running, facts)
    assert "vrf vrf_ev2" in first[1] and "auto q4" in first[0]  # the config exercises every part


@pytest.mark.parametrize("seed", range(8))
def test_input_order_does_not_matter(seed: int) -> None:
    rng = random.Random(seed)
    assert render(shuffled(CONFIG, rng), shuffled_interfaces(rng)) == render(CONFIG, UPLINK)


def test_independent_of_hash_seed(tmp_path: Path) -> None:
    """Two interpreters with different string hash seeds write the same files."""
    script = tmp_path / "render.py"
    script.write_text(
        "import json, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import test_plan_determinism as t\n"
        "sdn, frr = t.render(t.CONFIG, t.UPLINK)\n"
        "sys.stdout.write(sdn + frr)\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, str(script)],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1 and next(iter(outputs)).startswith("#version:42\n")
