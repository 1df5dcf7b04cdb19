"""The underlay check of VXLAN and EVPN zones: does every peer VTEP take the zone's full-size packets?

A VXLAN zone's guests send frames of up to the zone's MTU; each leaves the node as one underlay
packet of MTU + 50 bytes over IPv4 (outer IPv4 20, UDP 8, VXLAN 8, inner Ethernet 14), MTU + 70
over IPv6. If the underlay path to a peer carries less, big guest packets vanish while pings
still pass: the classic black hole. After realizing a version, the agent probes every peer VTEP
of its VXLAN and EVPN zones from its own VTEP address with echo requests of exactly that size
and don't-fragment set (agent/echo.py), all peers in parallel, and a small echo alongside:

* the big probe answers: the peer is fine;
* the big probe is refused (this node's route MTU is too small, or a router says "fragmentation
  needed"), or only the small probe answers: **the zone fails** (its MTU does not fit the
  underlay);
* neither answers: the peer is unreachable over the underlay whatever the MTU: that is not
  something this zone's definition causes, and going back would not fix it, so it is **noted,
  not failed** (``sdn status`` shows it).

So a zone fails only on positive evidence that its MTU does not fit: a refusal, or a peer that
is there but does not take the big packets. A peer whose node is down (no heartbeat,
agent/membership.py) answers nothing (a dead host) and is only noted, or, if the host still
answers (only its agent stopped), is probed like any other: the underlay path is the same either
way. One dead node therefore never makes the other nodes go back. The note names the node when
it is known to be down (peers map to nodes through the registrations' addresses and, for
fabrics, the fabric's node list).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from sdnkit.agent.echo import Probe, Result, Verdict, probe_all
from sdnkit.config.model import SdnConfig, Zone, ZoneType
from sdnkit.config.running import RunningConfig
from sdnkit.errors import PlanError
from sdnkit.plan.context import PlanContext
from sdnkit.plan.facts import NodeFacts
from sdnkit.plan.mtu import overlay_mtu
from sdnkit.plan.underlay import Underlay

__all__ = ["OVERHEAD", "ZoneCheck", "check_zones", "zone_probes"]

OVERHEAD = {4: 50, 6: 70}  # bytes VXLAN adds to a guest frame's MTU, per underlay family
SMALL = {4: 84, 6: 104}  # a default ping's packet: is the peer there at all?
TIMEOUT = 1.5


@dataclass(frozen=True, slots=True)
class ZoneCheck:
    zone: str
    failure: str | None = None  # why the zone's MTU does not fit the underlay
    notes: tuple[str, ...] = ()  # peers that do not answer at all


@dataclass(frozen=True, slots=True)
class ZoneProbes:
    zone: str
    mtu: int
    source: str | None
    peers: tuple[str, ...]


def _underlay(ctx: PlanContext, zone: Zone) -> Underlay:
    if zone.type is ZoneType.VXLAN:
        from sdnkit.plan.zones.vxlan import zone_underlay

        return zone_underlay(ctx, zone)
    from sdnkit.plan.zones.evpn import zone_controller

    return ctx.evpn_underlay(zone_controller(ctx, zone))


def zone_probes(config: SdnConfig, facts: NodeFacts, zones: Iterable[str]) -> list[ZoneProbes]:
    """What to probe for each VXLAN/EVPN zone of ``zones`` deployed on this node."""
    ctx = PlanContext(RunningConfig(0, config), facts)
    out = []
    for ident in sorted(zones):
        zone = config.zones.get(ident)
        if zone is None or zone.type not in (ZoneType.VXLAN, ZoneType.EVPN) or not zone.on_node(facts.node):
            continue
        try:
            underlay = _underlay(ctx, zone)
        except PlanError:
            continue  # the planner reported it already
        source = str(underlay.local_ip) if underlay.local_ip else None
        peers = tuple(str(p) for p in underlay.remotes)
        out.append(ZoneProbes(ident, overlay_mtu(zone, facts, underlay), source, peers))
    return out


def _family(address: str) -> int:
    return ipaddress.ip_address(address).version


def _trouble(big: Result, small: Result) -> str | None:
    """What is wrong with a peer's path, as the end of "the path to <peers> ...", or None."""
    if big.verdict is Verdict.OK:
        return None
    if big.verdict is Verdict.TOO_BIG:
        return f"carries at most {big.mtu} bytes" if big.mtu else "refuses them"
    if small.verdict is Verdict.OK:
        return "answers small packets but not these"
    return "" if small.verdict is Verdict.NO_ANSWER else None  # "": no answer at all


def _failure(zp: ZoneProbes, troubles: Mapping[str, list[str]], limits: list[int]) -> str:
    """One line for the zone: what it needs, which paths fall short, what would fit."""
    families = {_family(p) for peers in troubles.values() for p in peers}
    size = zp.mtu + OVERHEAD[min(families)]
    parts = [f"the path to {', '.join(peers)} {what}" for what, peers in troubles.items()]
    hint = f" (mtu {min(limits) - OVERHEAD[min(families)]} would fit)" if limits else ""
    return (
        f"underlay check failed: zone mtu {zp.mtu} needs {size}-byte packets with don't-fragment: "
        + "; ".join(parts)
        + hint
    )


def _probes(zp: ZoneProbes, peer: str) -> tuple[Probe, Probe]:
    """The full-size probe and the small one for a peer."""
    family = _family(peer)
    return Probe(zp.source, peer, zp.mtu + OVERHEAD[family]), Probe(zp.source, peer, SMALL[family])


def _zone_check(
    zp: ZoneProbes, results: Mapping[Probe, Result], down: Callable[[], Mapping[str, str]]
) -> ZoneCheck:
    troubles: dict[str, list[str]] = {}
    limits, notes = [], []
    for peer in zp.peers:
        big, small = (results[p] for p in _probes(zp, peer))
        what = _trouble(big, small)
        if what == "":
            node = down().get(peer)
            known = f"; node {node} is down" if node else ""
            notes.append(f"peer {peer}: no answer over the underlay (not counted against the zone){known}")
        elif what is not None:
            troubles.setdefault(what, []).append(peer)
            limits += [big.mtu] if big.mtu else []
    return ZoneCheck(zp.zone, _failure(zp, troubles, limits) if troubles else None, tuple(notes))


def check_zones(
    config: SdnConfig,
    facts: NodeFacts,
    zones: Iterable[str],
    *,
    netns: str | None = None,
    down: Callable[[], Mapping[str, str]] | None = None,
    timeout: float = TIMEOUT,
) -> dict[str, ZoneCheck]:
    """Probe the peers of ``zones``; ``down()`` maps the addresses of down nodes to their names.
    It is called only when a peer gives no answer, at most once (on etcd it is a read of every
    node's membership: every node would pay it on every pass for nothing)."""
    plans = zone_probes(config, facts, zones)
    results = probe_all(
        [p for zp in plans for peer in zp.peers for p in _probes(zp, peer)], netns=netns, timeout=timeout
    )
    known = functools.cache(down or dict)
    return {zp.zone: _zone_check(zp, results, known) for zp in plans}
