"""The vocabulary of the reconciler: steps, changes, phases and the result of an apply.

A :class:`Change` is one kernel operation (one ``ip``/``bridge`` batch line, one sysctl write or
one standalone command) together with the steps that undo it. ``diff`` produces changes in
:class:`Phase` order; ``ipbatch`` runs them and, when one fails, runs the undo steps of the
completed ones in reverse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import NamedTuple

from sdnkit.errors import RealizeError

# Routes sdnkit adds carry this protocol number (``ip route ... proto 241``), so that reading
# and removing them never touches a route somebody else (the kernel, FRR, an admin) installed.
ROUTE_PROTO = 241
# Links sdnkit creates are put in this link group (``ip link ... group 21316``): a mark in the
# kernel itself, so that a link is recognised as ours even if the state file was lost, and a link
# of the same name somebody else made is not.
LINK_GROUP = 21316

# A batch line is split on blanks and cut at '#' by iproute2, so only plain tokens may go there;
# anything else runs as its own argv command.
_TOKEN = r"[A-Za-z0-9_.:/@%+,=\-]+"
_BATCH_SAFE = re.compile(rf"{_TOKEN}(?: {_TOKEN})*")
_IFNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,14}")


class Tool(StrEnum):
    IP = "ip"  # a line of `ip -batch`
    BRIDGE = "bridge"  # a line of `bridge -batch`
    SYSCTL = "sysctl"  # a write below /proc/sys (args: relative path, value)
    ARGV = "argv"  # a standalone command (args: full argv)


class Phase(IntEnum):
    """Fixed order of an apply: dependents go first, then links are built bottom-up."""

    DEL_ROUTES = 10
    DEL_FDB = 15
    DEL_VIDS = 18
    DEL_ADDRESSES = 20
    UNENSLAVE = 25
    DEL_LINKS = 30
    ADD_LINKS = 40
    SET_LINKS = 50
    ENSLAVE = 60
    PORT_FLAGS = 65
    UP = 70
    ADD_ADDRESSES = 80
    ADD_ROUTES = 90
    ADD_FDB = 100
    ADD_VIDS = 110
    ALIAS = 120
    SYSCTLS = 130


class Step(NamedTuple):  # immutable, and cheap to make by the thousand (a diff of 1000 vnets)
    tool: Tool
    args: tuple[str, ...]

    @property
    def batchable(self) -> bool:
        return self.tool in (Tool.IP, Tool.BRIDGE) and _BATCH_SAFE.fullmatch(" ".join(self.args)) is not None

    def __str__(self) -> str:
        if self.tool is Tool.SYSCTL:
            return f"sysctl {self.args[0].replace('/', '.')}={self.args[1]}"
        if self.tool is Tool.ARGV:
            return " ".join(self.args)
        return f"{self.tool} {' '.join(self.args)}"


def ip(*args: str) -> Step:
    return Step(Tool.IP, args)


def bridge(*args: str) -> Step:
    return Step(Tool.BRIDGE, args)


def sysctl(path: str, value: str) -> Step:
    return Step(Tool.SYSCTL, (path, value))


class Change(NamedTuple):
    phase: Phase
    obj: str  # what the change is about, as errors name it: 'link "vnet1"'
    action: str  # what it does, for reports: "create bridge (mtu 1450)"
    step: Step
    undo: tuple[Step, ...] = ()

    def __str__(self) -> str:
        return f"{self.obj}: {self.action}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplyResult:
    """What an apply did. ``changes`` is empty when the node already matched the plan."""

    changes: tuple[str, ...] = ()
    nat_changed: bool = False
    frr_changed: bool = False
    dry_run: bool = False
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def changed(self) -> bool:
        return bool(self.changes) or self.nat_changed or self.frr_changed

    def summary(self) -> str:
        count = len(self.changes) + self.nat_changed + self.frr_changed
        return f"{count} change{'s' if count != 1 else ''}"


def check_ifname(name: str, *, what: str = "link") -> str:
    """``name`` if it is a kernel interface name sdnkit may use, else a RealizeError."""
    if not _IFNAME.fullmatch(name):
        raise RealizeError(
            f'{what} "{name}": invalid interface name (1-15 letters, digits, "_", ".", "-")',
            obj=name,
            key="name",
            value=name,
        )
    return name
