"""The ``sdn`` command: parse the command line and dispatch to one command module.

Each module in ``COMMAND_MODULES`` adds its subcommands with ``register(subparsers)`` and sets
``func(args) -> int`` on them. Shared options (``--store``/``--config-dir``, the etcd connection
options, ``--output``) live here; they are accepted before the command and after it (``sdn port
add ... --output json``), except on commands that pass their remaining arguments on (``sdn
pvesh``, ``sdn lab exec``). The etcd options are put into the environment (``SDN_ETCD_*``), where
``open_store`` finds them, and so do the commands this one starts.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Iterator, Sequence

from sdnkit.cli.output import say
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


def _store_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    unset = {} if defaults else {"default": argparse.SUPPRESS}
    parser.add_argument(
        "--store",
        "--config-dir",
        dest="config_dir",
        default=store_spec() if defaults else argparse.SUPPRESS,
        metavar="STORE",
        help="where the configuration lives: a directory (PVE /etc/pve/sdn layout) or "
        "etcd://HOST:PORT[,HOST:PORT...][/PREFIX] (etcds:// for TLS); default: $SDN_STORE, "
        "$SDN_CONFIG_DIR or /etc/sdnkit",
    )
    group = parser.add_argument_group("etcd connection (or $SDN_ETCD_CACERT, _CERT, _KEY, _USER, _PASSWORD)")
    group.add_argument(
        "--etcd-cacert", metavar="FILE", help="CA certificate of the etcd members (TLS)", **unset
    )
    group.add_argument("--etcd-cert", metavar="FILE", help="client certificate for etcd", **unset)
    group.add_argument("--etcd-key", metavar="FILE", help="key of the client certificate", **unset)
    group.add_argument(
        "--etcd-user", metavar="NAME", help="etcd user (password from $SDN_ETCD_PASSWORD)", **unset
    )
    group.add_argument(
        "--etcd-password-file", metavar="FILE", help="file holding the etcd user's password", **unset
    )


def export_store_options(args: argparse.Namespace) -> None:
    """Hand the etcd options to ``open_store`` and to the commands this one starts."""
    for option, variable in ETCD_OPTIONS.items():
        value = getattr(args, option, None)
        if value:
            os.environ[variable] = os.path.abspath(value) if option != "etcd_user" else value


def _global_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """The store options and ``--output``; below the top level without defaults (SUPPRESS), so
    that an option given before the command is kept unless it is given again after it."""
    taken = parser._option_string_actions
    if "--store" not in taken and "--config-dir" not in taken:
        _store_options(parser, defaults=defaults)
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
    for group in (parser, *_subparsers(parser)):
        if _has_subcommands(group):
            # a parser that hands on to a subcommand must not read a subcommand's option as an
            # abbreviation of its own (`sdn lab up --etcd` is not `--etcd-cacert`)
            group.allow_abbrev = False
    return parser


def _has_subcommands(parser: argparse.ArgumentParser) -> bool:
    return any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    export_store_options(args)
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
