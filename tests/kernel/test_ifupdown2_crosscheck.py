"""Cross-check: the reconciler and ifupdown2 build the same kernel state from the same plan.

For every upstream fixture case (``../shared/fixtures/pve-zones/<type>/<case>/``), the node is
planned as upstream's test harness does (``tests/compat``), then, in two namespaces that start with
the same host network (the fixture's ``interfaces`` file brought up by ifupdown2, with a veth as
each NIC):

* ours: ``apply_plan(plan)``;
* theirs: ifupdown2's ``ifreload -a`` on the host file plus our rendered ``sdn`` file (Debian's
  ifupdown2, unpacked by ``scripts/ifupdown2.sh`` and run inside the namespace).

The two must agree on links, kinds, kind data, masters, MTUs, up state, addresses, bridge-port
flags and flood FDB entries, and a second apply of the plan must change nothing. Cases needing
VLAN devices, VLAN-aware bridges or VRF are marked ``uml`` (they run inside User-Mode-Linux);
Open vSwitch cases do not apply (no OVS here), nor do those Debian's ifupdown2 3.0 refuses (PVE's
fork accepts them) and those whose files equal an earlier case's. Where ifupdown2 differs on
purpose, the expected value comes from the fixture or the kernel, never from our side.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prerequisites import not_applicable, not_applicable_mark, pve_case_params, require

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "compat"))  # equivalence.py, a file reader
from equivalence import parse_interfaces as read_interfaces_text

IFUPDOWN2 = Path(__file__).resolve().parents[2] / "scripts" / "ifupdown2.sh"
# what upstream's run_test_zones.pl mocks (the same as tests/compat)
FACTS = {
    "node": "localhost",
    "mac": "bc:24:11:1d:69:60",
    "underlay_iface": "vmbr0",
    "bridge_ports": {"vmbr0": ["eth0"]},
}
NIC = re.compile(r"\b(?:eth|ens|eno|enp|enx)[0-9a-z]*\b")  # physical NICs: made as veths
# Debian's ifupdown2 3.0 refuses what PVE's fork (3.2+pmx) accepts: several VLAN-aware bridges, and
# VLAN devices as ports of a VLAN-aware bridge (QinQ zones); such cases cannot be cross-checked here
IFUPDOWN2_LIMITS = (
    "Only one object with attribute 'bridge-vlan-aware yes' allowed",
    "vlan sub-interface is not supported in a vlan-aware bridge",
    "invalid vxlan-local-tunnelip",  # an IPv6 underlay
)
# what the fixture's own host interfaces file needs from the kernel
HOST_FEATURES = {"bridge-vlan-aware": "vlan_filtering", "link-type dummy": "dummy", "vrf": "vrf"}
_COUNTER = itertools.count()


def _plan(case: Path) -> Any:
    from sdnkit.config.running import RunningConfig
    from sdnkit.plan.factsfile import build_facts
    from sdnkit.plan.interfaces_file import parse_interfaces
    from sdnkit.plan.planner import plan_node

    running = RunningConfig.loads((case / "running-config.json").read_text())
    interfaces = parse_interfaces((case / "interfaces").read_text(), str(case / "interfaces"))
    local = case / "frr.conf.local"
    return plan_node(running, build_facts(FACTS, interfaces, local.read_text() if local.is_file() else None))


def _needs(case: Path) -> tuple[set[str], str | None]:
    """Kernel features the case needs, and a reason to skip it whatever the kernel."""
    from sdnkit.plan import desired as d

    plan = _plan(case)
    features: set[str] = set()
    host = (case / "interfaces").read_text()
    for marker, feature in HOST_FEATURES.items():
        if marker in host:
            features.add(feature)
    for link in plan.links:
        if isinstance(link, d.OvsIntPort) or (isinstance(link, d.Existing) and link.ovs_ports):
            return features, "Open vSwitch is not available here"
        if isinstance(link, d.Vlan):
            features.add("qinq" if link.protocol.lower() == "802.1ad" else "vlan")
        if isinstance(link, d.Bridge) and (link.vlan_aware or any("." in p for p in link.ports)):
            features.add("vlan_filtering" if link.vlan_aware else "vlan")
        if isinstance(link, d.Vrf):
            features.add("vrf")
        if isinstance(link, d.Dummy):
            features.add("dummy")
    return features, None


def _params() -> Iterator[Any]:
    """One case per fixture; a case the planner cannot plan is a failing case, never a skip."""
    from sdnkit.render.ifupdown import render_interfaces

    checked: dict[str, str] = {}  # what ifupdown2 gets -> the first case that gives it
    for param in pve_case_params():
        case = param.values[0]
        if case is None:  # no fixtures: the test's needs("pve-fixtures") says so
            yield pytest.param(None, set(), id=param.id, marks=pytest.mark.kernel)
            continue
        try:
            features, never = _needs(case)
            rendered = (case / "interfaces").read_text() + "\n" + render_interfaces(_plan(case))
        except Exception:  # a planner bug fails this case (at run time), the other cases go on
            yield pytest.param(case, None, id=param.id, marks=pytest.mark.kernel)
            continue
        never = never or _ifupdown2_refuses(rendered)
        if not never and rendered in checked:  # many EVPN cases differ only in their FRR part
            never = f"ifupdown2 gets the same files as for {checked[rendered]}, checked there"
        checked.setdefault(rendered, param.id)
        marks = [pytest.mark.uml if features else pytest.mark.kernel]
        if never:
            marks.append(not_applicable_mark(never))
        yield pytest.param(case, features, marks=marks, id=param.id)


def _ifupdown2_refuses(text: str) -> str | None:
    """A reason when the files hit a known limit of Debian's ifupdown2 (checked again at run time)."""
    stanzas = [block for block in re.split(r"\n(?=auto |iface )", text) if block.startswith("iface ")]
    aware = [b for b in stanzas if re.search(r"bridge-vlan-aware (yes|1)", b)]
    reason = "Debian's ifupdown2 3.0 refuses this configuration: {}"
    if len(aware) > 1:
        return reason.format(IFUPDOWN2_LIMITS[0])
    vlans = {b.split()[1] for b in stanzas if "vlan-raw-device" in b}
    ports = {p for b in aware for m in re.finditer(r"bridge[-_]ports (.*)", b) for p in m[1].split()}
    if any("." in p or p in vlans for p in ports):
        return reason.format(IFUPDOWN2_LIMITS[1])
    if re.search(r"vxlan-local-tunnelip \S*:", text):
        return reason.format(IFUPDOWN2_LIMITS[2])
    return None


