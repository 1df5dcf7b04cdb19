"""Read the node's current kernel state: links, addresses, bridge ports, FDB, VLANs, routes, sysctls.

One ``ip -j -d addr show`` gives every link with its kind, kind data, master, bridge-port flags
and addresses; ``bridge -j fdb show``, ``bridge -c -j vlan show`` and ``ip -j route show table all
proto 241`` (v4 and v6) add the rest, and are only started when the plan or the ownership record
needs them. The processes run in parallel (they are independent reads), in the calling thread's
network namespace (see :mod:`sdnkit.realize.netns`). Sysctls are read from ``/proc/sys`` directly.

Values are canonical, so that they compare equal to what :mod:`sdnkit.realize.spec` derives from
the plan: addresses as ``ipaddress`` text (``10.0.0.1/24``), MACs lower case, VLAN protocols as the
kernel spells them (``802.1Q``, ``802.1ad``).
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdnkit.errors import RealizeError
from sdnkit.realize import kinds
from sdnkit.realize.base import ROUTE_PROTO

PROC_SYS = Path("/proc/sys")
FLOOD_MAC = "00:00:00:00:00:00"
MAIN_TABLE = 254
_TABLE_NAMES = {"main": MAIN_TABLE, "local": 255, "default": 253}
# rtnetlink route types (RTN_*), as ``ip -N`` prints them
_ROUTE_TYPES = {
    "1": "unicast",
    "2": "local",
    "3": "broadcast",
    "6": "blackhole",
    "7": "unreachable",
    "8": "prohibit",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkState:
    """One link as the kernel has it."""

    name: str
    ifindex: int = 0
    kind: str = ""  # "" for devices without a kind (physical NICs, loopback)
    info: Mapping[str, Any] = field(default_factory=dict)  # kind data, see kinds.py
    mtu: int | None = None
    hwaddress: str | None = None
    alias: str = ""
    master: str | None = None
    up: bool = False
    addresses: frozenset[str] = frozenset()
    brport: Mapping[str, bool] = field(default_factory=dict)  # learning, neigh_suppress, isolated
    fdb: frozenset[str] = frozenset()  # flood destinations (00:00:00:00:00:00 dst <ip>)
    vids: frozenset[int] = frozenset()  # bridge VLANs on this port (or on the bridge itself)
    group: int = 0  # link group (-1: a named group)


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """A route sdnkit manages; ``table`` is a number (254 = main)."""

    dst: str  # canonical network, "0.0.0.0/0" for default
    table: int = MAIN_TABLE
    type: str = "unicast"
    via: str | None = None
    dev: str | None = None
    metric: int | None = None

    def args(self) -> tuple[str, ...]:
        """The ``ip route add|del`` arguments that name this route."""
        out: list[str] = [] if self.type == "unicast" else [self.type]
        out.append(self.dst)
        if self.via:
            out += ["via", self.via]
        if self.dev:
            out += ["dev", self.dev]
        out += ["table", str(self.table)]
        if self.metric is not None:
            out += ["metric", str(self.metric)]
        return (*out, "proto", str(ROUTE_PROTO))


@dataclass(frozen=True, slots=True, kw_only=True)
class KernelState:
    links: Mapping[str, LinkState] = field(default_factory=dict)
    routes: frozenset[Route] = frozenset()
    sysctls: Mapping[str, str] = field(default_factory=dict)  # relative /proc/sys path → value

    def link(self, name: str) -> LinkState | None:
        return self.links.get(name)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadScope:
    """Which optional reads to run (each one is a process)."""

    fdb: bool = True
    vids: bool = True
    routes: bool = True
    sysctls: tuple[str, ...] = ()  # relative /proc/sys paths
    links: tuple[str, ...] | None = None  # only these links (None: all)


def read_kernel(scope: ReadScope = ReadScope()) -> KernelState:
    """The current state of this thread's network namespace."""
    return start_read(scope).result()


def start_read(scope: ReadScope = ReadScope()) -> PendingRead:
    """Start the reading processes now, collect with ``result()`` (which reads the sysctls then):
    an apply lets the link dump run while it writes sysctls, which the dump does not show."""
    commands: dict[str, _Command] = {"links": _links_cmd(scope.links)}
    if scope.fdb and scope.links is None:  # named links: read per VXLAN device in result()
        commands["fdb"] = _Command(("bridge", "-j", "fdb", "show"))
    if scope.vids:
        commands["vids"] = _Command(("bridge", "-c", "-j", "vlan", "show"))
    if scope.routes:
        for family in ("4", "6"):
            # -N: table numbers (names come from files other tools write, e.g. ifupdown2's VRF map)
            argv = ("ip", "-N", f"-{family}", "-j", "route", "show", "table", "all")
            commands[f"routes{family}"] = _Command((*argv, "proto", str(ROUTE_PROTO)))
    return PendingRead(scope, commands, _start(commands))


