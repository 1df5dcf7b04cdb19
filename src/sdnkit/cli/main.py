"""The ``sdn`` command: parse the command line and dispatch to one command module.

Each module in ``COMMAND_MODULES`` adds its subcommands with ``register(subparsers)`` and sets
``func(args) -> int`` on them. Shared options (``--store``/``--config-dir``, the etcd connection
options, ``--output``) live here. The etcd options are put into the environment
(``SDN_ETCD_*``), where ``open_store`` finds them, and so do the commands this one starts.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from sdnkit.errors import ConfigError, NotFoundError, SdnError
from sdnkit.store import store_spec

# one module per command family, in the order they appear in --help
COMMAND_MODULES: tuple[str, ...] = (
    "objects",
    "changes",
    "pvesh",
    "render",
    "agent",
    "status",
    "port",
    "ipam_ops",
    "lab",
    "demo",
    "serve",
    "access",
    "store",
)

# option -> environment variable read by open_store (store/etcd_client.py parse_url)
ETCD_OPTIONS = {
    "etcd_cacert": "SDN_ETCD_CACERT",
    "etcd_cert": "SDN_ETCD_CERT",
    "etcd_key": "SDN_ETCD_KEY",
    "etcd_user": "SDN_ETCD_USER",
    "etcd_password_file": "SDN_ETCD_PASSWORD_FILE",
}


def _store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        "--config-dir",
        dest="config_dir",
        default=store_spec(),
        metavar="STORE",
        help="where the configuration lives: a directory (PVE /etc/pve/sdn layout) or "
        "etcd://HOST:PORT[,HOST:PORT...][/PREFIX] (etcds:// for TLS); default: $SDN_STORE, "
        "$SDN_CONFIG_DIR or /etc/sdnkit",
    )
    group = parser.add_argument_group("etcd connection (or $SDN_ETCD_CACERT, _CERT, _KEY, _USER, _PASSWORD)")
    group.add_argument("--etcd-cacert", metavar="FILE", help="CA certificate of the etcd members (TLS)")
    group.add_argument("--etcd-cert", metavar="FILE", help="client certificate for etcd")
    group.add_argument("--etcd-key", metavar="FILE", help="key of the client certificate")
    group.add_argument("--etcd-user", metavar="NAME", help="etcd user (password from $SDN_ETCD_PASSWORD)")
    group.add_argument("--etcd-password-file", metavar="FILE", help="file holding the etcd user's password")


def export_store_options(args: argparse.Namespace) -> None:
    """Hand the etcd options to ``open_store`` and to the commands this one starts."""
    for option, variable in ETCD_OPTIONS.items():
        value = getattr(args, option, None)
        if value:
            os.environ[variable] = os.path.abspath(value) if option != "etcd_user" else value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sdn",
        description="sdnkit: software-defined networking for hypervisor clusters (Proxmox VE SDN compatible)",
    )
    _store_options(parser)
    parser.add_argument(
        "--output", "-o", choices=("text", "json"), default="text", help="output format (default: text)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"sdnkit.cli.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    export_store_options(args)
    try:
        return int(args.func(args) or 0)
    except ConfigError as err:
        print(f"sdn: error: {err}", file=sys.stderr)
        return 2
    except NotFoundError as err:
        print(f"sdn: error: {err}", file=sys.stderr)
        return 2
    except SdnError as err:
        print(f"sdn: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
