"""The ``sdn`` command: parse the command line and dispatch to one command module.

Each module in ``COMMAND_MODULES`` adds its subcommands with ``register(subparsers)`` and sets
``func(args) -> int`` on them. Shared options (``--config-dir``, ``--output``) live here.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from sdnkit.cli.output import say
from sdnkit.errors import ConfigError, NotFoundError, SdnError

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
)

DEFAULT_CONFIG_DIR = "/etc/sdnkit"


def config_dir_default() -> str:
    return os.environ.get("SDN_CONFIG_DIR") or DEFAULT_CONFIG_DIR


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sdn",
        description="sdnkit: software-defined networking for hypervisor clusters (Proxmox VE SDN compatible)",
    )
    parser.add_argument(
        "--config-dir",
        default=config_dir_default(),
        help="configuration store directory (default: $SDN_CONFIG_DIR or /etc/sdnkit)",
    )
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
    try:
        return int(args.func(args) or 0)
    except ConfigError as err:
        say(f"sdn: error: {err}", sys.stderr)
        return 2
    except NotFoundError as err:
        say(f"sdn: error: {err}", sys.stderr)
        return 2
    except SdnError as err:
        say(f"sdn: error: {err}", sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
