"""``sdn render``: write a node's ifupdown2 and FRR files from a running config and node facts.

    sdn render [--running-config FILE] --interfaces FILE --facts FILE [--frr-local FILE] --out DIR

writes ``DIR/sdn`` (for ``/etc/network/interfaces.d/sdn``) and, when the configuration has
controllers or fabrics or a ``frr.conf.local`` is given, ``DIR/frr.conf``; also the DHCP servers'
files ``DIR/dnsmasq.d/<zone>/`` and the firewall IP sets ``DIR/sdnkit-ipsets.nft`` (nft -f). Without
``--running-config`` the store's ``.running-config`` is used (``--config-dir``). The facts
format is described in docs/facts.md. Nothing on the system is read or changed besides these
files; planning warnings go to standard error.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from sdnkit.cli.output import emit, say
from sdnkit.config.running import RunningConfig
from sdnkit.errors import ConfigError
from sdnkit.plan.factsfile import build_facts, parse_facts_json
from sdnkit.plan.interfaces_file import parse_interfaces
from sdnkit.plan.planner import plan_node
from sdnkit.render.frr import render_frr
from sdnkit.render.ifupdown import render_interfaces
from sdnkit.render.services import node_service_files
from sdnkit.store import open_store

RUNNING = ".running-config"


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) else str(err)
        raise ConfigError(f"{path}: cannot read: {reason}", obj=path) from None


def _running(args: argparse.Namespace) -> RunningConfig:
    if args.running_config:
        text, name = _read(args.running_config), args.running_config
    else:
        doc = open_store(args.config_dir).read(RUNNING)
        if doc is None:
            raise ConfigError(
                f"{args.config_dir}: no running configuration (apply one first, or pass --running-config)"
            )
        text, name = doc.data.decode("utf-8"), os.path.join(args.config_dir, RUNNING)
    try:
        return RunningConfig.loads(text)
    except ConfigError as err:
        raise ConfigError(f"{name}: {err}", obj=name) from None


def _write(path: Path, text: str) -> None:
    """Replace ``path`` atomically, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def cmd_render(args: argparse.Namespace) -> int:
    running = _running(args)
    facts_data = parse_facts_json(_read(args.facts), args.facts)
    interfaces = parse_interfaces(_read(args.interfaces), args.interfaces)
    frr_local = _read(args.frr_local) if args.frr_local else None
    plan = plan_node(running, build_facts(facts_data, interfaces, frr_local, args.facts))
    files = {"sdn": render_interfaces(plan)}
    if plan.frr is not None:
        files["frr.conf"] = render_frr(plan.frr)
    files.update(node_service_files(plan))  # dnsmasq.d/<zone>/*, sdnkit-ipsets.nft
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            _write(out / name, text)
    except OSError as err:
        raise ConfigError(f"{args.out}: cannot write: {err.strerror}", obj=args.out) from None
    for warning in plan.warnings:
        say(f"sdn: warning: {warning}", sys.stderr)
    result: dict[str, Any] = {"written": [str(out / n) for n in files], "warnings": list(plan.warnings)}
    if args.output == "json":
        emit(result, "json")
    else:
        for path in result["written"]:
            say(f"wrote {path}")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "render",
        help="write a node's interfaces.d/sdn and frr.conf from the running config and node facts",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--running-config", metavar="FILE", help="running config JSON (default: the store's)")
    parser.add_argument(
        "--interfaces", metavar="FILE", required=True, help="the node's /etc/network/interfaces"
    )
    parser.add_argument("--facts", metavar="FILE", required=True, help="node facts JSON (docs/facts.md)")
    parser.add_argument("--frr-local", metavar="FILE", help="the node's /etc/frr/frr.conf.local to merge")
    parser.add_argument(
        "--out", metavar="DIR", required=True, help="directory to write sdn and frr.conf into"
    )
    parser.set_defaults(func=cmd_render)
