"""Real FRR accepts the frr.conf files sdnkit writes (``vtysh --dryrun``: FRR's own parser).

One configuration per feature: EVPN with exit nodes and local routing, BGP with a loopback, IS-IS,
OpenFabric and OSPF fabrics, and a merged frr.conf.local. (``autort as``, written for eBGP EVPN
as upstream does, needs FRR 10; the installed FRR may be older, so eBGP EVPN is not checked.)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))  # plan_support.py

import pytest
from plan_support import config, facts, render

pytestmark = [
    pytest.mark.services,
    pytest.mark.needs("vtysh"),
]

EVPN = config(
    zones={
        "z1": {
            "type": "evpn",
            "controller": "ctl",
            "vrf-vxlan": 10000,
            "exitnodes": "n1",
            "advertise-subnets": 1,
        },
        "z2": {
            "type": "evpn",
            "controller": "ctl",
            "vrf-vxlan": 20000,
            "exitnodes": "n1,n2",
            "exitnodes-primary": "n2",
            "exitnodes-local-routing": 1,
            "rt-import": "65001:1",
        },
    },
    vnets={"v1": {"type": "vnet", "zone": "z1", "tag": 1}, "v2": {"type": "vnet", "zone": "z2", "tag": 2}},
    subnets={
        "z1-10.0.0.0-24": {"type": "subnet", "vnet": "v1", "gateway": "10.0.0.1"},
        "z2-10.1.0.0-24": {"type": "subnet", "vnet": "v2", "gateway": "10.1.0.1"},
        "z2-2001:db8:2::-64": {"type": "subnet", "vnet": "v2", "gateway": "2001:db8:2::1"},
    },
    controllers={
        "ctl": {"type": "evpn", "asn": 65000, "peers": "192.0.2.1,192.0.2.2"},
        "n1bgp": {"type": "bgp", "asn": 65000, "node": "n1", "peers": "192.0.2.254", "loopback": "lo1"},
        "n1isis": {
            "type": "isis",
            "node": "n1",
            "isis-domain": "core",
            "isis-ifaces": "eth0,eth1",
            "isis-net": "49.0001.1921.6800.0001.00",
        },
    },
)
FABRICS = config(
    fabrics={
        "of": {
            "type": "openfabric_fabric",
            "ip_prefix": "172.20.3.0/24",
            "ip6_prefix": "fd00:3::/64",
            "hello_interval": 2,
        },
        "of_n1": {
            "type": "openfabric_node",
            "ip": "172.20.3.1",
            "ip6": "fd00:3::1",
            "interfaces": ["name=ens20"],
        },
        "os": {"type": "ospf_fabric", "ip_prefix": "172.20.30.0/24", "area": "0"},
        "os_n1": {
            "type": "ospf_node",
            "ip": "172.20.30.1",
            "interfaces": ["name=ens19", "name=ens21,ip=10.9.0.1/31"],
        },
    }
)
LOCAL = """\
ip nht resolve-via-default
router bgp 65000
 neighbor 198.51.100.1 remote-as 65100
 address-family l2vpn evpn
  advertise-svi-ip
 exit-address-family
exit
interface eth0
 isis circuit-type level-2-only
exit
route-map MAP_VTEP_IN deny 10
 match evpn route-type prefix
exit
ip prefix-list PL seq 5 permit 10.0.0.0/8 le 24
"""
LOOPBACK = "auto lo1\niface lo1 inet static\n\taddress 10.99.0.1/32\n\n"
LOOPBACK += "auto vmbr0\niface vmbr0 inet static\n\taddress 192.0.2.1/24\n"


@pytest.mark.parametrize(
    ("cfg", "local"),
    [(EVPN, None), (EVPN, LOCAL), (FABRICS, None)],
    ids=["evpn-bgp-isis", "evpn-with-local-file", "openfabric-ospf"],
)
def test_vtysh_accepts_the_configuration(tmp_path: Path, cfg: object, local: str | None) -> None:
    _, frr = render(cfg, facts(LOOPBACK, frr_local=local))  # type: ignore[arg-type]
    assert frr is not None
    path = tmp_path / "frr.conf"
    path.write_text(frr)
    done = subprocess.run(["vtysh", "--dryrun", "-f", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{done.stdout}{done.stderr}\n{frr}"


def test_vtysh_refuses_a_broken_configuration(tmp_path: Path) -> None:
    """The check above can fail: a statement FRR does not know is reported."""
    _, frr = render(EVPN, facts(LOOPBACK, frr_local="ip bogus-command 1\n"))
    assert frr is not None
    path = tmp_path / "frr.conf"
    path.write_text(frr)
    done = subprocess.run(["vtysh", "--dryrun", "-f", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode != 0 and "bogus-command" in done.stdout + done.stderr
