"""The node agent: realize the running config on this node and report per zone and vnet.

One pass (``run_once``):

1. read the running config from the store;
2. gather the node's facts live (agent/facts.py; links the reconciler owns are not facts) and
   keep the node's registration up to date (agent/membership.py);
3. plan and realize through a backend (agent/backends.py: the reconciler, or ifupdown2), which
   holds back a zone it cannot realize and applies the others;
4. check the underlay of the VXLAN and EVPN zones (agent/underlay_check.py): a zone that this
   version changed and whose MTU the underlay cannot carry goes back to its last applied
   definition at once (realized again, held back); it stays held back for this version (recorded
   in ``<state-dir>/held.json``, so a resync does not flap it) and is tried again with the next;
5. bring the node's guest services in line (``service.node_services``: the zones' dnsmasq
   instances with IPAM's static mappings, the firewall IP sets);
6. load the vnet firewall table when it changed (agent/vnet_firewall.py);
7. write the node's status record (agent/status.py).

The long-running agent (agent/loop.py) runs a pass at start, on every new running version or
guest port change (a store watch, no polling) and every ``resync`` seconds, so that a
hand-modified node converges back and mappings made on other nodes reach this node's DHCP
servers. A change below a watched prefix only (``WATCHED_PREFIXES``: the vnet firewall files)
runs the firewall step alone (``firewall_pass``), as PVE's firewall daemon takes up a rule
change without an SDN apply.

The last config applied on this node is kept in ``<state-dir>/applied.json``: a held-back zone
stays at that version.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from sdnkit.agent import facts as live_facts
from sdnkit.agent import membership
from sdnkit.agent import status as node_status
from sdnkit.agent.backends import (
    BACKENDS,
    REALIZE_SUBDIR,
    Backend,
    Outcome,
    Pass,
    interfaces_in,
    write_atomic,
)
from sdnkit.agent.status import NodeStatus, ObjectStatus, Status
from sdnkit.agent.vnet_firewall import FIREWALL_PREFIX, run_firewall
from sdnkit.config.affected import changed_zones
from sdnkit.config.model import SdnConfig, ZoneType
from sdnkit.config.running import RunningConfig
from sdnkit.errors import SdnError
from sdnkit.plan.facts import NodeFacts
from sdnkit.realize.frr_service import FrrOptions
from sdnkit.store.base import Document, Store

RUNNING_DOC = ".running-config"
# what the long-running agent watches besides the running config and the guest ports (which
# mean a whole pass): a change below these prefixes only runs the firewall step
WATCHED_PREFIXES = (FIREWALL_PREFIX,)
HELD_FILE = "held.json"  # zones held back at a version because their check failed
DEFAULT_STATE_DIR = Path("/var/lib/sdnkit/agent")
DEFAULT_INTERFACES = Path("/etc/network/interfaces.d/sdn")


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentOptions:
    node: str
    netns: str | None = None  # realize in this namespace (lab nodes)
    state_dir: Path = DEFAULT_STATE_DIR
    backend: Backend = Backend.NETLINK
    interfaces_file: Path = DEFAULT_INTERFACES
    ifreload: tuple[str, ...] = ("ifreload", "-a")
    frr_local: Path | None = live_facts.FRR_LOCAL
    dhcp_root: Path | None = None  # DHCP servers' files below this folder (None: PVE's paths)
    firewall: bool | None = None  # firewall IP sets in nftables (None: when nftables can)
    frr: FrrOptions = field(default_factory=FrrOptions)  # how FRR runs here (realize/frr_service.py)
    check: bool = True  # the underlay check after realizing (agent/underlay_check.py)


def load_running(store: Store) -> tuple[RunningConfig, str | None]:
    """The running config and its revision (an empty version 0 before the first apply)."""
    return parse_running(store.read(RUNNING_DOC))


def parse_running(doc: Document | None) -> tuple[RunningConfig, str | None]:
    if doc is None:
        return RunningConfig.empty(), None
    return RunningConfig.loads(doc.data.decode()), doc.revision


def underlay_peers(config: SdnConfig, node: str) -> list[str]:
    """VTEP peers of the zones deployed here (VXLAN zone peers, EVPN controller peers), in order."""
    peers: list[str] = []
    for zone in config.zones.values():
        if not zone.on_node(node):
            continue
        if zone.type is ZoneType.VXLAN:
            peers += zone.peers
        elif zone.type is ZoneType.EVPN and zone.controller in config.controllers:
            peers += config.controllers[zone.controller].peers
    return list(dict.fromkeys(peers))


# --- state kept between passes ----------------------------------------------------------------


def _applied_path(opts: AgentOptions) -> Path:
    return opts.state_dir / "applied.json"


def load_applied(opts: AgentOptions) -> RunningConfig:
    try:
        return RunningConfig.loads(_applied_path(opts).read_text())
    except FileNotFoundError:
        return RunningConfig.empty()


def _owned(opts: AgentOptions) -> Callable[[live_facts.Link], bool]:
    """Which live links are sdnkit's (the reconciler's ownership record, or the interfaces the
    ifupdown2 backend's file declares): they are not node facts."""
    from sdnkit.realize.ownership import OwnershipStore

    if opts.backend is Backend.IFUPDOWN2:
        names = interfaces_in(opts.interfaces_file)
    else:
        names = set(OwnershipStore(opts.state_dir / REALIZE_SUBDIR).load().owned)
    return lambda link: link["ifname"] in names


