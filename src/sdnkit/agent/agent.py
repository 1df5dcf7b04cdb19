"""The node agent: realize the running config on this node and report per zone and vnet.

One pass (``run_once``):

1. read the running config from the store;
2. gather the node's facts live (agent/facts.py; links the reconciler owns are not facts);
3. plan and realize through a backend (agent/backends.py: the reconciler, or ifupdown2), which
   holds back a zone it cannot realize and applies the others;
4. bring the node's guest services in line (``service.node_services``: the zones' dnsmasq
   instances with IPAM's static mappings, the firewall IP sets);
5. load the vnet firewall table when it changed (agent/vnet_firewall.py);
6. write the node's status record (agent/status.py).

``run_forever`` repeats the pass whenever the running config or the guest ports change (one
small read of each per poll interval) and every ``resync``
seconds, so that a hand-modified node converges back and mappings made on other nodes reach this
node's DHCP servers. A change below a watched prefix only (``WATCHED_PREFIXES``: the vnet
firewall files) runs the firewall step alone (``firewall_pass``), as PVE's firewall daemon takes
up a rule change without an SDN apply.

The last config applied on this node is kept in ``<state-dir>/applied.json``: a held-back zone
stays at that version.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from sdnkit.agent import facts as live_facts
from sdnkit.agent import status as node_status
from sdnkit.agent.backends import BACKENDS, REALIZE_SUBDIR, Backend, Outcome, interfaces_in, write_atomic
from sdnkit.agent.status import NodeStatus, ObjectStatus, Status
from sdnkit.agent.vnet_firewall import FIREWALL_PREFIX, run_firewall
from sdnkit.config.model import SdnConfig, ZoneType
from sdnkit.config.running import RunningConfig
from sdnkit.errors import SdnError
from sdnkit.realize.frr_service import FrrOptions
from sdnkit.service.port_registry import ports_version
from sdnkit.store.base import Document, Store

RUNNING_DOC = ".running-config"
# what run_forever watches: the running config and the guest ports (ports_version) mean a whole
# pass, a change below a prefix only the firewall step
WATCHED_PREFIXES = (FIREWALL_PREFIX,)
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


def load_running(store: Store) -> tuple[RunningConfig, str | None]:
    """The running config and its revision (an empty version 0 before the first apply)."""
    return _parse_running(store.read(RUNNING_DOC))


def _parse_running(doc: Document | None) -> tuple[RunningConfig, str | None]:
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
    from sdnkit.realize.nftables import NftablesNat

    return NftablesNat.available()  # the inet family (UML's nftables lacks it)


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


# --- one pass, and the long-running agent ----------------------------------------------------


def run_once(store: Store, opts: AgentOptions, running: RunningConfig | None = None) -> NodeStatus:
    """Realize the running config on this node once and record the status."""
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
    outcome = BACKENDS[opts.backend](running, previous, facts, opts)
    if outcome.error is None:
        write_atomic(_applied_path(opts), outcome.applied.dumps())
    outcome = guest_services(store, outcome, opts)
    outcome = firewall_step(store, outcome, opts)
    result = build_status(running, outcome, opts)
    node_status.write(store, result)
    return result


def run_forever(
    store: Store,
    opts: AgentOptions,
    *,
    interval: float = 1.0,
    resync: float = 300.0,
    stop: threading.Event | None = None,
    report: Callable[[NodeStatus | SdnError], None] = lambda r: None,
) -> None:
    """Apply every new running version (and port change) as it appears; re-check every ``resync`` s."""
    stop = stop or threading.Event()
    seen: tuple[str | None, ...] = ("-",)
    seen_firewall: tuple[tuple[str, str], ...] = ()
    last = 0.0
    while not stop.is_set():
        try:
            running, revision = _parse_running(store.read(RUNNING_DOC))
            now = (revision, ports_version(store))  # guest ports: a change means new DHCP mappings
            firewall = watched_prefixes(store)
        except SdnError as err:  # a half-written or invalid document: report, retry next poll
            report(err)
            stop.wait(interval)
            continue
        try:
            if now != seen or time.monotonic() - last >= resync:
                report(run_once(store, opts, running))
                seen, last = now, time.monotonic()
            elif firewall != seen_firewall:
                result = firewall_pass(store, opts)
                if result is not None:
                    report(result)
        except SdnError as err:
            report(err)
            seen, last = now, time.monotonic()
        seen_firewall = firewall
        stop.wait(interval)


def watched_prefixes(store: Store) -> tuple[tuple[str, str], ...]:
    """(name, revision) of every document below ``WATCHED_PREFIXES``."""
    names = [n for prefix in WATCHED_PREFIXES for n in store.names(prefix)]
    docs = store.read_many(names)
    return tuple((n, d.revision) for n, d in sorted(docs.items()) if d is not None)
