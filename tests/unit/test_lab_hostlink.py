"""The etcd lab's pure parts: choosing the host-facing subnet, its addresses, the lab state, the CLI."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from sdnkit.cli.lab import same_store
from sdnkit.cli.main import build_parser, main
from sdnkit.errors import ConfigError
from sdnkit.lab import etcdlab, hostlink
from sdnkit.lab.state import EtcdLab, HostLink, Kernel, LabState, replace

N = ipaddress.IPv4Network


def test_the_first_free_slash24_of_the_pool_is_chosen() -> None:
    assert hostlink.free_subnet([]) == N("198.18.0.0/24")
    # the host's own networks and other labs' subnets are skipped, whatever their size
    used = [N("192.0.2.0/24"), N("198.18.0.0/24"), N("198.18.1.128/25"), N("198.18.2.7/32")]
    assert hostlink.free_subnet(used) == N("198.18.3.0/24")
    assert hostlink.free_subnet([N("10.0.0.0/8")]) == N("198.18.0.0/24")


def test_a_host_routing_the_whole_pool_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"every /24 of 198\.18\.0\.0/15 is in use.*--etcd-subnet"):
        hostlink.free_subnet([N("198.16.0.0/12")])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10.9.0.0/24", None),
        ("10.9.0.0/29", None),
        ("10.9.0.0/30", "smaller than a /29"),
        ("10.9.0.1/24", "is not an IPv4 network"),
        ("fd00::/64", "is not an IPv4 network"),
        ("banana", "is not an IPv4 network"),
        ("192.0.2.128/25", "overlaps the lab underlay 192.0.2.0/24"),
        ("172.20.0.0/16", "overlaps 172.20.5.0/24, which this host already uses"),
    ],
)
def test_a_given_subnet_is_checked(text: str, message: str | None) -> None:
    used = [N("172.20.5.0/24")]
    if message is None:
        assert hostlink.check_subnet(text, used) == N(text)
    else:
        with pytest.raises(ConfigError, match=message) as err:
            hostlink.check_subnet(text, used)
        assert err.value.key == "etcd-subnet"


def test_addresses_in_the_subnet() -> None:
    assert hostlink.member_address("198.18.4.0/24", 3) == "198.18.4.3"
    assert hostlink.host_address("198.18.4.0/24") == "198.18.4.254/24"
    assert hostlink.host_address("198.18.4.0/24", outer=True) == "198.18.4.253/24"  # a UML lab's host
    assert hostlink.host_address("10.9.0.8/29") == "10.9.0.14/29"
    # one interface name per lab, within the kernel's 15 characters
    names = {hostlink.link_name(n) for n in ("a", "b", "sdnlab", "x" * 16)}
    assert len(names) == 4 and all(len(n) <= 15 and n.startswith("sdnl") for n in names)


def lab(nodes: int) -> LabState:
    return LabState(name="le", kernel=Kernel.HOST, nodes=nodes, config_dir="/tmp/x")


THREE = ["node1", "node2", "node3"]


@pytest.mark.parametrize(("nodes", "members"), [(1, ["node1"]), (2, ["node1"]), (3, THREE), (7, THREE)])
def test_members_and_store_urls(nodes: int, members: list[str]) -> None:
    state = lab(nodes)
    etcd = etcdlab.plan(state, "198.18.7.0/24")
    assert list(etcd.members) == members and etcd.prefix == "/sdnkit/le/"
    state = replace(state, etcd=etcd)
    hosts = ",".join(f"198.18.7.{i}:2379" for i in range(1, len(members) + 1))
    assert etcdlab.host_url(state) == f"etcd://{hosts}/sdnkit/le/"
    assert etcdlab.agent_url(state) == f"etcd://{hosts.replace('198.18.7.', '192.0.2.')}/sdnkit/le/"


def test_the_state_keeps_the_etcd_and_the_host_link() -> None:
    state = LabState(
        name="le", kernel=Kernel.UML, nodes=3, config_dir="etcd://198.18.0.1:2379/sdnkit/le/",
        etcd=EtcdLab(members=("node1", "node2", "node3"), subnet="198.18.0.0/24", prefix="/sdnkit/le/",
                     election_ms=1000),
        hostlink=HostLink(ifname="sdnl0123456789", address="198.18.0.253/24", kind="tap"),
    )  # fmt: skip
    assert LabState.from_json(state.to_json()) == state
    assert LabState.from_json(lab(2).to_json()).etcd is None  # a state file from before etcd labs


def test_same_store() -> None:
    url = "etcd://198.18.0.1:2379,198.18.0.2:2379/sdnkit/le/"
    assert same_store(url, "etcd://198.18.0.2:2379,198.18.0.1:2379/sdnkit/le")
    assert not same_store(url, "etcd://198.18.0.1:2379,198.18.0.2:2379/sdnkit/other/")
    assert not same_store(url, "/tmp/le")
    assert same_store("/tmp/le/", "/tmp/le") and not same_store("/tmp/le", "/tmp/other")


def test_etcd_is_an_option_of_lab_up_not_an_abbreviation(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SDN_LAB_DIR", str(tmp_path))  # were the refusal to fail, no lab lands elsewhere
    args = build_parser().parse_args(["lab", "up", "--etcd", "--name", "le"])
    assert args.etcd is True and args.etcd_subnet is None
    assert build_parser().parse_args(["--etcd-cacert", "/ca", "zone", "list"]).etcd_cacert == "/ca"
    assert main(["lab", "up", "--etcd-subnet", "10.9.0.0/24", "--name", "le"]) == 2
    assert "--etcd-subnet needs --etcd" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