def _frr_version(config: SdnConfig, opts: AgentOptions) -> str | None:
    """The installed FRR's version when the config may need FRR (the plan adapts to it)."""
    local = opts.frr_local is not None and opts.frr_local.is_file()
    if opts.frr.service == "off" or not (config.controllers or config.fabrics or local):
        return None
    from sdnkit.realize.frr_service import installed_version

    return installed_version()


# --- guest services ---------------------------------------------------------------------------


def _firewall(opts: AgentOptions) -> bool:
    if opts.firewall is not None:
        return opts.firewall
    return _nft_inet()


_NFT_INET: list[bool] = []  # a yes, once seen (the kernel does not lose nftables under an agent)


def _nft_inet() -> bool:
    """Whether nftables has the inet family here (UML's lacks it). Asked with an ``nft -c`` process:
    a pass asked twice, which cost every node two processes per pass (bench/cluster.py); a yes is
    kept, a no is asked again (a module may be loaded later, a failed check may be a passing fault)."""
    if not _NFT_INET:
        from sdnkit.realize.nftables import NftablesNat

        if NftablesNat.available():
            _NFT_INET.append(True)
    return bool(_NFT_INET)


def guest_services(store: Store, outcome: Outcome, opts: AgentOptions) -> Outcome:
    """DHCP servers and IP sets for the plan now live; a failure marks the zones it concerns."""
    from sdnkit.dhcp.base import DhcpPaths, DhcpSettings
    from sdnkit.service.node_services import NodeServices, apply_node_services

    if outcome.plan is None:
        return outcome
    paths = DhcpPaths.under(opts.dhcp_root) if opts.dhcp_root else DhcpPaths()
    services = NodeServices(
        dhcp=DhcpSettings(paths=paths, netns=opts.netns), netns=opts.netns, firewall=_firewall(opts)
    )
    try:
        apply_node_services(store, outcome.plan, services)
    except SdnError as err:
        zones = {i.zone for i in outcome.plan.dhcp} or set(outcome.applied.config.zones)
        failed = {**dict.fromkeys(sorted(zones), f"guest services: {err}"), **outcome.failed}
        return replace(outcome, failed=failed)
    return outcome


def _run_firewall(store: Store, config: SdnConfig, opts: AgentOptions) -> dict[str, str]:
    """The vnet firewall step; the zones it failed for."""
    if not _firewall(opts):
        return {}
    step = run_firewall(store, config, node=opts.node, netns=opts.netns, state_dir=opts.state_dir)
    return dict(step.failed)


def firewall_step(store: Store, outcome: Outcome, opts: AgentOptions) -> Outcome:
    failed = _run_firewall(store, outcome.applied.config, opts)
    return replace(outcome, failed={**failed, **outcome.failed}) if failed else outcome


