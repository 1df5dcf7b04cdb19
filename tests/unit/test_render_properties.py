"""Any value the validator accepts renders into files that read back with the same structure.

A configuration with every zone type, controllers and fabrics has its options replaced by
generated values, well meant and hostile (``value_strategies``); a value its format refuses
falls back to a plain one, and a configuration that breaks a cross-object rule is left out.
Whatever passes validation is planned for node ``n1`` and rendered, and then:

* ifupdown2's own parser reads the interfaces file without an error: every stanza is a link of
  the plan, every option line is one option of a known key, and every alias is read back as
  the plan has it (no line joined, added or cut);
* the FRR configuration's blocks are balanced, no line is a comment or carries one, and the
  route targets, neighbours and interface names read back as configured;
* every dnsmasq line is one known option with its number of comma-separated arguments;
* the nftables sets and NAT rules, and the iptables-restore rules, have one word per value;
* every kernel change of an apply onto an empty node is one ``ip``/``bridge`` batch line that
  splits back into its arguments, or a command whose arguments are exactly the values.

``test_real_tools_accept_generated_files`` hands a few of these files to ``vtysh`` and
``dnsmasq --test`` as well.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from tests.unit.ifupdown2_reader import read_interfaces
from tests.unit.plan_support import facts
from tests.unit.value_strategies import HOSTILE_PIECES, PROFILE, insert, shaped, values

from sdnkit.config.model import SdnConfig
from sdnkit.config.running import RunningConfig
from sdnkit.config.schema import OPTIONS, Kind, option_format
from sdnkit.config.section import section_type
from sdnkit.config.validate import check_config
from sdnkit.plan.desired import Existing, NodePlan
from sdnkit.plan.planner import plan_node
from sdnkit.realize.base import Tool
from sdnkit.realize.diff import diff
from sdnkit.realize.iptables import IptablesLegacyNat
from sdnkit.realize.kernel_state import KernelState, LinkState
from sdnkit.realize.nftables import NftablesNat
from sdnkit.realize.ownership import Ownership
from sdnkit.realize.spec import build_spec
from sdnkit.render.frr import render_frr
from sdnkit.render.ifupdown import render_interfaces
from sdnkit.render.nftables_sets import nft_sets
from sdnkit.render.services import node_service_files

# node n1's network: an uplink bridge with the underlay address, a loopback for BGP
INTERFACES = """\
auto lo1
iface lo1 inet static
\taddress 10.99.0.1/32

auto vmbr0
iface vmbr0 inet static
\taddress 192.0.2.1/24
\tbridge-ports eth0 eth1

iface vmbr0 inet6 static
\taddress 2001:db8:ff::1/64
"""

BASE: dict[str, dict[str, dict[str, Any]]] = {
    "zones": {
        "zs": {"type": "simple", "ipam": "pve", "dhcp": "dnsmasq", "mtu": 1450},
        "zv": {"type": "vlan", "bridge": "vmbr0"},
        "zq": {"type": "qinq", "bridge": "vmbr0", "tag": 20, "vlan-protocol": "802.1ad"},
        "zx": {"type": "vxlan", "peers": "192.0.2.1,192.0.2.2", "vxlan-port": 4790},
        "ze": {
            "type": "evpn",
            "controller": "ctl",
            "vrf-vxlan": 10000,
            "mac": "02:00:00:00:00:01",
            "exitnodes": "n1",
            "rt-import": "65001:1",
            "advertise-subnets": 1,
        },
    },
    "vnets": {
        "vs": {"type": "vnet", "zone": "zs", "alias": "simple net"},
        "vv": {"type": "vnet", "zone": "zv", "tag": 10, "alias": "vlan net"},
        "vq": {"type": "vnet", "zone": "zq", "tag": 30},
        "vx": {"type": "vnet", "zone": "zx", "tag": 100, "alias": "vxlan net"},
        "ve": {"type": "vnet", "zone": "ze", "tag": 200, "alias": "evpn net"},
    },
    "subnets": {
        "zs-10.0.0.0-24": {
            "type": "subnet",
            "vnet": "vs",
            "gateway": "10.0.0.1",
            "snat": 1,
            "dhcp-range": ["start-address=10.0.0.100,end-address=10.0.0.200"],
            "dhcp-dns-server": "10.0.0.53",
        },
        "zs-2001:db8:1::-64": {
            "type": "subnet",
            "vnet": "vs",
            "gateway": "2001:db8:1::1",
            "dhcp-dns-server": "2001:db8:1::53",
        },
        "ze-10.5.0.0-24": {"type": "subnet", "vnet": "ve", "gateway": "10.5.0.1"},
    },
    "controllers": {
        "ctl": {"type": "evpn", "asn": 65000, "peers": "192.0.2.1,192.0.2.2"},
        "b1": {
            "type": "bgp",
            "asn": 65000,
            "node": "n1",
            "peers": "192.0.2.254",
            "loopback": "lo1",
            "ebgp": 1,
            "ebgp-multihop": 2,
        },
        "i1": {
            "type": "isis",
            "node": "n1",
            "isis-domain": "core",
            "isis-ifaces": "eth0,eth1",
            "isis-net": "49.0001.1921.6800.0001.00",
        },
    },
    "fabrics": {
        "of": {"type": "openfabric_fabric", "ip_prefix": "172.20.3.0/24", "hello_interval": 2},
        "of_n1": {"type": "openfabric_node", "ip": "172.20.3.1", "interfaces": ["name=ens20"]},
        "os": {"type": "ospf_fabric", "ip_prefix": "172.20.30.0/24", "area": "0"},
        "os_n1": {"type": "ospf_node", "ip": "172.20.30.1", "interfaces": ["name=ens21,ip=10.9.0.1/31"]},
    },
}


def _hostile_too(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` values, and the same with a hostile piece after them (a zone ID, a second value)."""
    return good | st.builds(lambda v, piece: f"{v}{piece}", good, st.sampled_from(HOSTILE_PIECES))


