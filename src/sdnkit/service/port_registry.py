"""The port records: one store document per port, ``ports/<vnet>/<guest>/<mac>.json``.

IPAM holds a port's addresses; this record holds what only the port knows: its node, hostname
and device. One document per port keeps every write small however many ports the cluster has
(on etcd, a value is sent whole). Writes are compare-and-swap on the documents they touch, under
the ``ports`` lock.

Earlier versions kept every port in one ``ports.json``; it is still read, and the first write
moves its ports to their own documents and deletes it (one commit).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from sdnkit.errors import ConfigError
from sdnkit.store.base import ABSENT, Document, Store

__all__ = [
    "LEGACY_DOC",
    "PORTS_DOC",
    "PORTS_PREFIX",
    "Port",
    "PortsRevision",
    "port_doc",
    "port_key",
    "ports_version",
    "read_ports",
    "write_ports",
]

PORTS_PREFIX = "ports/"
LEGACY_DOC = "ports.json"
PORTS_DOC = LEGACY_DOC  # the name older callers know


@dataclass(frozen=True, slots=True, kw_only=True)
class Port:
    vnet: str
    zone: str
    guest: str
    mac: str
    node: str
    hostname: str | None = None
    ips: tuple[str, ...] = ()
    device: str | None = None
    device_kind: str | None = None  # "veth" | "tap"
    netns: str | None = None
    ifname: str | None = None
    device_created: bool = True  # False: a tap that existed before (only plugged)

    @property
    def key(self) -> str:
        return port_key(self.vnet, self.guest, self.mac)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ips": list(self.ips)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Port:
        return cls(**{**data, "ips": tuple(data.get("ips", ()))})


@dataclass(frozen=True, slots=True)
class PortsRevision:
    """What ``read_ports`` saw: the ports, and the revision of each document they came from."""

    ports: Mapping[str, Port] = field(default_factory=dict)
    revisions: Mapping[str, str] = field(default_factory=dict)  # document name -> revision
    legacy: str = ABSENT  # revision of ports.json


def port_key(vnet: str, guest: str, mac: str) -> str:
    return f"{vnet}/{guest}/{mac.lower()}"


def port_doc(key: str) -> str:
    """The document of a port key (``:`` is not allowed in store names)."""
    return f"{PORTS_PREFIX}{key.replace(':', '-')}.json"


def _parse(doc: Document) -> Port:
    try:
        return Port.from_json(json.loads(doc.data))
    except (ValueError, TypeError, AttributeError) as err:
        raise ConfigError(f"{doc.name}: not a port record: {err}", obj=doc.name) from None


def _legacy(doc: Document | None) -> dict[str, Port]:
    if doc is None:
        return {}
    try:
        data = json.loads(doc.data)
        return {key: Port.from_json(value) for key, value in data.get("ports", {}).items()}
    except (ValueError, TypeError, AttributeError) as err:
        raise ConfigError(f"{LEGACY_DOC}: not a port list: {err}", obj=LEGACY_DOC) from None


def read_ports(store: Store) -> tuple[dict[str, Port], PortsRevision]:
    """The ports by key, and what a later ``write_ports`` needs to compare against."""
    docs = store.read_prefix(PORTS_PREFIX)
    legacy = store.read(LEGACY_DOC)
    ports = _legacy(legacy)
    revisions = {}
    for name, doc in docs.items():
        port = _parse(doc)
        ports[port.key] = port
        revisions[name] = doc.revision
    snapshot = PortsRevision(dict(ports), revisions, legacy.revision if legacy else ABSENT)
    return ports, snapshot


def _encode(port: Port) -> bytes:
    return (json.dumps(port.to_json(), indent=1, sort_keys=True) + "\n").encode()


def write_ports(store: Store, ports: Mapping[str, Port], seen: PortsRevision) -> None:
    """Make the records ``ports``, writing only the documents that differ from ``seen``.

    Compare-and-swap: ``ConflictError`` (nothing written) if a touched document changed since
    ``read_ports``.
    """
    migrate = seen.legacy != ABSENT
    changes: dict[str, bytes | None] = {}
    expect: dict[str, str] = {}
    for key in sorted(set(ports) | set(seen.ports)):
        new, old = ports.get(key), seen.ports.get(key)
        name = port_doc(key)
        if new == old and not (migrate and name not in seen.revisions):
            continue
        changes[name] = None if new is None else _encode(new)
        expect[name] = seen.revisions.get(name, ABSENT)
    if migrate:
        changes[LEGACY_DOC] = None
        expect[LEGACY_DOC] = seen.legacy
    if changes:
        store.commit(changes, expect=expect)


def ports_version(store: Store) -> str:
    """Changes whenever a port record does (the agent re-applies DHCP mappings then)."""
    _ports, seen = read_ports(store)
    text = json.dumps([sorted(seen.revisions.items()), seen.legacy])
    return hashlib.sha1(text.encode()).hexdigest()  # a fingerprint, not a security use