def firewall_pass(store: Store, opts: AgentOptions) -> NodeStatus | None:
    """The firewall step alone, on the config applied on this node; updates the status record."""
    applied = load_applied(opts)
    failed = _run_firewall(store, applied.config, opts)
    record = node_status.read(store, opts.node)
    if record is None:
        return None
    result = with_firewall_status(record, failed)
    node_status.write(store, result)
    return result


def with_firewall_status(record: NodeStatus, failed: dict[str, str]) -> NodeStatus:
    """``record`` with the zones in ``failed`` (and their vnets) in error, earlier firewall errors cleared."""

    def status(old: ObjectStatus, zone: str) -> ObjectStatus:
        if zone in failed:
            return replace(old, status=Status.ERROR, message=failed[zone])
        if (old.message or "").startswith("vnet firewall:"):
            return replace(old, status=Status.AVAILABLE, message=None)
        return old

    vnets = {v: status(s, s.zone or "") for v, s in record.vnets.items()}
    zones = {z: status(s, z) for z, s in record.zones.items()}
    return replace(record, zones=zones, vnets=vnets, time=time.time())


# --- status -----------------------------------------------------------------------------------


def _warned_vnets(config: SdnConfig, warnings: Iterable[str]) -> dict[str, str]:
    """Vnets the planner skipped, from its warnings (``zone "Z": vnet "V": <error>``)."""
    out = {}
    for text in warnings:
        for vnet in config.vnets:
            if f'vnet "{vnet}"' in text:
                out.setdefault(vnet, text)
    return out


def build_status(running: RunningConfig, outcome: Outcome, opts: AgentOptions) -> NodeStatus:
    config = running.config
    warned = _warned_vnets(config, outcome.warnings)
    zones, vnets = {}, {}
    for zone in config.zones.values():
        if not zone.on_node(opts.node):
            continue
        reason = outcome.error or outcome.failed.get(zone.id)
        members = config.vnets_of(zone.id)
        for vnet in members:
            why = reason or warned.get(vnet.id)
            vnets[vnet.id] = ObjectStatus(
                status=Status.ERROR if why else Status.AVAILABLE, message=why, zone=zone.id
            )
        bad = reason or next((vnets[v.id].message for v in members if vnets[v.id].message), None)
        zones[zone.id] = ObjectStatus(
            status=Status.ERROR if bad else Status.AVAILABLE, message=bad, zone_type=zone.type.value
        )
    return NodeStatus(
        node=opts.node,
        version=running.version,
        applied=outcome.applied.version,
        time=time.time(),
        backend=opts.backend.value,
        changes=outcome.changes,
        error=outcome.error,
        zones=zones,
        vnets=vnets,
    )


# --- the underlay check and going back -------------------------------------------------------


def last_held(opts: AgentOptions) -> tuple[int, dict[str, str]]:
    """The last version at which zones were held back because their check failed, and why."""
    try:
        data = json.loads((opts.state_dir / HELD_FILE).read_text())
        return int(data["version"]), dict(data.get("zones") or {})
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return 0, {}


def load_held(opts: AgentOptions, version: int) -> dict[str, str]:
    """Zones held back at ``version`` because their check failed (zone -> reason)."""
    held_at, zones = last_held(opts)
    return zones if held_at == version else {}


def _save_held(opts: AgentOptions, version: int, zones: Mapping[str, str]) -> None:
    write_atomic(opts.state_dir / HELD_FILE, json.dumps({"version": version, "zones": dict(zones)}, indent=1))


def down_addresses(store: Store, config: SdnConfig) -> dict[str, str]:
    """Addresses of the nodes that are down (their registrations, their fabric addresses) -> node."""
    try:
        members = membership.members(store)
    except SdnError:
        return {}  # unknown: every peer is probed (a dead host answers nothing: only a note)
    down = {n for n, m in members.items() if not m.alive}
    out: dict[str, str] = {}
    for node in sorted(down):
        reg = members[node].registration
        for addr in (reg.address, *reg.addresses) if reg else ():
            if addr:
                out[addr] = node
    for fabric_node in config.fabric_nodes.values():
        if fabric_node.node in down:
            out.update({str(a): fabric_node.node for a in (fabric_node.ip, fabric_node.ip6) if a})
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class _Realized:
    outcome: Outcome
    notes: tuple[str, ...] = ()


