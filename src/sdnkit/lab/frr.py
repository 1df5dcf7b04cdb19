"""FRR in the lab: each node's own FRR, and an FRR router on the ``outside`` host.

Every lab member that runs FRR has one folder, ``<lab>/<member>/frr``, holding its config
(``frr.conf``, ``vtysh.conf``, ``daemons``) and its runtime files (pid files, the zserv and vty
sockets, a log per daemon); its daemons run in the member's namespace. On the nodes, the agent
starts them (``sdn agent --frr direct``, realize/frr_service.py) when the plan needs FRR;
``sdn lab router start`` starts the outside host's from a config file, for BGP tests.
``sdn lab exec <member> -- vtysh ...`` is pointed at the member's folder, so it talks to that
member's FRR and can never write the host's ``/etc/frr``. ``sdn lab down`` stops them all.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from sdnkit.errors import ConfigError
from sdnkit.lab.state import LabState, LabStore
from sdnkit.plan.frr.daemons import daemons_of_lines
from sdnkit.realize.frr import FrrInstance, apply_frr
from sdnkit.realize.frr_service import DirectFrr

OUTSIDE = "outside"
DEFAULT_ROUTER_CONF = "frr defaults datacenter\nhostname outside\nservice integrated-vtysh-config\n!\n"


def frr_dir(state: LabState, member: str) -> Path:
    return LabStore(state.name).node_dir(member) / "frr"


def service(state: LabState, member: str) -> DirectFrr:
    d = frr_dir(state, member)
    return DirectFrr(instance=FrrInstance(confdir=d, rundir=d, vty_socket=d), netns=state.ns(member))


def members(state: LabState) -> tuple[str, ...]:
    return (*state.node_names, OUTSIDE)


def stop_all(state: LabState) -> None:
    """Stop every FRR daemon of the lab (by the pid files in its folders)."""
    for member in members(state):
        if frr_dir(state, member).is_dir():
            service(state, member).stop()


def vtysh_argv(state: LabState, member: str, argv: Sequence[str]) -> list[str]:
    """``vtysh ...`` pointed at the member's FRR; any other command unchanged."""
    if not argv or os.path.basename(argv[0]) != "vtysh" or member not in members(state):
        return list(argv)
    d = str(frr_dir(state, member))
    return [argv[0], "--vty_socket", d, "--config_dir", d, *argv[1:]]


def start_router(state: LabState, conf: str | None) -> tuple[str, ...]:
    """Start (or reconfigure) the outside host's FRR with ``conf``; the daemons it runs."""
    text = conf or DEFAULT_ROUTER_CONF
    if "\x00" in text:
        raise ConfigError("lab router: the configuration is not text", key="conf")
    svc = service(state, OUTSIDE)
    daemons = tuple(sorted(daemons_of_lines(text.splitlines())))
    started = svc.ensure(daemons)
    apply_frr(text, svc.instance, force=bool(started))
    return ("zebra", *daemons)


def stop_router(state: LabState) -> None:
    if frr_dir(state, OUTSIDE).is_dir():
        service(state, OUTSIDE).stop()
