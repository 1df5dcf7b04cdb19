"""``sdn pvesh``: pvesh's syntax for every /cluster/sdn path, and the seed's command lines verbatim."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fakes package beside the tests

from fakes.netbox import TOKEN, FakeNetbox
from sdnkit.cli import pvesh
from sdnkit.cli.main import main
from sdnkit.errors import ConfigError

SDN = str(Path(sys.executable).with_name("sdn"))
SEED_LINE = (
    "pvesh set /cluster/sdn/vnets/{vnet}/subnets/{subnet} "
    "-dhcp-range start-address=10.0.1.100,end-address=10.0.1.200 "
    "-dhcp-range start-address=10.0.2.100,end-address=10.0.2.200"
)
SEED_VNETS = "# /etc/pve/sdn/vnets.cfg\n\nvnet: vnet0\n        zone simple\n"
SEED_SUBNETS = """\
# /etc/pve/sdn/subnets.cfg

subnet: simple-192.0.2.0-24
        vnet vnet0
        dhcp-range start-address=192.0.2.100,end-address=192.0.2.199
        gateway 192.0.2.1

subnet: simple-2001:db8::-64
        vnet vnet0
        dhcp-range start-address=2001:db8::1000,end-address=2001:db8::1999
        gateway 2001:db8::1