def _in(network: str, first: int = 1) -> st.SearchStrategy[str]:
    """Addresses of a network (its gateways, its members), and hostile variants of them."""
    net = ipaddress.ip_network(network)
    hosts = st.integers(first, min(net.num_addresses - 2, 2**20)).map(lambda i: str(net.network_address + i))
    return _hostile_too(hosts)


def _range(network: str) -> st.SearchStrategy[list[str]]:
    net = ipaddress.ip_network(network)
    first = st.integers(2, 99)
    return st.builds(
        lambda a, n: [f"start-address={net.network_address + a},end-address={net.network_address + a + n}"],
        first,
        st.integers(0, 50),
    )


def _fmt(kind: str, obj: dict[str, Any], key: str) -> Any:
    k = Kind(kind)
    return option_format(k, section_type(k, obj["type"]), key)


# references keep their BASE value: another value names an object that does not exist
KEPT = {"type", "zone", "vnet", "ipam", "controller", "fabric", "node", "ip_prefix", "ip6_prefix"}
VLAN_TAGS = _hostile_too(st.integers(1, 4094))
ALIAS = OPTIONS[Kind.VNETS]["alias"]
# the one free text of the node files: half of the aliases carry what ifupdown2 reads specially
ALIASES = shaped(ALIAS.format) | st.builds(
    insert,
    shaped(ALIAS.format),
    st.sampled_from(["\\", "$", "%", "${", "<%", "##", "\n", "\r", "\u2028", "\x85"]),
    st.integers(0, 300),
)
# <bridge>v<tag> must fit the kernel's 15 characters
BRIDGES = _hostile_too(st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,8}", fullmatch=True))
# options whose valid values depend on the rest of the configuration
VARIED: dict[tuple[str, str, str], st.SearchStrategy[Any]] = {
    ("subnets", "zs-10.0.0.0-24", "gateway"): _in("10.0.0.0/24"),
    ("subnets", "zs-10.0.0.0-24", "dhcp-range"): _range("10.0.0.0/24"),
    ("subnets", "zs-2001:db8:1::-64", "gateway"): _in("2001:db8:1::/64"),
    ("subnets", "ze-10.5.0.0-24", "gateway"): _in("10.5.0.0/24"),
    ("vnets", "vv", "tag"): VLAN_TAGS,
    ("vnets", "vq", "tag"): VLAN_TAGS,
    ("zones", "zq", "tag"): VLAN_TAGS,
    ("zones", "zv", "bridge"): BRIDGES,
    **{("vnets", vnet, "alias"): ALIASES for vnet in ("vs", "vv", "vx", "ve")},
    ("zones", "zq", "bridge"): BRIDGES,
    ("fabrics", "of_n1", "ip"): _in("172.20.3.0/24"),
    ("fabrics", "os_n1", "ip"): _in("172.20.30.0/24"),
    # an interface is in one fabric only: the OpenFabric node's interfaces vary, these do not
    ("fabrics", "os_n1", "interfaces"): st.just(BASE["fabrics"]["os_n1"]["interfaces"]),
}
# every other option of BASE: any value of its format, well meant or hostile
for _kind, _objs in BASE.items():
    for _id, _obj in _objs.items():
        for _key in _obj:
            if _key not in KEPT and (_kind, _id, _key) not in VARIED:
                VARIED[(_kind, _id, _key)] = values(_fmt(_kind, _obj, _key))


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    """BASE with every varied option drawn; a value its format refuses keeps the BASE value."""
    data: dict[str, Any] = {kind: {i: dict(o) for i, o in objs.items()} for kind, objs in BASE.items()}
    for (kind, id_, key), strategy in VARIED.items():
        obj = data[kind][id_]
        raw = draw(strategy)
        try:
            _fmt(kind, obj, key).parse(raw)
        except ValueError:
            continue
        obj[key] = raw
    return {"version": 1, **{kind: {"ids": objs} for kind, objs in data.items()}}


