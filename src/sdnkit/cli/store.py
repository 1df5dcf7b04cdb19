"""``sdn store``: whole-store operations.

::

    sdn store copy --from /etc/pve/sdn --to etcd://h1:2379,h2:2379,h3:2379/sdnkit/prod
    sdn store copy --from etcd://h1:2379/sdnkit/prod --to /var/backups/sdn [--force]
    sdn store gc                  etcd: delete the chunks no document refers to any more
"""

from __future__ import annotations

import argparse
from typing import Any

from sdnkit.cli.output import emit


def cmd_copy(args: argparse.Namespace) -> int:
    from sdnkit.service.store_copy import copy_store
    from sdnkit.store import open_store

    report = copy_store(open_store(args.source), open_store(args.target), force=args.force)
    row = {
        "from": args.source, "to": args.target, "documents": report.documents, "ports": report.ports,
        "addresses": report.addresses, "deleted": report.deleted, "skipped": list(report.skipped),
    }  # fmt: skip
    if args.output == "json":
        emit(row, "json")
    else:
        print(
            f"copied {report.documents} documents, {report.ports} ports and {report.addresses} IPAM "
            f"entries from {args.source} to {args.target}; verified"
            + (f"; {report.deleted} documents the source lacks were deleted" if report.deleted else "")
        )
        for name in report.skipped:
            print(f"skipped {name!r}: not a valid document name")
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    from sdnkit.store import open_store
    from sdnkit.store.etcd import EtcdStore

    store = open_store(args.config_dir)
    deleted = store.sweep() if isinstance(store, EtcdStore) else 0
    if args.output == "json":
        emit({"deleted": deleted}, "json")
    else:
        print(
            f"{deleted} unreferenced chunks deleted" if isinstance(store, EtcdStore) else "nothing to collect"
        )
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("store", help="whole-store operations: copy between a directory and etcd, gc")
    sub = p.add_subparsers(dest="store_command", metavar="COMMAND")
    sub.required = True
    q = sub.add_parser(
        "copy",
        help="copy every document (IPAM state and ports converted to the destination's layout), then verify",
        description="Copy a store: a directory (a PVE /etc/pve/sdn copy too) or an etcd URL, either way.",
    )
    q.add_argument("--from", dest="source", required=True, metavar="STORE", help="directory or etcd URL")
    q.add_argument("--to", dest="target", required=True, metavar="STORE", help="directory or etcd URL")
    q.add_argument("--force", action="store_true", help="replace a destination that holds documents")
    q.set_defaults(func=cmd_copy)
    q = sub.add_parser("gc", help="etcd: delete the chunks of big documents that nothing refers to")
    q.set_defaults(func=cmd_gc)
