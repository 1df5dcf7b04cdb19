"""``sdn agent``: realize the running config on this node, once or continuously.

    sdn agent --once [--node NAME] [--netns NS]       one pass, prints the node's status record
    sdn agent [--resync S] [--heartbeat-ttl S]        keep running: watch the store, apply each new
                                                      running version, keep the node's heartbeat
    sdn agent --no-check                              skip the underlay check of VXLAN/EVPN zones
    sdn agent --backend ifupdown2 [--interfaces-file PATH] [--ifreload CMD]
    sdn agent --frr auto|systemd|direct|external|off [--frr-confdir DIR] [--frr-rundir DIR]

Exit code of ``--once``: 0 when every zone and vnet of the node is available, 1 otherwise.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sdnkit.agent.agent import DEFAULT_INTERFACES, DEFAULT_STATE_DIR, AgentOptions
from sdnkit.agent.backends import Backend
from sdnkit.agent.status import NodeStatus
from sdnkit.cli.output import emit, say
from sdnkit.errors import SdnError
from sdnkit.realize.frr_service import FRR_SERVICES, FrrOptions


def status_rows(record: NodeStatus) -> list[dict[str, Any]]:
    """Table rows: one per zone (type: the zone type) and vnet (type: its zone)."""
    objects = [(f"zone/{k}", v.zone_type, v) for k, v in sorted(record.zones.items())]
    objects += [(f"vnet/{k}", v.zone, v) for k, v in sorted(record.vnets.items())]
    return [
        {"node": record.node, "object": name, "type": kind, "status": st.status.value,
         "version": record.applied, "message": st.message}
        for name, kind, st in objects
    ]  # fmt: skip


COLUMNS = ["node", "object", "type", "status", "version", "message"]


def _options(args: argparse.Namespace) -> AgentOptions:
    return AgentOptions(
        node=args.node or socket.gethostname().split(".")[0],
        netns=args.netns,
        state_dir=Path(args.state_dir),
        backend=Backend(args.backend),
        interfaces_file=Path(args.interfaces_file),
        ifreload=tuple(shlex.split(args.ifreload)),
        frr_local=Path(args.frr_local) if args.frr_local else None,
        dhcp_root=Path(args.dhcp_root) if args.dhcp_root else None,
        firewall=False if args.no_firewall else None,
        frr=FrrOptions(service=args.frr, confdir=Path(args.frr_confdir), rundir=Path(args.frr_rundir)),
        check=not args.no_check,
    )


def _report(output: str) -> Any:
    def report(result: NodeStatus | SdnError | str) -> None:
        stamp = time.strftime("%H:%M:%S")
        if isinstance(result, str):
            say(f"{stamp} {result}")
        elif isinstance(result, SdnError):
            say(f"{stamp} error: {result}")
        elif output == "json":
            emit(result.to_json(), "json")
            sys.stdout.flush()
        else:
            bad = [f"{k}: {v.message}" for k, v in {**result.zones, **result.vnets}.items() if v.message]
            state = "ok" if result.ok else "errors: " + "; ".join(bad or [result.error or "?"])
            say(f"{stamp} version {result.version} applied={result.applied} changes={result.changes} {state}")
            for warning in result.warnings:
                say(f"{stamp} warning: {warning}")

    return report


def cmd_agent(args: argparse.Namespace) -> int:
    from sdnkit.agent import agent, loop
    from sdnkit.store import open_store

    store = open_store(args.config_dir)
    opts = _options(args)
    if args.once:
        record = agent.run_once(store, opts)
        if args.output == "json":
            emit(record.to_json(), "json")
        else:
            emit(status_rows(record), "text", COLUMNS)
            if record.error:
                say(f"error: {record.error}", sys.stderr)
        return 0 if record.ok else 1
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    say(f"sdn agent: node {opts.node}, store {args.config_dir}, backend {opts.backend}")
    loop.run_forever(
        store,
        opts,
        resync=args.resync,
        heartbeat_ttl=args.heartbeat_ttl,
        stop=stop,
        report=_report(args.output),
    )
    return 0


def _seconds(low: float) -> Any:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if not low <= value <= 86400:
            raise argparse.ArgumentTypeError(f"{value:g} is out of range {low:g}-86400 seconds")
        return value

    return parse


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("agent", help="realize the running config on this node")
    p.add_argument("--once", action="store_true", help="apply once and exit")
    p.add_argument("--node", help="node name (default: the hostname)")
    p.add_argument("--netns", help="realize in this network namespace instead of the current one")
    p.add_argument(
        "--state-dir", default=str(DEFAULT_STATE_DIR), help=f"agent state (default {DEFAULT_STATE_DIR})"
    )
    p.add_argument("--backend", choices=[b.value for b in Backend], default=Backend.NETLINK.value)
    p.add_argument(
        "--interfaces-file", default=str(DEFAULT_INTERFACES), help="ifupdown2 backend: file to write"
    )
    p.add_argument("--ifreload", default="ifreload -a", help="ifupdown2 backend: reload command")
    p.add_argument(
        "--frr-local", default="/etc/frr/frr.conf.local", help="local FRR additions, if the file exists"
    )
    p.add_argument(
        "--frr",
        choices=FRR_SERVICES,
        default="auto",
        help="how FRR runs here: systemd (frr.service), direct (the agent starts the daemons), "
        "external (only write and reload frr.conf), off; auto: systemd when it runs, else direct",
    )
    p.add_argument("--frr-confdir", default="/etc/frr", help="FRR's config folder (frr.conf, daemons)")
    p.add_argument(
        "--frr-rundir",
        default="/var/run/frr",
        help="FRR's run folder (pid files, vty sockets; direct: also zserv.api and logs)",
    )
    p.add_argument("--dhcp-root", help="keep the DHCP servers' files below DIR (default: PVE's paths)")
    p.add_argument("--no-firewall", action="store_true", help="do not manage the firewall IP sets")
    p.add_argument(
        "--resync", type=_seconds(1.0), default=300.0,
        help="a full pass (every link compared) at least every S seconds (default 300)",
    )  # fmt: skip
    p.add_argument(
        "--heartbeat-ttl", type=_seconds(1.0), default=15.0,
        help="the node counts as down S seconds after its agent stopped (default 15)",
    )  # fmt: skip
    p.add_argument(
        "--no-check", action="store_true",
        help="do not check that the underlay carries the VXLAN/EVPN zones' MTU to every peer",
    )  # fmt: skip
    p.set_defaults(func=cmd_agent)
