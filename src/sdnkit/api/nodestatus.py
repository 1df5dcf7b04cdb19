"""Zone and vnet status of one node, from the node agents' status records (spec §4.5).

PVE's rules, applied to sdnkit's records (``agent/status.py``):

* nothing applied yet (no running version) → no entries;
* the node has no record, or its applied version is older than the running one → every zone
  and vnet of the node is ``pending`` with PVE's message ("... not yet generated|too old, please
  reload");
* otherwise the statuses the agent reported (``available``, or ``error`` with ``statusmsg``);
* a registered node that is down (its heartbeat is gone, agent/membership.py): every zone and
  vnet is ``unknown``, with ``statusmsg`` saying so and what the node reported last (PVE shows an
  offline node's resources as ``unknown`` too).

Only zones deployed on the node (their ``nodes`` option) and their vnets are listed.
:func:`node_states` gives each known node's PVE node status: ``online`` (heartbeat), ``offline``
(registered, no heartbeat), ``unknown`` (reported a status once, never registered).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sdnkit.agent import membership
from sdnkit.agent import status as records
from sdnkit.store.base import Store
from sdnkit.store.snapshot import read_running

__all__ = ["NodeView", "node_states", "node_view"]

NOT_GENERATED = "local sdn network configuration is not yet generated, please reload"
TOO_OLD = "local sdn network configuration is too old, please reload"


@dataclass(frozen=True, slots=True)
class NodeView:
    zones: dict[str, dict[str, Any]]  # zone -> {zone, status, statusmsg?}
    vnets: dict[str, dict[str, Any]]  # vnet -> {vnet, zone, status, statusmsg?}


def _entry(key: str, ident: str, status: str, message: str | None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {key: ident, "status": status, **extra}
    if message:
        out["statusmsg"] = message
    return out


def _down(view: NodeView, age: float | None) -> NodeView:
    since = f"no heartbeat for {age:.0f} s" if age is not None else "no heartbeat"

    def unknown(entry: dict[str, Any]) -> dict[str, Any]:
        last = f"{entry['status']}: {entry['statusmsg']}" if entry.get("statusmsg") else entry["status"]
        return {**entry, "status": "unknown", "statusmsg": f"node is down ({since}); last reported: {last}"}

    zones = {k: unknown(v) for k, v in view.zones.items()}
    return NodeView(zones, {k: unknown(v) for k, v in view.vnets.items()})


def node_view(store: Store, node: str) -> NodeView:
    view = _reported_view(store, node)
    member = membership.members(store).get(node)
    if member is not None and not member.alive:
        return _down(view, member.age)
    return view


def _reported_view(store: Store, node: str) -> NodeView:
    running = read_running(store)
    if running.version == 0:
        return NodeView({}, {})
    cfg = running.config
    zones = {z: zone for z, zone in cfg.zones.items() if zone.on_node(node)}
    vnets = {v: vnet for v, vnet in cfg.vnets.items() if vnet.zone in zones}
    record = records.read(store, node)
    if record is None or record.applied < running.version:
        msg = NOT_GENERATED if record is None else TOO_OLD
        return NodeView(
            {z: _entry("zone", z, "pending", msg, type=zone.type.value) for z, zone in zones.items()},
            {v: _entry("vnet", v, "pending", msg, zone=vnet.zone) for v, vnet in vnets.items()},
        )
    zone_out = {}
    for z, zone in zones.items():
        got = record.zones.get(z)
        status, msg = (got.status.value, got.message) if got else ("pending", NOT_GENERATED)
        zone_out[z] = _entry("zone", z, status, msg, type=zone.type.value)
    vnet_out = {}
    for v, vnet in vnets.items():
        got = record.vnets.get(v)
        status, msg = (got.status.value, got.message) if got else ("error", "vnet is not generated")
        vnet_out[v] = _entry("vnet", v, status, msg, zone=vnet.zone)
    return NodeView(zone_out, vnet_out)


def node_states(store: Store) -> dict[str, str]:
    """PVE's node status of every known node: ``online``, ``offline`` or ``unknown``."""
    states = {r.node: "unknown" for r in records.read_all(store)}
    for name, member in membership.members(store).items():
        states[name] = "online" if member.alive else "offline"
    return dict(sorted(states.items()))
