"""``sdn lab``: a multi-node network-namespace lab on this machine (or inside UML).

    sdn lab up [--nodes N] [--name LAB] [--kernel host|uml] [--etcd [--etcd-subnet CIDR]]
    sdn lab env                              [--name LAB]   (eval "$(sdn lab env)": SDN_STORE, SDN_LAB)
    sdn lab apply | status | down            [--name LAB]
    sdn lab etcd status | stop [NODE] | start [NODE]   [--name LAB]   (the lab's etcd members)
    sdn lab node isolate|reconnect NODE      [--name LAB]   (its underlay port down / up)
    sdn lab agents start|stop                [--name LAB]
    sdn lab guest add NAME --node NODE --vnet VNET [--ip CIDR] [--gw IP] [--mtu N] [--mac MAC]
                                         [--vlan TAG] [--dhcp]
    sdn lab guest del NAME                   [--name LAB]
    sdn lab exec MEMBER -- CMD...            [--name LAB]   (vtysh: the member's own FRR)
    sdn lab router start [--conf FILE] | stop [--name LAB]   (an FRR router on ``outside``)

The lab name defaults to ``$SDN_LAB`` or ``sdnlab``. A lab made with ``--kernel uml`` lives in
a UML kernel; every command is forwarded into it (lab/umllab.py). A lab made with ``--etcd``
keeps its store in its own etcd cluster (lab/etcdlab.py), reached from the host over the host
link (lab/hostlink.py): ``eval "$(sdn lab env --name LAB)"`` points ``sdn`` at it.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sdnkit.cli.output import emit, say
from sdnkit.errors import ConfigError
from sdnkit.lab.state import DEFAULT_LAB, Kernel, LabState, LabStore

STATUS_COLUMNS = ["name", "role", "netns", "node", "vnet", "address", "vlan", "port", "up", "agent", "etcd",
                  "isolated"]  # fmt: skip
MAC_RE = re.compile(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}")


def _int_range(name: str, low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not re.fullmatch(r"[0-9]{1,9}", text):  # int() would take " 1_0" and non-ASCII digits
            raise argparse.ArgumentTypeError(f"{name}: {text!r} is not a number (ASCII digits)")
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{name}: {value} is out of range {low}-{high}")
        return value

    return parse


def _cidr(text: str) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    if "/" not in text:
        raise argparse.ArgumentTypeError(f"--ip: {text!r} needs a prefix length (10.0.1.14/24)")
    if "%" in text:
        raise argparse.ArgumentTypeError(f"--ip: {text!r}: an IPv6 zone ID (%...) is not allowed")
    try:
        return ipaddress.ip_interface(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--ip: {text!r} is not an address with prefix length") from None


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if "%" in text:
        raise argparse.ArgumentTypeError(f"--gw: {text!r}: an IPv6 zone ID (%...) is not allowed")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--gw: {text!r} is not an IP address") from None


def _mac(text: str) -> str:
    if not MAC_RE.fullmatch(text) or int(text[:2], 16) & 1:
        raise argparse.ArgumentTypeError(f"--mac: {text!r} is not a unicast MAC address (bc:24:11:00:00:01)")
    return text.lower()


# --- helpers ----------------------------------------------------------------------------------


def _state(args: argparse.Namespace) -> LabState:
    return LabStore(args.name).load()


def _uml(state: LabState) -> bool:
    return state.kernel is Kernel.UML


def _forward(state: LabState, argv: Sequence[str], output: str = "text") -> int:
    from sdnkit.lab import umllab

    argv = list(argv)
    cut = argv.index("--") if "--" in argv else len(argv)  # options go before a command's "--"
    return umllab.forward(state, [*argv[:cut], "--name", state.name, *argv[cut:]], output)


def _running(config_dir: str) -> Any:
    from sdnkit.agent.agent import load_running
    from sdnkit.store import open_store

    return load_running(open_store(config_dir))[0]


def same_store(a: str, b: str) -> bool:
    """Whether two store specs name the same store (etcd: the same members and key prefix)."""
    from sdnkit.store import is_etcd_url
    from sdnkit.store.etcd_client import parse_url

    if is_etcd_url(a) and is_etcd_url(b):
        x, y = parse_url(a), parse_url(b)
        return set(x.endpoints) == set(y.endpoints) and x.prefix == y.prefix
    return not is_etcd_url(a) and not is_etcd_url(b) and os.path.abspath(a) == os.path.abspath(b)


def _check_config_dir(state: LabState, args: argparse.Namespace) -> None:
    """The command's store must be the lab's: an apply on one store and agents on another would
    realize what the user did not apply."""
    if not same_store(args.config_dir, state.config_dir):
        raise ConfigError(
            f'lab "{state.name}" uses the store {state.config_dir}, not {args.config_dir} '
            f'(eval "$(sdn lab env --name {state.name})")'
        )


# --- commands ---------------------------------------------------------------------------------


def cmd_up(args: argparse.Namespace) -> int:
    from sdnkit.lab.etcdlab import EtcdOptions

    etcd = None
    if args.etcd:
        etcd = EtcdOptions(
            subnet=args.etcd_subnet, switch_port=args.switch_port, election_ms=args.etcd_election_ms
        )
    elif args.etcd_subnet:
        raise ConfigError("sdn lab up: --etcd-subnet needs --etcd", key="etcd-subnet")
    if args.kernel == Kernel.UML.value:
        from sdnkit.lab import umllab

        state = umllab.up(args.name, args.nodes, args.config_dir, etcd)
    else:
        from sdnkit.lab.lab import Lab

        state = Lab(args.name).up(args.nodes, args.config_dir, etcd)
    info: dict[str, Any] = {"name": state.name, "kernel": state.kernel.value, "nodes": list(state.node_names),
                            "store": state.config_dir}  # fmt: skip
    if state.etcd is not None:
        info["etcd"] = list(state.etcd.members)
    emit(info, args.output)
    if state.etcd is not None and args.output != "json":
        say(f'point sdn at it: eval "$(sdn lab env --name {state.name})"')
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    store = LabStore(args.name)
    state = store.load()
    if _uml(state):
        from sdnkit.lab import umllab

        umllab.down(state)
    else:
        from sdnkit.lab.lab import Lab

        Lab(args.name).down()
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    state = _state(args)
    if _uml(state):
        return _forward(state, ["status"], args.output)
    from sdnkit.lab.lab import Lab

    info = Lab(args.name).describe()
    if args.output == "json":
        emit(info, "json")
    else:
        say(f"lab {info['name']} (kernel {info['kernel']}, store {info['config_dir']})")
        emit(info["members"], "text", STATUS_COLUMNS)
    return 0


def cmd_apply(args: argparse.Namespace) -> int:
    state = _state(args)
    _check_config_dir(state, args)
    if _uml(state):
        return _forward(state, ["apply"], args.output)
    from sdnkit.lab import agents

    results = agents.apply_all(state)
    rows = [r.to_json() for r in results]
    emit(rows, args.output, ["node", "ok", "version", "applied", "changes", "seconds", "error"])
    return 0 if all(r.ok for r in results) else 1


def cmd_agents(args: argparse.Namespace) -> int:
    state = _state(args)
    if args.action == "start":  # stopping them needs no store
        _check_config_dir(state, args)
    if _uml(state):
        return _forward(state, ["agents", args.action], args.output)
    from sdnkit.lab import agents
    from sdnkit.lab.state import replace

    store = LabStore(args.name)
    with store.locked():
        state = store.load()
        if args.action == "start":
            pids = {n: agents.agent_pid(state, n) or agents.start(state, n) for n in state.node_names}
        else:
            agents.stop_all(state)
            pids = {}
        store.save(replace(state, agents=pids))
    emit([{"node": n, "pid": p} for n, p in sorted(pids.items())], args.output, ["node", "pid"])
    return 0


def cmd_guest_add(args: argparse.Namespace) -> int:
    state = _state(args)
    _check_config_dir(state, args)
    if _uml(state):
        return _forward(state, ["guest", "add", *_guest_argv(args)], args.output)
    from sdnkit.lab.guests import GuestSpec
    from sdnkit.lab.lab import Lab

    spec = GuestSpec(
        name=args.guest, node=args.node, vnet=args.vnet, ip=args.ip, gw=args.gw,
        mtu=args.mtu, mac=args.mac, vlan=args.vlan, dhcp=args.dhcp,
    )  # fmt: skip
    guest = Lab(args.name).add_guest(spec, _running(state.config_dir))
    emit({"name": guest.name, "node": guest.node, "vnet": guest.vnet, "port": guest.ifname,
          "mac": guest.mac, "ip": guest.ip, "netns": guest.netns}, args.output)  # fmt: skip
    return 0


def _guest_argv(args: argparse.Namespace) -> list[str]:
    argv = [args.guest, "--node", args.node, "--vnet", args.vnet]
    for flag in ("ip", "gw", "mtu", "mac", "vlan"):
        value = getattr(args, flag)
        if value is not None:
            argv += [f"--{flag}", str(value)]
    return argv + (["--dhcp"] if args.dhcp else [])


def cmd_guest_del(args: argparse.Namespace) -> int:
    state = _state(args)
    if _uml(state):
        return _forward(state, ["guest", "del", args.guest])
    from sdnkit.lab.lab import Lab

    Lab(args.name).del_guest(args.guest)
    return 0


def cmd_exec(args: argparse.Namespace) -> int:
    command = _exec_command(args)
    if not command:
        raise ConfigError("sdn lab exec: a command is needed after --")
    state = _state(args)
    if _uml(state):
        return _forward(state, ["exec", args.member, "--", *command])
    from sdnkit.lab.lab import Lab

    sys.stdout.flush()
    return Lab(args.name).exec(args.member, command)


def _exec_command(args: argparse.Namespace) -> list[str]:
    """The command after ``--``; a ``--name LAB`` written between NAME and ``--`` is taken too."""
    argv = list(args.argv)
    if "--" not in argv:
        return argv
    cut = argv.index("--")
    before, command = argv[:cut], argv[cut + 1 :]
    if before:
        extra = argparse.ArgumentParser(prog="sdn lab exec NAME", add_help=False)
        extra.add_argument("--name", required=True)
        args.name = extra.parse_args(before).name
    return command


def cmd_router(args: argparse.Namespace) -> int:
    state = _state(args)
    text = args.conf_text
    if text is None and args.conf:
        try:
            text = sys.stdin.read() if args.conf == "-" else Path(args.conf).read_text()
        except OSError as err:
            text = f"lab router: cannot read --conf {args.conf}: {err.strerror}"
            raise ConfigError(text, key="conf") from None
    if _uml(state):
        extra = ["--conf-text", text] if text is not None and args.action == "start" else []
        return _forward(state, ["router", args.action, *extra], args.output)
    from sdnkit.lab.lab import Lab

    lab = Lab(args.name)
    if args.action == "start":
        daemons = lab.start_router(text)
        emit({"member": "outside", "daemons": list(daemons)}, args.output)
    else:
        lab.stop_router()
    return 0


# --- parser -----------------------------------------------------------------------------------


def _with_name(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--name", default=os.environ.get("SDN_LAB") or DEFAULT_LAB, help="lab name (default: sdnlab)"
    )
    return parser


def _register_guest(sub: Any) -> None:
    guest = sub.add_parser("guest", help="add or remove a guest").add_subparsers(
        dest="guest_command", required=True
    )
    add = _with_name(guest.add_parser("add", help="plug a guest namespace into a vnet on a node"))
    add.add_argument("guest", metavar="NAME")
    add.add_argument("--node", required=True)
    add.add_argument("--vnet", required=True)
    add.add_argument("--ip", type=_cidr, help="address with prefix length, e.g. 10.0.1.14/24")
    add.add_argument("--gw", type=_address, help="default gateway")
    add.add_argument("--mtu", type=_int_range("--mtu", 68, 65535), help="default: the vnet bridge's MTU")
    add.add_argument("--mac", type=_mac, help="default: derived from the lab and guest names")
    add.add_argument("--vlan", type=_int_range("--vlan", 1, 4094), help="access VLAN on a VLAN-aware vnet")
    add.add_argument("--dhcp", action="store_true", help="get the address by DHCP (IPAM port)")
    add.set_defaults(func=cmd_guest_add)
    rm = _with_name(guest.add_parser("del", help="remove a guest"))
    rm.add_argument("guest", metavar="NAME")
    rm.set_defaults(func=cmd_guest_del)


def register(subparsers: Any) -> None:
    lab = subparsers.add_parser("lab", help="multi-node network-namespace lab").add_subparsers(
        dest="lab_command", metavar="ACTION", required=True
    )
    up = _with_name(lab.add_parser("up", help="create the lab"))
    up.add_argument("--nodes", type=_int_range("--nodes", 1, 200), default=3)
    up.add_argument("--kernel", choices=[k.value for k in Kernel], default=Kernel.HOST.value)
    up.add_argument(
        "--etcd",
        action="store_true",
        help="the lab's store is its own etcd cluster on node1-3, reachable from this host",
    )
    up.add_argument(
        "--etcd-subnet",
        metavar="CIDR",
        help="with --etcd: the host-facing subnet (default: the first free /24 of 198.18.0.0/15)",
    )
    up.add_argument("--switch-port", help=argparse.SUPPRESS)  # inside UML: the device to the real host
    up.add_argument(
        "--etcd-election-ms",
        type=_int_range("--etcd-election-ms", 100, 50000),
        default=500,
        help=argparse.SUPPRESS,
    )  # longer inside UML
    up.set_defaults(func=cmd_up)
    for name, func, text in (
        ("apply", cmd_apply, "run the agent once on every node, in parallel"),
        ("status", cmd_status, "show the lab's nodes, guests and agents"),
        ("down", cmd_down, "remove the lab and everything in it"),
    ):
        _with_name(lab.add_parser(name, help=text)).set_defaults(func=func)
    agents = _with_name(lab.add_parser("agents", help="start or stop long-running agents"))
    agents.add_argument("action", choices=("start", "stop"))
    agents.set_defaults(func=cmd_agents)
    _register_guest(lab)
    router = _with_name(lab.add_parser("router", help="an FRR router on the outside host (BGP tests)"))
    router.add_argument("action", choices=("start", "stop"))
    router.add_argument(
        "--conf", metavar="FILE", help="its frr.conf (- : standard input); start again to change it"
    )
    router.add_argument("--conf-text", help=argparse.SUPPRESS)  # the file's text, forwarded into UML
    router.set_defaults(func=cmd_router)
    ex = _with_name(lab.add_parser("exec", help="run a command in a node, guest or outside"))
    ex.add_argument("member", metavar="NAME")
    ex.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD", help="the command, after --")
    ex.set_defaults(func=cmd_exec)
    from sdnkit.cli import lab_etcd

    lab_etcd.register_lab_commands(lab)
