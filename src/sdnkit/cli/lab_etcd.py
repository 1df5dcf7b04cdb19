"""``sdn lab env | etcd | node``: pointing ``sdn`` at a lab's store, and the lab's faults.

    sdn lab env [--name LAB]                        the shell lines: eval "$(sdn lab env)"
    sdn lab etcd status | stop [NODE] | start [NODE]   the lab's etcd members (all without NODE)
    sdn lab node isolate | reconnect NODE           the node's underlay port down / up

``stop`` is a clean stop (SIGTERM); a stopped member keeps its data and ``start`` brings it
back into the cluster. ``isolate`` cuts the node off the lab's switch: its agent, its etcd
member and its VTEP lose every peer, the node's own namespace stays as it is.
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from sdnkit.cli.lab import _forward, _state, _uml, _with_name
from sdnkit.cli.output import emit, say
from sdnkit.errors import ConfigError

ETCD_COLUMNS = ["node", "state", "leader", "pid", "raft_index", "client", "host"]


def cmd_env(args: argparse.Namespace) -> int:
    state = _state(args)
    values = {"SDN_STORE": state.config_dir, "SDN_LAB": state.name}
    if args.output == "json":
        emit(values, "json")
    else:
        for key, value in values.items():
            say(f"export {key}={shlex.quote(value)}")
    return 0


def cmd_etcd(args: argparse.Namespace) -> int:
    state = _state(args)
    if args.action == "status" and args.node:
        raise ConfigError("sdn lab etcd status: takes no NODE", key="node", value=args.node)
    if _uml(state):
        return _forward(state, ["etcd", args.action, *([args.node] if args.node else [])], args.output)
    from sdnkit.lab.lab import Lab

    rows = Lab(args.name).etcd(args.action, args.node)
    emit(rows, args.output, ETCD_COLUMNS)
    return 0


def cmd_node(args: argparse.Namespace) -> int:
    state = _state(args)
    if _uml(state):
        return _forward(state, ["node", args.action, args.node], args.output)
    from sdnkit.lab.lab import Lab

    Lab(args.name).isolate(args.node, connect=args.action == "reconnect")
    emit({"node": args.node, "connected": args.action == "reconnect"}, args.output)
    return 0


def register_lab_commands(lab: Any) -> None:
    """Add ``env``, ``etcd`` and ``node`` to the ``sdn lab`` subcommands."""
    env = _with_name(lab.add_parser("env", help='shell lines pointing sdn at the lab: eval "$(sdn lab env)"'))
    env.set_defaults(func=cmd_env)
    etcd = _with_name(lab.add_parser("etcd", help="the lab's etcd members: status, stop or start one"))
    etcd.add_argument("action", choices=("status", "stop", "start"))
    etcd.add_argument("node", nargs="?", metavar="NODE", help="one member (default: every member)")
    etcd.set_defaults(func=cmd_etcd)
    node = _with_name(lab.add_parser("node", help="cut a node off the underlay, or reconnect it"))
    node.add_argument("action", choices=("isolate", "reconnect"))
    node.add_argument("node", metavar="NODE")
    node.set_defaults(func=cmd_node)