"""


def sdn(*args: str, config_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SDN_CONFIG_DIR": str(config_dir)}
    return subprocess.run([SDN, *args], capture_output=True, text=True, env=env, check=False)


def run(capsys: pytest.CaptureFixture[str], config_dir: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--config-dir", str(config_dir), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_parse_options_accepts_every_pvesh_spelling() -> None:
    params, fmt = pvesh.parse_options(
        [
            "-zone",
            "z1",
            "--type",
            "simple",
            "-mtu=1400",
            "--ipam=pve",
            "-dhcp-range",
            "a",
            "-dhcp-range",
            "b",
            "--pending",
            "--output-format",
            "json",
            "--noproxy",
        ]
    )
    assert params == {
        "zone": "z1",
        "type": "simple",
        "mtu": "1400",
        "ipam": "pve",
        "dhcp-range": ["a", "b"],
        "pending": "1",
    }
    assert fmt == "json"
    with pytest.raises(ConfigError, match="unexpected argument 'stray'"):
        pvesh.parse_options(["stray"])
    with pytest.raises(ConfigError, match="--output-format must be one of"):
        pvesh.parse_options(["--output-format", "xml"])


def test_seed_example_subnets_are_listed(tmp_path: Path) -> None:
    (tmp_path / "vnets.cfg").write_text(SEED_VNETS)
    (tmp_path / "subnets.cfg").write_text(SEED_SUBNETS)
    done = sdn(
        "pvesh", "get", "/cluster/sdn/vnets/vnet0/subnets", "--output-format", "json", config_dir=tmp_path
    )
    assert done.returncode == 0, done.stderr
    subnets = json.loads(done.stdout)
    assert [(s["subnet"], s["cidr"], s["gateway"]) for s in subnets] == [
        ("simple-192.0.2.0-24", "192.0.2.0/24", "192.0.2.1"),
        ("simple-2001:db8::-64", "2001:db8::/64", "2001:db8::1"),
    ]
    assert subnets[0]["dhcp-range"] == [{"start-address": "192.0.2.100", "end-address": "192.0.2.199"}]


def _seed_store(capsys: pytest.CaptureFixture[str], root: Path, cidr: str) -> str:
    gateway = str(next(ipaddress.ip_network(cidr).hosts()))
    for args in (
        (
            "create",
            "/cluster/sdn/zones",
            "-zone",
            "simple",
            "-type",
            "simple",
            "-ipam",
            "pve",
            "-dhcp",
            "dnsmasq",
        ),
        ("create", "/cluster/sdn/vnets", "-vnet", "vnet0", "-zone", "simple"),
        (
            "create",
            "/cluster/sdn/vnets/vnet0/subnets",
            "-subnet",
            cidr,
            "-type",
            "subnet",
            "-gateway",
            gateway,
        ),
    ):
        code, _, err = run(capsys, root, "pvesh", *args)
        assert code == 0, err
    return "simple-" + cidr.replace("/", "-")


def test_seed_dhcp_range_line_works_verbatim(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    subnet = _seed_store(capsys, tmp_path, "10.0.0.0/16")
    line = SEED_LINE.format(vnet="vnet0", subnet=subnet).split()
    done = sdn(*line, config_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (
        "\tdhcp-range start-address=10.0.2.100,end-address=10.0.2.200\n"
        in (tmp_path / "subnets.cfg").read_text()
    )
    _, out, _ = run(
        capsys,
        tmp_path,
        "pvesh",
        "get",
        f"/cluster/sdn/vnets/vnet0/subnets/{subnet}",
        "--output-format",
        "json",
    )
    assert json.loads(out)["dhcp-range"] == [
        {"start-address": "10.0.1.100", "end-address": "10.0.1.200"},
        {"start-address": "10.0.2.100", "end-address": "10.0.2.200"},
    ]


def test_seed_dhcp_range_outside_a_24_is_refused_clearly(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    subnet = _seed_store(capsys, tmp_path, "10.0.1.0/24")
    before = (tmp_path / "subnets.cfg").read_bytes()
    code, _, err = run(capsys, tmp_path, *SEED_LINE.format(vnet="vnet0", subnet=subnet).split())
    assert code == 2
    assert err == (
        "400 Parameter verification failed.\n"
        'dhcp-range: subnet "simple-10.0.1.0-24": start-address 10.0.2.100 is not in subnet 10.0.1.0/24\n'
    )
    assert (tmp_path / "subnets.cfg").read_bytes() == before


def test_apply_lock_rollback_and_dry_run_paths(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _seed_store(capsys, tmp_path, "10.0.0.0/16")
    code, out, _ = run(capsys, tmp_path, "pvesh", "get", "/cluster/sdn/dry-run", "--output-format", "json")
    assert [c["id"] for c in json.loads(out)["changes"]] == ["simple", "vnet0", "simple-10.0.0.0-16"]
    code, out, _ = run(capsys, tmp_path, "pvesh", "set", "/cluster/sdn")
    assert (code, out) == (0, "1\n")
    code, out, _ = run(capsys, tmp_path, "pvesh", "create", "/cluster/sdn/lock", "--output-format", "json")
    token = json.loads(out)
    code, _, err = run(capsys, tmp_path, "pvesh", "set", "/cluster/sdn/zones/simple", "-mtu", "1400")
    assert code == 1 and "the SDN configuration is locked" in err
    code, _, err = run(
        capsys, tmp_path, "pvesh", "set", "/cluster/sdn/zones/simple", "-mtu", "1400", "-lock-token", token
    )
    assert code == 0, err
    code, _, _ = run(capsys, tmp_path, "pvesh", "create", "/cluster/sdn/rollback", "-lock-token", token)
    assert code == 0 and not (tmp_path / ".lock").exists()
    code, out, _ = run(
        capsys, tmp_path, "pvesh", "get", "/cluster/sdn/zones/simple", "--output-format", "json"
    )
    assert "mtu" not in json.loads(out)
    code, _, _ = run(capsys, tmp_path, "pvesh", "create", "/cluster/sdn/lock")
    code, _, _ = run(capsys, tmp_path, "pvesh", "delete", "/cluster/sdn/lock", "-force", "1")
    assert code == 0 and not (tmp_path / ".lock").exists()


def test_every_collection_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with FakeNetbox() as netbox:  # an IPAM is checked against its server when it is created
        _every_collection_path(capsys, tmp_path, netbox.url)


def _every_collection_path(capsys: pytest.CaptureFixture[str], tmp_path: Path, netbox_url: str) -> None:
    def ok(*args: str) -> Any:
        code, out, err = run(capsys, tmp_path, "pvesh", *args, "--output-format", "json")
        assert code == 0, err
        return json.loads(out) if out.strip() else None

    assert [e["id"] for e in ok("get", "/cluster/sdn")] == [
        "vnets",
        "zones",
        "controllers",
        "ipams",
        "dns",
        "fabrics",
    ]
    ok(
        "create",
        "/cluster/sdn/controllers",
        "-controller",
        "ctl",
        "-type",
        "evpn",
        "-asn",
        "65000",
        "-peers",
        "192.0.2.1,192.0.2.2",
    )
    ok("set", "/cluster/sdn/controllers/ctl", "-asn", "65001")
    assert ok("get", "/cluster/sdn/controllers/ctl")["asn"] == 65001
    ok(
        "create",
        "/cluster/sdn/ipams",
        "-ipam",
        "nb",
        "-type",
        "netbox",
        "-url",
        netbox_url,
        "-token",
        TOKEN,
    )
    assert [i["ipam"] for i in ok("get", "/cluster/sdn/ipams", "-type", "netbox")] == ["nb"]
    ok("delete", "/cluster/sdn/ipams/nb")
    ok(
        "create",
        "/cluster/sdn/dns",
        "-dns",
        "pdns",
        "-type",
        "powerdns",
        "-url",
        "http://127.0.0.1:8081/api/v1",
        "-key",
        "k",
    )
    assert ok("get", "/cluster/sdn/dns/pdns")["key"] == "k"
    ok(
        "create",
        "/cluster/sdn/fabrics/fabric",
        "-id",
        "f1",
        "-protocol",
        "ospf",
        "-area",
        "0",
        "-ip_prefix",
        "10.10.10.0/24",
    )
    ok(
        "create",
        "/cluster/sdn/fabrics/node/f1",
        "-node_id",
        "n1",
        "-ip",
        "10.10.10.1",
        "-interfaces",
        "name=ens19",
        "-interfaces",
        "name=ens20,ip=10.1.0.1/31",
    )
    assert ok("get", "/cluster/sdn/fabrics/node/f1/n1")["interfaces"] == [
        "name=ens19",
        "name=ens20,ip=10.1.0.1/31",
    ]
    everything = ok("get", "/cluster/sdn/fabrics/all", "-pending", "1")
    assert [f["state"] for f in everything["fabrics"]] == ["new"]
    assert [n["node_id"] for n in everything["nodes"]] == ["n1"]
    assert [n["node_id"] for n in ok("get", "/cluster/sdn/fabrics/node")] == ["n1"]
    ok("delete", "/cluster/sdn/fabrics/node/f1/n1")
    ok("delete", "/cluster/sdn/fabrics/fabric/f1")


def test_unknown_paths_and_methods(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, tmp_path, "pvesh", "get", "/cluster/sdn/nothing")
    assert code == 2 and "no such path '/cluster/sdn/nothing'" in err
    code, _, err = run(capsys, tmp_path, "pvesh", "delete", "/cluster/sdn")
    assert code == 2 and "no 'delete' handler for '/cluster/sdn'" in err


def test_output_formats(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    zone = ("-zone", "z1", "-type", "simple", "-mtu", "1400")
    run(capsys, tmp_path, "pvesh", "create", "/cluster/sdn/zones", *zone)
    _, text, _ = run(capsys, tmp_path, "pvesh", "get", "/cluster/sdn/zones")
    assert text.splitlines()[0].split() == ["DIGEST", "MTU", "TYPE", "ZONE"]
    _, pretty, _ = run(
        capsys, tmp_path, "pvesh", "get", "/cluster/sdn/zones/z1", "--output-format", "json-pretty"
    )
    assert json.loads(pretty)["mtu"] == 1400 and pretty.count("\n") > 3
    _, yaml, _ = run(capsys, tmp_path, "pvesh", "get", "/cluster/sdn/zones", "--output-format", "yaml")
    assert yaml.startswith("---\n- zone: z1\n") and "  mtu: 1400\n" in yaml and "  type: simple\n" in yaml


def test_other_parts_can_add_paths(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pvesh._load_routes()
    monkeypatch.setattr(pvesh, "ROUTES", list(pvesh.ROUTES))
    pvesh.add_route("GET", "/nodes/{node}/sdn/zones", lambda svc, p: [{"zone": "z1", "status": p["node"]}])
    code, out, _ = run(capsys, tmp_path, "pvesh", "get", "/nodes/n1/sdn/zones", "--output-format", "json")
    assert (code, json.loads(out)) == (0, [{"zone": "z1", "status": "n1"}])


def test_nodes_access_and_resources_paths_go_through_the_api(tmp_path: Path, capsys) -> None:
    code, out, err = run(
        capsys, tmp_path, "pvesh", "create", "/access/users", "-userid", "pv@pve", "-comment", "x"
    )
    assert code == 0, err
    code, out, _ = run(capsys, tmp_path, "pvesh", "get", "/access/users", "--output-format", "json")
    assert {u["userid"]: u.get("comment") for u in json.loads(out)} == {"pv@pve": "x", "root@pam": None}
    code, out, err = run(capsys, tmp_path, "pvesh", "set", "/access/users/root@pam", "-enable", "0")
    assert code == 2 and err.startswith("400 ") and "superuser" in err
    from sdnkit.api.routes.cluster import local_node

    run(capsys, tmp_path, "pvesh", "create", "/cluster/sdn/zones", "-zone", "pz", "-type", "simple")
    run(capsys, tmp_path, "pvesh", "set", "/cluster/sdn")
    path = f"/nodes/{local_node()}/sdn/zones"
    code, out, _ = run(capsys, tmp_path, "pvesh", "get", path, "--output-format", "json")
    assert [(z["zone"], z["status"]) for z in json.loads(out)] == [("pz", "pending")]  # no agent ran
    code, out, err = run(capsys, tmp_path, "pvesh", "get", "/nosuch")
    assert code == 2 and "no such path '/nosuch'" in err
    code, out, err = run(capsys, tmp_path, "pvesh", "delete", "/cluster/resources")
    assert code == 2 and "no 'delete' handler for '/cluster/resources'" in err


def test_global_options_after_the_command(tmp_path: Path, capsys) -> None:
    run(capsys, tmp_path, "zone", "create", "gz", "--type", "simple")
    code = main(["zone", "list", "--output", "json", "--config-dir", str(tmp_path)])
    out, _ = capsys.readouterr()
    assert code == 0 and [z["zone"] for z in json.loads(out)] == ["gz"]
    code = main(["--output", "json", "--config-dir", str(tmp_path), "zone", "list"])  # before, as ever
    assert code == 0 and json.loads(capsys.readouterr()[0])[0]["zone"] == "gz"
    code = main(["--config-dir", str(tmp_path), "zone", "list", "-o", "text"])
    assert code == 0 and not capsys.readouterr()[0].lstrip().startswith("[")