def _back_reason(failure: str, zone: str, previous: RunningConfig) -> str:
    if zone in previous.config.zones:
        return f"{failure}; the zone was put back as it was (applied version {previous.version})"
    return f"{failure}; the zone is not set up (it is new in this version)"


def check_and_go_back(
    store: Store, running: RunningConfig, previous: RunningConfig, facts: NodeFacts, opts: AgentOptions,
    first: Outcome, how: Pass,
) -> _Realized:  # fmt: skip
    """Check the underlay of the zones just realized; put a changed zone that fails back as it was."""
    from sdnkit.agent.underlay_check import check_zones, zone_probes

    config = first.applied.config
    zones = [z for z in config.zones if z not in first.failed]
    if not zone_probes(config, facts, zones):
        return _Realized(outcome=first)
    checks = check_zones(config, facts, zones, netns=opts.netns, down=lambda: down_addresses(store, config))
    notes = tuple(f'zone "{z}": {n}' for z, c in sorted(checks.items()) for n in c.notes)
    changed = changed_zones(previous.config, config)
    failing = {z: c.failure for z, c in checks.items() if c.failure}
    back = {z: _back_reason(f, z, previous) for z, f in failing.items() if z in changed}
    stuck = {z: f for z, f in failing.items() if z not in changed}  # nothing to go back to
    outcome = first
    if back:
        held = {**how.held, **back}
        _save_held(opts, running.version, held)
        redo = BACKENDS[opts.backend](running, previous, facts, opts, replace(how, held=held))
        outcome = replace(redo, changes=(first.changes or 0) + (redo.changes or 0))
    if stuck:
        outcome = replace(outcome, failed={**stuck, **outcome.failed})
    return _Realized(outcome=outcome, notes=notes)


def _register(store: Store, facts: NodeFacts, opts: AgentOptions) -> None:
    route = facts.route4 or facts.route6
    ips = {a.ip for i in facts.interfaces.values() for a in i.addresses}
    addresses = sorted(str(ip) for ip in ips if not (ip.is_loopback or ip.is_link_local))
    reg = membership.Registration(
        node=opts.node, address=str(route.src) if route else None, addresses=tuple(addresses),
        frr=facts.frr_version, backend=opts.backend.value,
    )  # fmt: skip
    membership.register(store, reg)


# --- one pass ---------------------------------------------------------------------------------


def run_once(
    store: Store, opts: AgentOptions, running: RunningConfig | None = None, *, incremental: bool = False
) -> NodeStatus:
    """Realize the running config on this node once, check it, and record the status."""
    if running is None:
        running, _ = load_running(store)
    previous = load_applied(opts)
    facts = live_facts.gather(
        opts.node,
        netns=opts.netns,
        peers=underlay_peers(running.config, opts.node),
        owned=_owned(opts),
        frr_local=opts.frr_local,
        frr_version=_frr_version(running.config, opts),
    )
    _register(store, facts, opts)
    how = Pass(held=load_held(opts, running.version), incremental=incremental)
    realized = _Realized(outcome=BACKENDS[opts.backend](running, previous, facts, opts, how))
    if realized.outcome.error is None and opts.check:
        realized = check_and_go_back(store, running, previous, facts, opts, realized.outcome, how)
    outcome = realized.outcome
    if outcome.error is None:
        write_atomic(_applied_path(opts), outcome.applied.dumps())
    outcome = guest_services(store, outcome, opts)
    outcome = firewall_step(store, outcome, opts)
    held_at, held = last_held(opts)
    went_back = node_status.WentBack(version=held_at, zones=held) if held else None
    result = replace(build_status(running, outcome, opts), warnings=realized.notes, went_back=went_back)
    node_status.write(store, result)
    return result
