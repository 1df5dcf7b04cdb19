"""The ``sdn`` command: parse the command line and dispatch to one command module.

Each module in ``COMMAND_MODULES`` adds its subcommands with ``register(subparsers)`` and sets
``func(args) -> int`` on them. Shared options (``--config-dir``, ``--output``) live here; they
are accepted before the command and after it (``sdn port add ... --output json``), except on
commands that pass their remaining arguments on (``sdn pvesh``, ``sdn lab exec``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Iterator, Sequence

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


def _global_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """``--config-dir`` and ``--output``; below the top level without defaults (SUPPRESS), so that
    an option given before the command is kept unless it is given again after it."""
    taken = parser._option_string_actions
    if "--config-dir" not in taken:
        parser.add_argument(
            "--config-dir",
            default=config_dir_default() if defaults else argparse.SUPPRESS,
            help="configuration store directory (default: $SDN_CONFIG_DIR or /etc/sdnkit)",
        )
    if "--output" not in taken and "-o" not in taken:
        parser.add_argument(
            "--output",
            "-o",
            choices=("text", "json"),
            default="text" if defaults else argparse.SUPPRESS,
            help="output format (default: text)",
        )


def _subparsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Every parser below ``parser``, depth first."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield sub
                yield from _subparsers(sub)


def _passes_arguments_on(parser: argparse.ArgumentParser) -> bool:
    return any(a.nargs == argparse.REMAINDER for a in parser._actions)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sdn",
        description="sdnkit: software-defined networking for hypervisor clusters (Proxmox VE SDN compatible)",
    )
    _global_options(parser, defaults=True)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"sdnkit.cli.{name}")
        module.register(subparsers)
    for sub in _subparsers(parser):
        if not _passes_arguments_on(sub):
            _global_options(sub, defaults=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
