"""Per-kind knowledge of link devices: what a plan link asks for, how the kernel shows it, how to
create it and which of its settings can change in place.

Each kind is a :class:`KindDriver` registered in :data:`KINDS` by kernel kind name. ``info`` is a
small dict of the kind's own settings with canonical values; ``fixed`` keys can only be set when
the device is created (a change means delete and re-create), ``settable`` keys change in place
with ``ip link set dev X type <kind> ...``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sdnkit.plan import desired as d
from sdnkit.realize.base import LINK_GROUP

DEFAULT_VXLAN_PORT = 4789
VRF_TABLE_AUTO = "auto"


def vlan_protocol(value: str | None) -> str | None:
    """Canonical VLAN protocol name, as the kernel prints it (``802.1Q``, ``802.1ad``)."""
    if value is None:
        return None
    return "802.1ad" if value.lower() == "802.1ad" else "802.1Q"


def _flag(name: str, on: bool) -> tuple[str, ...]:
    return (name if on else f"no{name}",)


@dataclass(frozen=True, slots=True)
class KindDriver:
    kind: str
    fixed: tuple[str, ...] = ()
    # key -> the arguments after "type <kind>" that set it to a value
    settable: Mapping[str, Callable[[Any], tuple[str, ...]]] = field(default_factory=dict)
    from_plan: Callable[[Any], dict[str, Any]] = lambda link: {}
    parse: Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, Any]] = lambda entry, data: {}
    # extra arguments of "ip link add": (before "type", after "type <kind>")
    create: Callable[[Mapping[str, Any]], tuple[tuple[str, ...], tuple[str, ...]]] = lambda info: ((), ())
    # a bridge's MTU given at creation is not "set by the user": the first port would change it,
    # so bridges get theirs with a separate "ip link set mtu" (which pins it)
    mtu_at_create: bool = True

    def matches(self, key: str, want: Any, have: Any) -> bool:
        if self.kind == "vrf" and key == "table" and want == VRF_TABLE_AUTO:
            return have is not None
        return want == have

    def add_args(
        self, name: str, info: Mapping[str, Any], *, mtu: int | None, hwaddress: str | None
    ) -> tuple[str, ...]:
        """The ``ip link add`` arguments that create the device as ``info`` says."""
        before, after = self.create(info)
        common: list[str] = ["group", str(LINK_GROUP)]
        if mtu is not None and self.mtu_at_create:
            common += ["mtu", str(mtu)]
        if hwaddress:
            common += ["address", hwaddress]
        return ("link", "add", *before, "name", name, *common, "type", self.kind, *after)


# -- bridge --------------------------------------------------------------------------------


def _bridge_plan(link: Any) -> dict[str, Any]:
    info: dict[str, Any] = {}
    if isinstance(link, d.Bridge):
        info["vlan_filtering"] = link.vlan_aware
    if link.vlan_protocol is not None:
        info["vlan_protocol"] = vlan_protocol(link.vlan_protocol)
    return info


def _bridge_create(info: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    # what ifupdown2 does with PVE's "bridge_stp off" and "bridge_fd 0"
    after = ["stp_state", "0", "forward_delay", "0"]
    if info.get("vlan_filtering"):
        after += ["vlan_filtering", "1"]
    if info.get("vlan_protocol"):
        after += ["vlan_protocol", info["vlan_protocol"]]
    return (), tuple(after)


BRIDGE = KindDriver(
    kind="bridge",
    settable={
        "vlan_filtering": lambda v: ("vlan_filtering", "1" if v else "0"),
        "vlan_protocol": lambda v: ("vlan_protocol", v),
    },
    from_plan=_bridge_plan,
    parse=lambda entry, data: {
        "vlan_filtering": bool(data.get("vlan_filtering", 0)),
        "vlan_protocol": data.get("vlan_protocol", "802.1Q"),
    },
    create=_bridge_create,
    mtu_at_create=False,
)

# -- vxlan ---------------------------------------------------------------------------------


def _vxlan_create(info: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    after = ["id", str(info["id"])]
    if info.get("local"):
        after += ["local", info["local"]]
    after += ["dstport", str(info["port"]), *_flag("learning", info.get("learning", True))]
    return (), tuple(after)


VXLAN = KindDriver(
    kind="vxlan",
    fixed=("id", "local", "port"),
    settable={"learning": lambda v: _flag("learning", v)},
    # ifupdown2 keeps the device's learning in step with the bridge port's (bridge.py)
    from_plan=lambda link: {
        "id": link.vni,
        "local": str(link.local_ip) if link.local_ip is not None else None,
        "port": link.port or DEFAULT_VXLAN_PORT,
        "learning": link.learning,
    },
    parse=lambda entry, data: {
        "id": data.get("id"),
        "local": data.get("local") or data.get("local6"),
        "port": data.get("port"),
        "learning": bool(data.get("learning", True)),
    },
    create=_vxlan_create,
)

# -- veth, vlan, vrf, dummy ------------------------------------------------------------------

VETH = KindDriver(
    kind="veth",
    fixed=("peer",),
    from_plan=lambda link: {"peer": link.peer},
    parse=lambda entry, data: {"peer": entry.get("link")},
    create=lambda info: ((), ("peer", "name", info["peer"], "group", str(LINK_GROUP))),
)

VLAN = KindDriver(
    kind="vlan",
    fixed=("link", "id", "protocol"),
    from_plan=lambda link: {
        "link": link.raw_device,
        "id": link.vlan_id,
        "protocol": vlan_protocol(link.protocol),
    },
    parse=lambda entry, data: {
        "link": entry.get("link"),
        "id": data.get("id"),
        "protocol": data.get("protocol"),
    },
    create=lambda info: (("link", info["link"]), ("protocol", info["protocol"], "id", str(info["id"]))),
)

VRF = KindDriver(
    kind="vrf",
    fixed=("table",),
    from_plan=lambda link: {"table": VRF_TABLE_AUTO if link.table == VRF_TABLE_AUTO else int(link.table)},
    parse=lambda entry, data: {"table": data.get("table")},
    create=lambda info: ((), ("table", str(info["table"]))),
)

DUMMY = KindDriver(kind="dummy")

KINDS: dict[str, KindDriver] = {k.kind: k for k in (BRIDGE, VXLAN, VETH, VLAN, VRF, DUMMY)}

# NodePlan link kind -> kernel kind
PLAN_KINDS: dict[d.LinkKind, str] = {
    d.LinkKind.BRIDGE: "bridge",
    d.LinkKind.VXLAN: "vxlan",
    d.LinkKind.VETH: "veth",
    d.LinkKind.VLAN: "vlan",
    d.LinkKind.VRF: "vrf",
    d.LinkKind.DUMMY: "dummy",
}


def parse(kind: str, entry: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical kind data of a link read with ``ip -j -d``."""
    driver = KINDS.get(kind)
    return driver.parse(entry, data) if driver else {}


def driver(kind: str) -> KindDriver | None:
    return KINDS.get(kind)