def _planned(data: dict[str, Any]) -> tuple[SdnConfig, NodePlan] | None:
    running = RunningConfig.from_json(data)
    if check_config(running.config):
        event("a cross-object rule refused the configuration")
        return None
    return running.config, plan_node(running, facts(INTERFACES, underlay_iface="vmbr0"))


@PROFILE
@given(data=configs())
def test_accepted_values_render_into_files_that_read_back_the_same(data: dict[str, Any]) -> None:
    planned = _planned(data)
    if planned is None:
        return
    config, plan = planned
    check_interfaces(plan)
    check_frr(plan, config)
    check_service_files(plan)
    check_nat(plan)
    check_commands(plan)


# ifupdown2 -------------------------------------------------------------------------------------

IFUPDOWN_KEYS = {
    "address",
    "alias",
    "arp-accept",
    "bridge-arp-nd-suppress",
    "bridge-fd",
    "bridge-learning",
    "bridge-ports",
    "bridge-stp",
    "bridge-vids",
    "bridge-vlan-aware",
    "bridge-vlan-protocol",
    "hwaddress",
    "ip-forward",
    "ip6-forward",
    "link-type",
    "mtu",
    "ovs-bridge",
    "ovs-mtu",
    "ovs-options",
    "ovs-ports",
    "ovs-type",
    "post-down",
    "post-up",
    "up",
    "veth-peer-name",
    "vlan-id",
    "vlan-protocol",
    "vlan-raw-device",
    "vrf",
    "vrf-table",
    "vxlan-id",
    "vxlan-local-tunnelip",
    "vxlan-port",
    "vxlan-remoteip",
}


def check_interfaces(plan: NodePlan) -> None:
    text = render_interfaces(plan)
    parsed = read_interfaces(text)
    assert parsed.errors == 0, text
    headers = [line.split()[1] for line in text.split("\n") if line.startswith("iface ")]
    assert [s.name for s in parsed.stanzas] == headers
    links = {link.name: link for link in plan.links}
    assert set(headers) <= set(links)
    option_lines = sum(1 for line in text.split("\n") if line.startswith("\t"))
    assert sum(len(values) for s in parsed.stanzas for _, values in s.options) == option_lines
    for stanza in parsed.stanzas:
        assert {key for key, _ in stanza.options} <= IFUPDOWN_KEYS, stanza
        alias = links[stanza.name].alias
        assert stanza.get("alias") == ((alias,) if alias else ())


# FRR -------------------------------------------------------------------------------------------

OPENERS = {"router": "exit", "vrf": "exit-vrf", "interface": "exit", "route-map": "exit"}


def frr_blocks(text: str) -> list[tuple[str, list[str]]]:
    """The top-level statements with their indented lines; blocks must close as they opened."""
    blocks: list[tuple[str, list[str]]] = []
    closer: str | None = None
    families = 0
    for line in text.split("\n")[:-1]:
        assert re.fullmatch(r"[\x20-\x7e]*", line), line
        if line.strip() == "!":
            continue
        assert "!" not in line and "#" not in line, line
        if line.startswith(" "):
            assert closer is not None, line
            families += line.strip().startswith("address-family") - (line.strip() == "exit-address-family")
            blocks[-1][1].append(line.strip())
        elif closer is not None and line == closer:
            assert families == 0
            closer = None
        else:
            assert closer is None or line.split()[0] == "line", (closer, line)
            blocks.append((line, []))
            closer = OPENERS.get(line.split()[0])
    assert closer is None
    return blocks


def check_frr(plan: NodePlan, config: SdnConfig) -> None:
    """Blocks balanced, no comment anywhere, and the configured words read back as words."""
    assert plan.frr is not None  # node n1 has BGP, IS-IS and fabrics
    blocks = frr_blocks(render_frr(plan.frr))
    lines = [line for _, body in blocks for line in body]
    headers = [head for head, _ in blocks]
    for rt in config.zones["ze"].rt_import:
        assert f"route-target import {rt}" in lines
    isis = config.controllers["i1"]
    assert f"router isis {isis.isis_domain}" in headers
    assert f"net {isis.isis_net}" in lines
    for name in isis.isis_ifaces:
        assert f"interface {name}" in headers
    for fabric_iface in config.fabric_nodes["of_n1"].interfaces:
        assert f"interface {fabric_iface.name}" in headers