class PendingRead:
    """Reads started by :func:`start_read`; ``result()`` or ``discard()`` ends them."""

    def __init__(self, scope: ReadScope, commands: Mapping[str, _Command], running: _Running) -> None:
        self._scope, self._commands, self._running = scope, commands, running

    def result(self) -> KernelState:
        running, self._running = self._running, {}  # collected (and closed) once
        out = _collect(self._commands, running)
        if self._scope.links is not None and self._scope.fdb:
            vxlans = [
                e["ifname"] for e in out["links"] if (e.get("linkinfo") or {}).get("info_kind") == "vxlan"
            ]
            out["fdb"] = _fdb_of(vxlans)
        links = _parse_links(out["links"], _flood(out.get("fdb", ())), _vids(out.get("vids", ())))
        routes = _parse_routes(out.get("routes4", []), 4) | _parse_routes(out.get("routes6", []), 6)
        return KernelState(links=links, routes=routes, sysctls=read_sysctls(self._scope.sysctls))

    def discard(self) -> None:
        for proc, out, err in self._running.values():
            proc.kill()
            proc.wait()
            os.close(out)
            os.close(err)
        self._running = {}


@dataclass(frozen=True, slots=True)
class _Command:
    argv: tuple[str, ...]
    stdin: str | None = None
    tolerant: bool = False  # a partial answer is fine (named links that do not exist)


def _links_cmd(names: tuple[str, ...] | None) -> _Command:
    if names is None:
        return _Command(("ip", "-j", "-d", "addr", "show"))
    # one dump per named link, in one process; -force goes on past links that do not exist
    lines = "".join(f"addr show dev {name}\n" for name in names)
    return _Command(("ip", "-j", "-d", "-force", "-batch", "-"), lines, tolerant=True)


def _fdb_of(devices: Sequence[str]) -> list[dict[str, Any]]:
    """FDB entries of a few devices (``bridge fdb show dev X`` per device, in one process).

    A full dump costs about 25 ms per thousand VXLAN devices; this is what lets an incremental
    apply stay independent of the number of vnets on the node."""
    if not devices:
        return []
    lines = "".join(f"fdb show dev {name}\n" for name in devices)
    done = subprocess.run(
        ["bridge", "-j", "-force", "-batch", "-"], input=lines.encode(), capture_output=True, check=False
    )
    arrays = _json_values(done.stdout.decode())
    if len(arrays) != len(devices):  # a device vanished meanwhile: its line printed nothing
        every = _json_arrays(_read_one(("bridge", "-j", "fdb", "show")))
        arrays = [[e for e in every if e.get("ifname") == d] for d in devices]
    return [
        {**entry, "ifname": name} for name, entries in zip(devices, arrays, strict=True) for entry in entries
    ]


def _read_one(argv: tuple[str, ...]) -> str:
    done = subprocess.run(argv, capture_output=True, check=False)
    if done.returncode != 0:
        problem = done.stderr.decode().strip()
        raise RealizeError(f"reading the kernel state failed: {' '.join(argv)}: {problem}", obj="kernel")
    return done.stdout.decode()


_Running = dict[str, tuple[subprocess.Popen[bytes], int, int]]


def _start(commands: Mapping[str, _Command]) -> _Running:
    """Start the reads at once; each writes into a memory file, so none ever waits for us to read
    its pipe (a full pipe would serialise them)."""
    running: _Running = {}
    for key, cmd in commands.items():
        out, err = os.memfd_create(f"sdnkit-{key}"), os.memfd_create(f"sdnkit-{key}-err")
        stdin = subprocess.PIPE if cmd.stdin is not None else subprocess.DEVNULL
        proc = subprocess.Popen(cmd.argv, stdout=out, stderr=err, stdin=stdin)
        if cmd.stdin is not None:
            assert proc.stdin is not None
            proc.stdin.write(cmd.stdin.encode())
            proc.stdin.close()
        running[key] = (proc, out, err)
    return running


def _collect(commands: Mapping[str, _Command], running: _Running) -> dict[str, list[Any]]:
    """Wait for the reads and parse them; the quick ones are parsed while the link dump runs."""
    results: dict[str, list[Any]] = {}
    failed: list[str] = []
    for key in sorted(running, key=lambda k: k == "links"):  # the link dump takes longest: last
        proc, out, err = running[key]
        try:
            proc.wait()
            stdout, stderr = _slurp(out), _slurp(err)
        finally:
            os.close(out)
            os.close(err)
        if proc.returncode != 0 and not commands[key].tolerant:
            failed.append(f"{' '.join(commands[key].argv)}: {stderr.decode(errors='replace').strip()}")
            continue
        results[key] = _json_arrays(stdout.decode())
    if failed:
        raise RealizeError(f"reading the kernel state failed: {'; '.join(failed)}", obj="kernel")
    return results


