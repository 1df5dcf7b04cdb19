"""The port records: the store document ``ports.json``, one entry per ``<vnet>/<guest>/<mac>``.

IPAM holds a port's addresses; this document holds what only the port knows: its node, hostname
and device. It is written with compare-and-swap on its revision, under the ``ports`` lock.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from sdnkit.errors import ConfigError
from sdnkit.store.base import ABSENT, Store

__all__ = ["PORTS_DOC", "Port", "read_ports", "write_ports"]

PORTS_DOC = "ports.json"


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


def port_key(vnet: str, guest: str, mac: str) -> str:
    return f"{vnet}/{guest}/{mac.lower()}"


def read_ports(store: Store) -> tuple[dict[str, Port], str]:
    """The ports by key, and the document's revision (``ABSENT`` when there is none yet)."""
    doc = store.read(PORTS_DOC)
    if doc is None:
        return {}, ABSENT
    try:
        data = json.loads(doc.data)
        ports = {key: Port.from_json(value) for key, value in data.get("ports", {}).items()}
    except (ValueError, TypeError, AttributeError) as err:
        raise ConfigError(f"{PORTS_DOC}: not a port list: {err}", obj=PORTS_DOC) from None
    return ports, doc.revision


def write_ports(store: Store, ports: dict[str, Port], revision: str) -> None:
    """Replace the document, only if it is still at ``revision`` (``ConflictError`` otherwise)."""
    body = {"ports": {key: ports[key].to_json() for key in sorted(ports)}}
    data = (json.dumps(body, indent=1, sort_keys=True) + "\n").encode()
    store.commit({PORTS_DOC: data}, expect={PORTS_DOC: revision})