# dnsmasq and nftables --------------------------------------------------------------------------

# options with values from the configuration, by how their value starts: their argument count
DNSMASQ_FIELDS = {("dhcp-range", "set:"): 5, ("dhcp-option", "tag:"): 3, ("interface", ""): 1}


def check_service_files(plan: NodePlan) -> None:
    for name, text in node_service_files(plan).items():
        if name.endswith(".nft"):
            check_ipsets(plan, text)
            continue
        for line in text.split("\n")[:-1]:
            assert re.fullmatch(r"[\x20-\x7e]*", line), line
            if not line or line.startswith("#"):
                continue
            if name.endswith("/ethers"):
                fields = line.split(",")
                assert all(re.fullmatch(r"[0-9a-f:.]+|\[[0-9a-f:.]+\]", f) for f in fields), line
                continue
            if name.endswith("/vrf"):
                assert re.fullmatch(r"[A-Za-z0-9_]+", line), line
                continue
            key, _, value = line.partition("=")
            for (option, start), count in DNSMASQ_FIELDS.items():
                if key == option and value.startswith(start):
                    assert len(value.split(",")) == count, line


def check_ipsets(plan: NodePlan, text: str) -> None:
    declared = re.findall(r"^\tset (\S+) \{$", text, re.MULTILINE)
    assert declared == [
        s.name for ipset in sorted(plan.ipsets, key=lambda s: s.name) for s in nft_sets(ipset)
    ]
    assert text.count("{") == text.count("}")


def check_nat(plan: NodePlan) -> None:
    if not plan.snat:
        return
    rules = [line.split() for line in NftablesNat().render(plan.snat).split("\n") if " snat " in line]
    assert len(rules) == len(plan.snat) and all(len(words) in (9, 12) for words in rules), rules
    restore = [
        shlex.split(line) for line in IptablesLegacyNat().render(plan.snat).split("\n") if "SNAT" in line
    ]
    assert len(restore) == len(plan.snat) and all(len(words) == 10 for words in restore), restore


# kernel commands -------------------------------------------------------------------------------


def check_commands(plan: NodePlan) -> None:
    spec = build_spec(plan)
    # the node's own links, which the plan uses but does not make
    existing = {"vmbr0": "bridge", "eth0": "", "eth1": "", "lo1": "dummy"}
    existing |= {
        link.name: "" for link in plan.links if isinstance(link, Existing) and link.name not in existing
    }
    cur = KernelState(
        links={n: LinkState(name=n, kind=k, ifindex=i + 1) for i, (n, k) in enumerate(existing.items())}
    )
    aliases = {link.name: link.alias for link in plan.links if link.alias}
    for change in diff(spec, cur, Ownership()).ordered():
        step = change.step
        if step.batchable:
            line = " ".join(step.args)
            assert "\n" not in line and line.split(" ") == list(step.args), step
        elif step.tool is Tool.ARGV and "alias" in step.args:
            name = step.args[step.args.index("dev") + 1]
            assert step.args[step.args.index("alias") + 1 :] == (aliases[name],), step
        elif step.tool is not Tool.SYSCTL:
            assert all(arg and arg == arg.strip() for arg in step.args), step


# the real tools, on a few generated configurations ----------------------------------------------


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed")
        pytest.skip(f"{name} is not installed (scripts/install-deps.sh installs it)")
    return path


@settings(PROFILE, max_examples=max(3, PROFILE.max_examples // 10))
@given(data=configs())
def test_real_tools_accept_generated_files(data: dict[str, Any]) -> None:
    vtysh, dnsmasq = _tool("vtysh"), _tool("dnsmasq")
    # a BGP controller with another ASN than the EVPN one makes eBGP EVPN, whose "autort as" is new
    # in FRR 10 (the installed one may be older, see tests/services/test_frr_render.py)
    controllers = data["controllers"]["ids"]
    controllers["b1"]["asn"] = controllers["ctl"]["asn"]
    planned = _planned(data)
    if planned is None:
        return
    plan = planned[1]
    with tempfile.TemporaryDirectory(prefix="values-tools-") as tmp:
        root = Path(tmp)
        (root / "frr.conf").write_text(render_frr(plan.frr))
        done = subprocess.run(
            [vtysh, "--dryrun", "-f", str(root / "frr.conf")], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
        for name, text in node_service_files(plan).items():
            if name.startswith("dnsmasq.d/"):
                path = root / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
        for zone_dir in sorted((root / "dnsmasq.d").iterdir()):
            argv = [dnsmasq, "--test", "--conf-file=/dev/null", f"--conf-dir={zone_dir},*.conf"]
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
            assert done.returncode == 0, done.stderr
