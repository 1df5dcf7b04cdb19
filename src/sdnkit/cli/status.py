"""``sdn status``: per node, per zone and vnet, what the agents applied.

A node whose record is older than the running config shows its zones and vnets as ``pending``
(as PVE does when the local configuration is older than the running version, spec §4.5).
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from sdnkit.agent.status import NodeStatus, ObjectStatus, Status
from sdnkit.cli.agent import COLUMNS, status_rows
from sdnkit.cli.output import emit, say


def with_pending(record: NodeStatus, running_version: int) -> NodeStatus:
    """The record as it stands against the current running version."""
    if record.version >= running_version:
        return record
    note = f"version {running_version} is not applied on this node yet (last seen {record.version})"

    def stale(objs: Any) -> dict[str, ObjectStatus]:
        return {k: dataclasses.replace(v, status=Status.PENDING, message=note) for k, v in objs.items()}

    return dataclasses.replace(record, zones=stale(record.zones), vnets=stale(record.vnets))


def cmd_status(args: argparse.Namespace) -> int:
    from sdnkit.agent import status as node_status
    from sdnkit.agent.agent import load_running
    from sdnkit.store import open_store

    store = open_store(args.config_dir)
    running, _ = load_running(store)
    records = [with_pending(r, running.version) for r in node_status.read_all(store)]
    if args.node:
        records = [r for r in records if r.node == args.node]
    if args.output == "json":
        emit([{**r.to_json(), "running": running.version} for r in records], "json")
        return 0
    say(f"running version {running.version}")
    if not records:
        say("no node has reported yet (run sdn agent, or sdn lab apply)")
        return 0
    rows = [row for r in records for row in status_rows(r)]
    rows += [{"node": r.node, "object": "node", "status": "error", "version": r.applied, "message": r.error}
             for r in records if r.error]  # fmt: skip
    emit(rows, "text", COLUMNS)
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("status", help="what each node applied, per zone and vnet")
    p.add_argument("--node", help="only this node")
    p.set_defaults(func=cmd_status)
