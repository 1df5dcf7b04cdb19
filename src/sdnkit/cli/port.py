"""``sdn port add|del|list``: guest ports (address, DHCP mapping, DNS records, device).

    sdn port add --vnet V --guest ID --mac M [--hostname H] [--ip ADDR]... [--netns NS | --tap NAME]
    sdn port del --vnet V --guest ID --mac M
    sdn port list [--vnet V] [--guest ID]

Node-local options say where this node keeps things: ``--node`` (default: the host name),
``--node-netns`` (the namespace of the node's vnet bridges, for lab nodes), ``--dhcp-root`` (the
DHCP servers' folder, see ``DhcpPaths.under``; default PVE's paths) and ``--no-firewall``. The
work is done by ``sdnkit.service.ports``.
"""

from __future__ import annotations

import argparse
import ipaddress
import os

from sdnkit.cli.output import emit
from sdnkit.config.formats import IP
from sdnkit.dhcp.base import DhcpPaths, DhcpSettings
from sdnkit.errors import ConfigError
from sdnkit.service.ports import PortContext, PortSpec, add_port, del_port, list_ports, local_node
from sdnkit.store import open_store

__all__ = ["register"]

COLUMNS = ("vnet", "guest", "mac", "ips", "hostname", "node", "device")


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(IP.parse(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _context(args: argparse.Namespace) -> PortContext:
    node_ns = args.node_netns
    if args.dhcp_root:
        dhcp = DhcpSettings(paths=DhcpPaths.under(args.dhcp_root), netns=node_ns)
    else:
        dhcp = DhcpSettings(netns=node_ns)
    kw = {"firewall": False} if args.no_firewall else {}
    return PortContext(store=open_store(args.config_dir), node=args.node, node_netns=node_ns, dhcp=dhcp, **kw)


def _add(args: argparse.Namespace) -> int:
    if args.netns and args.tap:
        raise ConfigError("give either --netns or --tap, not both", key="netns")
    spec = PortSpec(
        vnet=args.vnet,
        guest=args.guest,
        mac=args.mac,
        hostname=args.hostname,
        ips=tuple(args.ip or ()),
        netns=args.netns,
        tap=args.tap,
        ifname=args.ifname,
    )
    port = add_port(_context(args), spec)
    emit(port.to_json(), args.output)
    return 0


def _del(args: argparse.Namespace) -> int:
    port = del_port(_context(args), args.vnet, args.guest, args.mac)
    emit(port.to_json(), args.output)
    return 0


def _list(args: argparse.Namespace) -> int:
    ports = list_ports(_context(args), vnet=args.vnet, guest=args.guest)
    emit([p.to_json() for p in ports], args.output, COLUMNS)
    return 0


def _node_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("this node")
    group.add_argument("--node", default=os.environ.get("SDN_NODE") or local_node(), help="node name")
    group.add_argument("--node-netns", metavar="NS", help="namespace of the node's vnet bridges (lab nodes)")
    group.add_argument(
        "--dhcp-root", metavar="DIR", help="folder of the node's DHCP servers (default: PVE's)"
    )
    group.add_argument("--no-firewall", action="store_true", help="leave the node's nftables IP sets alone")


def _port_id(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vnet", required=True, help="vnet ID")
    parser.add_argument("--guest", required=True, help="guest ID (PVE vmid)")
    parser.add_argument("--mac", required=True, help="the NIC's MAC address")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    port = subparsers.add_parser("port", help="guest ports: address, DHCP, DNS and device")
    sub = port.add_subparsers(dest="port_command", metavar="ACTION")
    sub.required = True

    add = sub.add_parser("add", help="add a port: allocate, map, register and plug, all or nothing")
    _port_id(add)
    add.add_argument("--hostname", help="register <hostname>.<dnszone> in DNS")
    add.add_argument(
        "--ip", type=_ip, action="append", help="this address instead of the next free (per family)"
    )
    device = add.add_mutually_exclusive_group()
    device.add_argument("--netns", metavar="NS", help="create a veth into this network namespace")
    device.add_argument("--tap", metavar="NAME", help="plug this tap (created when missing)")
    add.add_argument("--ifname", default="eth0", help="the veth's name inside --netns (default: eth0)")
    _node_options(add)
    add.set_defaults(func=_add)

    delete = sub.add_parser("del", help="remove a port and everything it holds")
    _port_id(delete)
    _node_options(delete)
    delete.set_defaults(func=_del)

    lst = sub.add_parser("list", help="list ports")
    lst.add_argument("--vnet", help="only this vnet's ports")
    lst.add_argument("--guest", help="only this guest's ports")
    _node_options(lst)
    lst.set_defaults(func=_list)
