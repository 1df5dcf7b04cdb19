"""Lab state: which namespaces, guests and processes a lab has, kept in a file.

Each ``sdn lab`` invocation is a separate process, so a lab lives in a directory
``$SDN_LAB_DIR/<name>/`` (default ``/run/sdnkit/lab``): ``state.json`` plus one folder per node
(agent state and logs). Changes hold an exclusive ``flock`` on ``lock`` and rewrite ``state.json``
atomically (write a temporary file, rename). Namespaces are recorded *before* they are created,
so that ``sdn lab down`` also removes what a crashed command left behind.

Naming: every namespace of lab ``L`` starts with ``L-`` (``L-node1``, ``L-sw``, ``L-outside``,
``L-g-<guest>``), so labs with different names run side by side; interface names inside the
namespaces are fixed (``vmbr0``, ``eth0``) or derived from a guest number (``veth100i0``).
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from sdnkit.errors import ConfigError, NotFoundError

DEFAULT_LAB = "sdnlab"
DEFAULT_ROOT = "/run/sdnkit/lab"
NAME_RE = re.compile(r"[a-z][a-z0-9]{0,15}")
GUEST_RE = re.compile(r"[a-z][a-z0-9-]{0,23}")
RESERVED = re.compile(r"node[0-9]+|outside|sw")
MAX_NODES = 200
FIRST_VMID = 100


class Kernel(StrEnum):
    HOST = "host"  # namespaces on this machine's kernel
    UML = "uml"  # namespaces inside a User-Mode-Linux kernel (lab/umllab.py)


def lab_root() -> Path:
    return Path(os.environ.get("SDN_LAB_DIR") or DEFAULT_ROOT)


def check_lab_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise ConfigError(
            f'lab "{name}": invalid name: 1-16 lower-case letters and digits, starting with a letter',
            obj=name,
            key="name",
            value=name,
        )
    return name


def check_guest_name(name: str) -> str:
    if not GUEST_RE.fullmatch(name) or RESERVED.fullmatch(name):
        raise ConfigError(
            f'guest "{name}": invalid name: 1-24 lower-case letters, digits and "-", starting with a '
            'letter, and not "nodeN", "outside" or "sw"',
            obj=name,
            key="name",
            value=name,
        )
    return name


@dataclass(frozen=True, slots=True, kw_only=True)
class Guest:
    name: str
    node: str
    vnet: str
    vmid: int
    netns: str
    mac: str
    ip: str | None = None
    gw: str | None = None
    mtu: int | None = None
    vlan: int | None = None
    dhcp: bool = False
    client_pid: int | None = None  # --dhcp: the guest's DHCP client

    @property
    def ifname(self) -> str:
        """The node-side veth, named as Proxmox VE names a container NIC."""
        return f"veth{self.vmid}i0"


@dataclass(frozen=True, slots=True, kw_only=True)
class UmlInstance:
    """The UML kernel a ``--kernel uml`` lab runs in (see lab/umllab.py)."""

    pid: int
    run_dir: str  # the boot directory; its io/ folder carries control requests
    log: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EtcdLab:
    """The lab's own etcd cluster (``sdn lab up --etcd``, lab/etcdlab.py)."""

    members: tuple[str, ...]  # the nodes that run a member
    subnet: str  # the host-facing network: the members' second address, the host link's
    prefix: str  # the store's key prefix, /sdnkit/<lab>/
    election_ms: int = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class HostLink:
    """An interface in a root namespace, into the lab's switch (lab/hostlink.py)."""

    ifname: str
    address: str  # with prefix length
    kind: str  # "veth" (its peer is a port of the switch) or "tap" (a UML lab's network device)


@dataclass(frozen=True, slots=True, kw_only=True)
class LabState:
    name: str
    kernel: Kernel
    nodes: int
    config_dir: str
    namespaces: tuple[str, ...] = ()  # every namespace created (or about to be), for teardown
    guests: dict[str, Guest] = field(default_factory=dict)
    agents: dict[str, int] = field(default_factory=dict)  # node -> pid of a long-lived agent
    uml: UmlInstance | None = None
    etcd: EtcdLab | None = None
    hostlink: HostLink | None = None  # recorded before it is created, like the namespaces
    # guest numbers only grow: a deleted guest's veth may linger in the kernel for a moment
    last_vmid: int = FIRST_VMID - 1

    # names ------------------------------------------------------------------------------------
    def ns(self, member: str) -> str:
        """Namespace of a member: ``node1``, ``outside``, ``sw`` or a guest name."""
        if member in self.guests:
            return self.guests[member].netns
        if member in self.node_names or member in ("outside", "sw"):
            return f"{self.name}-{member}"
        raise NotFoundError(f'lab "{self.name}": no node, guest or host named "{member}"', obj=member)

    def guest_ns(self, guest: str) -> str:
        return f"{self.name}-g-{guest}"

    @property
    def node_names(self) -> tuple[str, ...]:
        return tuple(f"node{i}" for i in range(1, self.nodes + 1))

    def node_index(self, node: str) -> int:
        if node not in self.node_names:
            raise NotFoundError(f'lab "{self.name}": no node "{node}" (nodes: node1..node{self.nodes})')
        return int(node[4:])

    def next_vmid(self) -> int:
        return self.last_vmid + 1

    # (de)serialisation -------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LabState:
        uml, etcd, hostlink = data.get("uml"), data.get("etcd"), data.get("hostlink")
        return cls(
            name=data["name"],
            kernel=Kernel(data["kernel"]),
            nodes=int(data["nodes"]),
            config_dir=data["config_dir"],
            namespaces=tuple(data.get("namespaces", ())),
            guests={k: Guest(**v) for k, v in data.get("guests", {}).items()},
            agents={k: int(v) for k, v in data.get("agents", {}).items()},
            uml=UmlInstance(**uml) if uml else None,
            etcd=EtcdLab(**{**etcd, "members": tuple(etcd["members"])}) if etcd else None,
            hostlink=HostLink(**hostlink) if hostlink else None,
            last_vmid=int(data.get("last_vmid", FIRST_VMID - 1)),
        )


class LabStore:
    """The state directory of one lab."""

    def __init__(self, name: str, root: Path | None = None) -> None:
        self.name = check_lab_name(name)
        self.dir = (root or lab_root()) / name

    @property
    def path(self) -> Path:
        return self.dir / "state.json"

    def node_dir(self, node: str) -> Path:
        return self.dir / node

    def exists(self) -> bool:
        return self.path.is_file()

    def load(self) -> LabState:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            raise NotFoundError(f'lab "{self.name}" does not exist (sdn lab up --name {self.name})') from None
        return LabState.from_json(data)

    def save(self, state: LabState) -> None:
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(state.to_json(), indent=1, sort_keys=True))
        tmp.replace(self.path)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the lab's lock: one changing command at a time per lab."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    def remove(self) -> None:
        for path in sorted(self.dir.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            else:
                path.unlink()
        self.dir.rmdir()


def replace(state: LabState, **changes: Any) -> LabState:
    return dataclasses.replace(state, **changes)