@pytest.fixture(scope="module")
def ifupdown2() -> Path:
    """Debian's ifupdown2, unpacked (``make install`` does it once); a failed download is a missing tool."""
    require("ifupdown2")
    done = subprocess.run([str(IFUPDOWN2), "prepare"], capture_output=True, text=True, check=True)
    return Path(done.stdout.strip())


def _nics(case: Path, plan: Any) -> set[str]:
    names = {link.name for link in plan.links} | {
        p for link in plan.links for p in getattr(link, "ports", ())
    }
    return set(NIC.findall((case / "interfaces").read_text())) | {n for n in names if NIC.fullmatch(n)}


@pytest.fixture
def pair() -> Iterator[tuple[str, str]]:
    base = f"xc{os.getpid() % 100000}n{next(_COUNTER)}"
    names = (f"{base}o", f"{base}i")
    for ns in names:
        subprocess.run(["ip", "netns", "add", ns], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
    yield names
    for ns in names:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def _add_nics(netns: str, nics: set[str]) -> None:
    for nic in sorted(nics):  # a NIC: a veth whose other end stays in the namespace, up
        argv = ["ip", "-n", netns, "link", "add", nic, "type", "veth", "peer", "name", f"{nic}_p"]
        subprocess.run(argv, check=True)
        subprocess.run(["ip", "-n", netns, "link", "set", f"{nic}_p", "up"], check=True)


def _ifupdown2(netns: str, workdir: Path, *argv: str) -> None:
    done = subprocess.run(
        [str(IFUPDOWN2), "run", netns, str(workdir), *argv], capture_output=True, text=True, check=False
    )
    if done.returncode != 0 and "no ifaces found matching given allow lists" in done.stderr:
        return  # the host file brings nothing up by itself
    for limit in IFUPDOWN2_LIMITS:
        if limit in done.stderr:
            not_applicable(f"Debian's ifupdown2 3.0 refuses this configuration: {limit}")
    assert done.returncode == 0, f"ifupdown2 {' '.join(argv)} failed: {done.stderr}"


def _same_start(pair: tuple[str, str], tmp_path: Path) -> None:
    """Both sides start from the same host network. Inside UML, ifupdown2's ``ifup`` now and then
    leaves out the address of a dummy link it has just created; its own ``ifreload`` completes
    that, and the two sides must then agree."""
    if state(pair[0]) != state(pair[1]):
        for ns in pair:
            _ifupdown2(ns, tmp_path / ns, "ifreload", "-a")
    assert state(pair[0]) == state(pair[1]), "the host network differs between the two sides"


def configured_addresses(case: Path) -> dict[str, set[str]]:
    """Per interface, the addresses upstream's files give it (host file and expected sdn file)."""
    out: dict[str, set[str]] = {}
    for name in ("interfaces", "expected_sdn_interfaces"):
        parsed = read_interfaces_text((case / name).read_text())
        for iface, options in parsed.options.items():
            for (key, value), _count in options.items():
                if key == "address":
                    ip = ipaddress.ip_interface(value)
                    out.setdefault(iface, set()).add(f"{ip.ip}/{ip.network.prefixlen}")
    return out


def _known_differences(
    theirs: dict[str, Any], case: Path, before: dict[str, dict[str, str]], planned: set[str]
) -> dict[str, Any]:
    """ifupdown2's state, with its two known side effects replaced by independent expectations.

    * ifupdown2 3.0 adds a VRF member's addresses before enslaving it; the enslaving cycles the
      link, and the kernel drops its IPv6 addresses (keep_addr_on_down=0). The configuration
      (upstream's expected file) gives the link its IPv6 addresses: those are expected.
    * ifupdown2 turns forwarding on for the host's own bridge when a VLAN device of ours sits on
      it (an "upper"); a link the plan does not list keeps the sysctls the kernel had before.
    """
    configured = configured_addresses(case)
    for name, link in theirs.items():
        if link["master"] and theirs.get(link["master"], {}).get("kind") == "vrf":
            v6 = {a for a in configured.get(name, ()) if ":" in a}
            link["addresses"] = sorted({*link["addresses"], *v6})
        if name not in planned and name in before:
            link["sysctls"] = before[name]
    return theirs


FIELDS = ("kind", "data", "link", "master", "mtu", "up", "addresses", "port", "flood", "sysctls")
SYSCTLS = ("ipv4/conf/*/forwarding", "ipv6/conf/*/forwarding", "ipv4/conf/*/arp_accept")


def sysctls(netns: str) -> dict[str, dict[str, str]]:
    """Per link: forwarding (IPv4, IPv6) and arp_accept, as /proc/sys/net shows them."""
    paths = " ".join(f"/proc/sys/net/{p}" for p in SYSCTLS)
    out = subprocess.run(["ip", "netns", "exec", netns, "sh", "-c", f"grep -H . {paths}"],
                         check=True, capture_output=True, text=True).stdout  # fmt: skip
    values: dict[str, dict[str, str]] = {}
    for line in out.splitlines():
        path, value = line.rsplit(":", 1)
        parts = path.split("/")  # /proc/sys/net/<family>/conf/<link>/<key>
        values.setdefault(parts[6], {})[f"{parts[4]}.{parts[7]}"] = value
    return values


def state(netns: str) -> dict[str, Any]:
    """Links with kind, kind data, master, MTU, addresses, port flags and flood entries, normalized."""
    out = subprocess.run(
        ["ip", "-n", netns, "-j", "-d", "addr", "show"], check=True, capture_output=True, text=True
    )
    fdb = subprocess.run(
        ["bridge", "-n", netns, "-j", "fdb", "show"], check=True, capture_output=True, text=True
    )
    flood: dict[str, list[str]] = {}
    for entry in json.loads(fdb.stdout):
        if entry["mac"] == "00:00:00:00:00:00" and "dst" in entry:
            flood.setdefault(entry["ifname"], []).append(entry["dst"])
    links = {}
    knobs = sysctls(netns)
    for link in json.loads(out.stdout):
        name = link["ifname"]
        if name == "lo" or name.endswith("_p"):
            continue
        info = link.get("linkinfo") or {}
        data = info.get("info_data") or {}
        slave = info.get("info_slave_data") or {}
        links[name] = {
            "kind": info.get("info_kind", ""),
            "data": {
                k: data.get(k) for k in ("id", "local", "port", "protocol", "vlan_filtering") if k in data
            },
            "link": link.get("link") if info.get("info_kind") in ("vlan", "veth") else None,
            "master": link.get("master"),
            "mtu": link["mtu"],
            "up": "UP" in link["flags"],
            "addresses": sorted(
                f"{a['local']}/{a['prefixlen']}"
                for a in link.get("addr_info", ())
                if a.get("scope") != "link"
            ),
            "port": {k: slave.get(k) for k in ("learning", "neigh_suppress") if k in slave},
            "flood": sorted(flood.get(name, [])),
            "sysctls": knobs.get(name, {}),
        }
    return links


@pytest.mark.parametrize(("case", "features"), list(_params()))
@pytest.mark.needs("pve-fixtures", "root")
def test_ours_and_ifupdown2_build_the_same_kernel_state(
    case: Path, features: set[str] | None, ifupdown2: Path, pair: tuple[str, str], tmp_path: Path
) -> None:
    if features is None:
        _needs(case)  # raises the planner's error: this case fails, with its traceback
    require(*(f"kernel:{f}" for f in sorted(features or ())))
    from sdnkit.realize import apply_plan
    from sdnkit.render.ifupdown import render_interfaces

    ours, theirs = pair
    plan = _plan(case)
    host = (case / "interfaces").read_text()
    for ns in pair:  # the same host network on both sides
        _add_nics(ns, _nics(case, plan))
        work = tmp_path / ns
        work.mkdir()
        (work / "interfaces").write_text(host)
        _ifupdown2(ns, work, "ifup", "-a")
    _same_start(pair, tmp_path)

    before = sysctls(theirs)  # the host network's sysctls, read from the kernel before either side acts
    apply_plan(plan, netns=ours, state_dir=tmp_path / "realize")
    (tmp_path / theirs / "interfaces").write_text(f"{host}\n{render_interfaces(plan)}")
    _ifupdown2(theirs, tmp_path / theirs, "ifreload", "-a")

    got = state(ours)
    want = _known_differences(state(theirs), case, before, {link.name for link in plan.links})
    differences = {}
    for name in sorted(set(got) | set(want)):
        mine, theirs_ = got.get(name, {}), want.get(name, {})
        if fields := {k: (mine.get(k), theirs_.get(k)) for k in FIELDS if mine.get(k) != theirs_.get(k)}:
            differences[name] = fields
    assert differences == {}, "per link and field: (ours, ifupdown2's)"
    again = apply_plan(plan, netns=ours, state_dir=tmp_path / "realize")
    assert not again.changed, f"a second apply still changes: {again.changes}"
