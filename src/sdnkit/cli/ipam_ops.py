"""``sdn ip``: the addresses registered in the zones' IPAMs (applied vnets and subnets).

    sdn ip list [--vnet V] [--guest ID] [--mac M]     registered addresses
    sdn ip status IPAM                                 GET /cluster/sdn/ipams/IPAM/status
    sdn ip add --vnet V --ip IP [--mac M] [--hostname H] [--guest ID]
    sdn ip set --vnet V --ip IP [--mac M] [--hostname H] [--guest ID]
    sdn ip del --vnet V --ip IP
    sdn ip compact                                     rewrite pve-ipam-state.json now

Guest ports (allocation with DHCP and DNS) are ``sdn port``; this is the IPAM alone.
"""

from __future__ import annotations

import argparse
from typing import Any

from sdnkit.cli.output import emit
from sdnkit.errors import ConfigError
from sdnkit.ipam.base import Allocation
from sdnkit.ipam.journal import JournalStorage
from sdnkit.service import ipam
from sdnkit.store import open_store

COLUMNS = ("zone", "vnet", "subnet", "ip", "mac", "hostname", "vmid", "gateway")


def _ctx(args: argparse.Namespace) -> Any:

    return ipam.running_context(open_store(args.config_dir))


def _rows(found: list[Allocation]) -> list[dict[str, Any]]:
    return [a.to_status() for a in found]


def cmd_list(args: argparse.Namespace) -> int:

    ctx = _ctx(args)
    if args.mac:
        if not args.vnet:
            raise ConfigError("sdn ip list: --mac needs --vnet (a MAC is looked up in one vnet)", key="vnet")
        found = ipam.find_mac(ctx, args.vnet, args.mac)
    elif args.guest:
        found = [a for a in ipam.find_guest(ctx, args.guest) if not args.vnet or a.vnet == args.vnet]
    else:
        found = ipam.list_ips(ctx, args.vnet)
    emit(_rows(found), args.output, COLUMNS)
    return 0


def cmd_status(args: argparse.Namespace) -> int:

    emit(ipam.status(_ctx(args), args.ipam), args.output, COLUMNS)
    return 0


def cmd_add(args: argparse.Namespace) -> int:

    alloc = ipam.add_ip(_ctx(args), args.vnet, args.ip, mac=args.mac, hostname=args.hostname, vmid=args.guest)
    emit(_rows([alloc]), args.output, COLUMNS)
    return 0


def cmd_set(args: argparse.Namespace) -> int:

    alloc = ipam.update_ip(
        _ctx(args), args.vnet, args.ip, mac=args.mac, hostname=args.hostname, vmid=args.guest
    )
    emit(_rows([alloc]), args.output, COLUMNS)
    return 0


def cmd_del(args: argparse.Namespace) -> int:

    ipam.del_ip(_ctx(args), args.vnet, args.ip)
    return 0


def cmd_compact(args: argparse.Namespace) -> int:

    storage = ipam.storage_for(open_store(args.config_dir))
    if isinstance(storage, JournalStorage):
        storage.compact()
    return 0


def _mapping(p: argparse.ArgumentParser) -> None:
    p.add_argument("--vnet", required=True, help="vnet the address belongs to")
    p.add_argument("--ip", required=True, help="the address")
    p.add_argument("--mac", help="MAC address of the guest NIC")
    p.add_argument("--hostname", help="host name (DNS name)")
    p.add_argument("--guest", help="guest ID (vmid, 100-999999999)")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("ip", help="addresses registered in the IPAMs")
    sub = p.add_subparsers(dest="ip_command", metavar="COMMAND")
    sub.required = True
    q = sub.add_parser("list", help="registered addresses (all, of a vnet, a guest or a MAC)")
    q.add_argument("--vnet")
    q.add_argument("--guest")
    q.add_argument("--mac")
    q.set_defaults(func=cmd_list)
    q = sub.add_parser("status", help="every address of the zones using an IPAM (PVE's ipams/{ipam}/status)")
    q.add_argument("ipam")
    q.set_defaults(func=cmd_status)
    q = sub.add_parser("add", help="register exactly this address")
    _mapping(q)
    q.set_defaults(func=cmd_add)
    q = sub.add_parser("set", help="change the MAC, hostname or guest of a registered address")
    _mapping(q)
    q.set_defaults(func=cmd_set)
    q = sub.add_parser("del", help="release an address")
    q.add_argument("--vnet", required=True)
    q.add_argument("--ip", required=True)
    q.set_defaults(func=cmd_del)
    q = sub.add_parser("compact", help="write the built-in IPAM's pve-ipam-state.json now")
    q.set_defaults(func=cmd_compact)
