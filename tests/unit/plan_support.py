"""Small builders for planner and renderer tests: configs, node facts, and reading the output."""

from __future__ import annotations

from typing import Any

from sdnkit.config.running import RunningConfig
from sdnkit.plan.desired import AnyLink, NodePlan
from sdnkit.plan.facts import NodeFacts
from sdnkit.plan.factsfile import build_facts
from sdnkit.plan.interfaces_file import parse_interfaces
from sdnkit.plan.planner import plan_node
from sdnkit.render.frr import render_frr
from sdnkit.render.ifupdown import render_interfaces

# a node with a plain Linux uplink bridge (two NICs) carrying the underlay address
UPLINK = """\
auto lo
iface lo inet loopback

auto vmbr0
iface vmbr0 inet static
\taddress 192.0.2.1/24
\tgateway 192.0.2.254
\tbridge-ports eth0 eth1
\tbridge-stp off
\tbridge-fd 0

iface vmbr0 inet6 static
\taddress 2001:db8::1/64
"""

VLAN_AWARE_UPLINK = """\
auto vmbr0
iface vmbr0 inet static
\taddress 192.0.2.1/24
\tbridge-ports eth0
\tbridge-vlan-aware yes
\tbridge-vids 2-4094
"""

OVS_UPLINK = """\
auto eth0
iface eth0 inet manual
\tovs_type OVSPort
\tovs_bridge vmbr0

auto vmbr0
iface vmbr0 inet static
\taddress 192.0.2.1/24
\tovs_type OVSBridge
\tovs_ports eth0
"""

NODE_FACTS: dict[str, Any] = {"node": "n1", "mac": "02:00:0a:0b:0c:0d", "underlay_iface": "vmbr0"}


def config(version: int = 1, **kinds: dict[str, dict[str, Any]]) -> RunningConfig:
    """A running config: ``config(zones={...}, vnets={...}, subnets={...}, controllers=..., fabrics=...)``."""
    return RunningConfig.from_json({"version": version, **{k: {"ids": v} for k, v in kinds.items()}})


def facts(interfaces: str = UPLINK, frr_local: str | None = None, **overrides: Any) -> NodeFacts:
    data = {**NODE_FACTS, **overrides}
    return build_facts(
        {k: v for k, v in data.items() if v is not None}, parse_interfaces(interfaces), frr_local
    )


def plan(cfg: RunningConfig, node: NodeFacts | None = None) -> NodePlan:
    return plan_node(cfg, node or facts())


def render(cfg: RunningConfig, node: NodeFacts | None = None) -> tuple[str, str | None]:
    """(interfaces.d/sdn text, frr.conf text or None)."""
    result = plan(cfg, node)
    return render_interfaces(result), render_frr(result.frr) if result.frr is not None else None


def link(result: NodePlan, name: str) -> AnyLink:
    found = result.link(name)
    assert found is not None, f"no link {name!r} in {[x.name for x in result.links]}"
    return found


def stanza(text: str, name: str) -> list[str]:
    """The option lines of the first ``iface <name>`` stanza of an interfaces text."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.split()[:2] == ["iface", name]:
            body = []
            for option in lines[i + 1 :]:
                if not option.startswith("\t"):
                    break
                body.append(option[1:])
            return body
    raise AssertionError(f"no stanza {name!r} in:\n{text}")


def stanza_names(text: str) -> list[str]:
    return [line.split()[1] for line in text.splitlines() if line.startswith("iface ")]


def block(text: str, header: str) -> list[str]:
    """The lines of the first FRR block starting with ``header`` (up to its ``exit``)."""
    lines = text.splitlines()
    start = lines.index(header)
    end = next(i for i in range(start + 1, len(lines)) if lines[i] in ("exit", "exit-vrf"))
    return lines[start + 1 : end]


def blocks(text: str) -> list[str]:
    """The FRR block headers and top-level statements, in order (without ``!``/``exit`` lines)."""
    return [
        line for line in text.splitlines() if line and line[0] not in " !" and not line.startswith("exit")
    ]
