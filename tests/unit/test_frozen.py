"""Fast construction of frozen dataclasses builds exactly what the dataclass would."""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest

from sdnkit.plan import desired
from sdnkit.plan.desired import Bridge, IpSet, LinkRole, SnatRule, Vxlan
from sdnkit.plan.frozen import copier, fast_init

FAST = (Bridge, Vxlan, desired.Veth, desired.Vlan, desired.Vrf, desired.Dummy, desired.OvsIntPort)
FAST += (desired.Existing, SnatRule, IpSet)


@dataclasses.dataclass(frozen=True, slots=True)
class Plain:
    a: int
    b: tuple[int, ...] = ()
    c: str = dataclasses.field(default="x", kw_only=True)


Fast = fast_init(
    dataclasses.make_dataclass(
        "Fast", [("a", int), ("b", tuple, dataclasses.field(default=()))], frozen=True, slots=True
    )
)


@pytest.mark.parametrize("cls", FAST)
def test_the_plan_types_use_it_and_set_every_field_and_default(cls: type) -> None:
    assert "fast __init__" in cls.__init__.__code__.co_filename
    required = {f.name: f"v-{f.name}" for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING}
    obj = cls(**required)
    for f in dataclasses.fields(cls):
        assert getattr(obj, f.name) == required.get(f.name, f.default)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(obj, dataclasses.fields(cls)[0].name, "y")


def test_same_signature_and_errors_as_the_dataclass() -> None:
    assert Fast(1) == Fast(a=1, b=()) and Fast(1, (2,)).b == (2,)
    with pytest.raises(TypeError, match=r"Fast.__init__\(\) missing 1 required positional argument: 'a'"):
        Fast()
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'name'"):
        Bridge()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        Bridge(name="x", nope=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="takes 1 positional argument"):
        Bridge("x")  # type: ignore[misc]


def test_refuses_what_it_cannot_build() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Factory:
        a: list[int] = dataclasses.field(default_factory=list)

    for cls in (NoSlots, Factory):
        with pytest.raises(TypeError):
            fast_init(cls)
    assert fast_init(Plain)(1, c="y") == Plain(1, c="y")


def test_copier_is_replace() -> None:
    ip = ipaddress.ip_address("192.0.2.1")
    link = Vxlan(name="vxlan_a", role=LinkRole.VNET_PORT, vni=7, mtu=1450, port=4790, learning=False)
    copy = copier(Vxlan, "local_ip", "remote_ips")
    assert copy(link, ip, (ip,)) == dataclasses.replace(link, local_ip=ip, remote_ips=(ip,))
    with pytest.raises(TypeError):
        copier(Vxlan, "nope")
