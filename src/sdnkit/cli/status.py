"""``sdn status``: the cluster's view; ``sdn node list|remove``: its members.

    sdn status [--node NAME] [--output json]
    sdn node list
    sdn node remove NAME          forget a node that left the cluster for good

``sdn status`` prints the running version (and a version awaiting confirmation, the last revert),
one line per node (up or down, heartbeat age, underlay address, applied version against the
running one, last error), then one line per zone and vnet of every node (``service/cluster_status.py``).
With ``--output json``: one object per node, the agent's status record plus ``running``,
``state`` (up/down/unknown), ``heartbeat`` (seconds since the last one), ``address``, ``agent``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from sdnkit.cli.agent import COLUMNS, status_rows
from sdnkit.cli.output import emit, say
from sdnkit.service.cluster_status import ClusterStatus, NodeView

__all__ = ["register"]

NODE_COLUMNS = ["node", "state", "heartbeat", "address", "applied", "running", "error"]


def _node_row(view: NodeView, running: int) -> dict[str, Any]:
    data = view.to_json(running)
    age = data["heartbeat"]
    problems = [data["error"]] if data.get("error") else []
    went = data.get("went-back")
    # while it is news: the version that went back, or the revert right after it (the errors of
    # the current version say it already); -o json keeps it always
    if went and went["version"] != data.get("version") and went["version"] + 1 >= running:
        problems += [
            f"went back at version {went['version']}: zone {z}: {why}" for z, why in went["zones"].items()
        ]
    problems += [f"warning: {w}" for w in data.get("warnings", [])]
    return {
        "node": view.node,
        "state": view.state,
        "heartbeat": "-" if age is None else f"{age:.0f}s ago",
        "address": data["address"],
        "applied": data["applied"],
        "running": running,
        "error": "; ".join(problems),
    }


def _header(status: ClusterStatus) -> list[str]:
    lines = [f"running version {status.running}"]
    if status.pending is not None:
        until = time.strftime("%H:%M:%S", time.localtime(status.pending.deadline))
        lines.append(
            f"version {status.pending.version} awaits confirmation until {until} ({status.pending.by})"
        )
    if status.reverted is not None and status.reverted.to == status.running:
        r = status.reverted
        lines.append(f"version {r.version} was reverted as version {r.to} by {r.by}: {r.reason}")
    return lines


def cmd_status(args: argparse.Namespace) -> int:
    from sdnkit.service.cluster_status import cluster_status
    from sdnkit.store import open_store

    status = cluster_status(open_store(args.config_dir))
    views = [v for v in status.nodes if not args.node or v.node == args.node]
    if args.output == "json":
        emit([v.to_json(status.running) for v in views], "json")
        return 0
    say("\n".join(_header(status)), multiline=True)
    if not views:
        say("no node has registered yet (run sdn agent on every node, or sdn lab apply)")
        return 0
    print()
    emit([_node_row(v, status.running) for v in views], "text", NODE_COLUMNS)
    rows = [row for v in views if v.record for row in status_rows(v.record)]
    if rows:
        print()
        emit(rows, "text", COLUMNS)
    return 0


def cmd_node_list(args: argparse.Namespace) -> int:
    from sdnkit.agent import membership
    from sdnkit.store import open_store

    rows = []
    for name, m in membership.members(open_store(args.config_dir)).items():
        reg = m.registration
        rows.append({
            "node": name, "state": m.state, "address": reg.address if reg else None,
            "agent": reg.agent if reg else None, "kernel": reg.kernel if reg else None,
            "frr": reg.frr if reg else None, "backend": reg.backend if reg else None,
        })  # fmt: skip
    emit(rows, args.output, ["node", "state", "address", "agent", "kernel", "frr", "backend"])
    return 0


def cmd_node_remove(args: argparse.Namespace) -> int:
    from sdnkit.agent import membership
    from sdnkit.errors import ConfigError, NotFoundError
    from sdnkit.store import open_store

    store = open_store(args.config_dir)
    member = membership.members(store).get(args.name)
    if member is not None and member.alive and not args.force:
        raise ConfigError(
            f'node "{args.name}": its agent is running (heartbeat {member.age:.0f} s ago): stop it first, '
            "or pass --force",
            key="name",
            value=args.name,
        )
    if not membership.forget(store, args.name):
        raise NotFoundError(f'node "{args.name}": not registered', key="name")
    say(f"node {args.name} removed")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "status", help="the cluster: nodes up or down, what each applied, per zone and vnet"
    )
    p.add_argument("--node", help="only this node")
    p.set_defaults(func=cmd_status)
    node = subparsers.add_parser("node", help="the cluster's registered nodes").add_subparsers(
        dest="node_command", required=True
    )
    p = node.add_parser("list", help="registered nodes, up or down")
    p.set_defaults(func=cmd_node_list)
    p = node.add_parser("remove", help="forget a node that left the cluster (registration, status)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--force", action="store_true", help="even while its agent is running")
    p.set_defaults(func=cmd_node_remove)