def _slurp(fd: int) -> bytes:
    size = os.lseek(fd, 0, os.SEEK_END)
    return os.pread(fd, size, 0)


def _json_values(text: str) -> list[Any]:
    """The JSON values in ``text``, one after the other (a batch prints one per line of input)."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return values
        value, pos = decoder.raw_decode(text, pos)
        values.append(value)


def _json_arrays(text: str) -> list[Any]:
    """The concatenation of the JSON arrays in ``text``."""
    return [item for array in _json_values(text) for item in array]


def _parse_links(
    entries: list[dict[str, Any]], fdb: Mapping[str, frozenset[str]], vids: Mapping[str, frozenset[int]]
) -> dict[str, LinkState]:
    links: dict[str, LinkState] = {}
    for entry in entries:
        name = entry["ifname"]
        linkinfo = entry.get("linkinfo") or {}
        kind = linkinfo.get("info_kind", "")
        slave = linkinfo.get("info_slave_data") if linkinfo.get("info_slave_kind") == "bridge" else None
        links[name] = LinkState(
            name=name,
            ifindex=entry.get("ifindex", 0),
            kind=kind,
            info=kinds.parse(kind, entry, linkinfo.get("info_data") or {}),
            mtu=entry.get("mtu"),
            hwaddress=(entry.get("address") or "").lower() or None,
            alias=entry.get("ifalias", ""),
            master=entry.get("master"),
            up="UP" in entry.get("flags", ()),
            group=_group(entry.get("group", "default")),
            addresses=frozenset(_addresses(entry.get("addr_info", ()))),
            brport={k: bool(slave[k]) for k in _BRPORT_FLAGS if k in slave} if slave else {},
            fdb=fdb.get(name, frozenset()),
            vids=vids.get(name, frozenset()),
        )
    return links


def _group(value: str) -> int:
    return 0 if value == "default" else int(value) if value.isdigit() else -1


_BRPORT_FLAGS = ("learning", "neigh_suppress", "isolated")


def _addresses(addr_info: Sequence[dict[str, Any]]) -> list[str]:
    # iproute2 prints addresses the way ipaddress does (inet_ntop: RFC 5952 for IPv6)
    return [
        f"{addr['local']}/{addr['prefixlen']}"
        for addr in addr_info
        if addr.get("family") in ("inet", "inet6") and "local" in addr and not addr.get("dynamic")
    ]


def _flood(entries: Sequence[dict[str, Any]]) -> dict[str, frozenset[str]]:
    flood: dict[str, set[str]] = {}
    for entry in entries:
        if entry.get("mac") == FLOOD_MAC and "dst" in entry:
            flood.setdefault(entry.get("ifname", ""), set()).add(entry["dst"])
    return {name: frozenset(dsts) for name, dsts in flood.items()}


def _vids(entries: Sequence[dict[str, Any]]) -> dict[str, frozenset[int]]:
    out: dict[str, frozenset[int]] = {}
    for entry in entries:
        ids: set[int] = set()
        for vlan in entry.get("vlans", ()):
            ids.update(range(vlan["vlan"], vlan.get("vlanEnd", vlan["vlan"]) + 1))
        out[entry.get("ifname", "")] = frozenset(ids)
    return out


def _parse_routes(entries: list[dict[str, Any]], family: int) -> frozenset[Route]:
    """Routes read with ``ip -N`` (numbers for tables and types)."""
    routes = set()
    is6 = family == 6
    for entry in entries:
        dst = entry.get("dst", "default")
        if dst == "default":
            dst = "::/0" if is6 else "0.0.0.0/0"
        table = str(entry.get("table", MAIN_TABLE))
        number = int(table) if table.isdigit() else _TABLE_NAMES.get(table)
        if number is None:
            continue  # not a number: not a table of ours
        kind = _ROUTE_TYPES.get(str(entry.get("type", "1")), str(entry.get("type")))
        metric = entry.get("metric")
        routes.add(
            Route(
                dst=str(ipaddress.ip_network(dst, strict=False)),
                table=number,
                type=kind,
                via=entry.get("gateway"),
                dev=entry.get("dev") if kind == "unicast" else None,  # v6 blackholes show "lo"
                metric=None if metric == (1024 if is6 else 0) else metric,
            )
        )
    return frozenset(routes)


def read_sysctls(paths: Sequence[str]) -> dict[str, str]:
    """Values of ``paths`` (relative to /proc/sys); missing files are left out."""
    out = {}
    root = str(PROC_SYS)
    for path in paths:
        try:
            fd = os.open(f"{root}/{path}", os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            out[path] = os.read(fd, 64).decode().strip()
        finally:
            os.close(fd)
    return out
