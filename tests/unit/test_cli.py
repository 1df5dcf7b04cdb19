"""The readable ``sdn`` commands: options from the schema, tables for people, JSON for scripts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sdnkit.cli.main import main

SDN = str(Path(sys.executable).with_name("sdn"))


@pytest.fixture
def sdn(capsys: pytest.CaptureFixture[str], tmp_path: Path):  # type: ignore[no-untyped-def]
    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--config-dir", str(tmp_path), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_readme_example(sdn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert sdn("zone", "create", "simple", "--type", "simple", "--ipam", "pve", "--dhcp", "dnsmasq")[0] == 0
    assert sdn("vnet", "create", "vnet1", "--zone", "simple")[0] == 0
    code, out, err = sdn(
        "subnet",
        "create",
        "vnet1",
        "10.0.1.0/24",
        "--gateway",
        "10.0.1.1",
        "--snat",
        "--dhcp-range",
        "start-address=10.0.1.100,end-address=10.0.1.150",
        "--dhcp-range",
        "start-address=10.0.1.200,end-address=10.0.1.250",
    )
    assert code == 0, err
    assert out == "subnet vnet1 10.0.1.0/24 created (pending until sdn apply)\n"
    code, out, _ = sdn("pending")
    assert out.splitlines()[0].split() == ["KIND", "ID", "STATE", "CHANGES"]
    assert "subnets  simple-10.0.1.0-24  new" in out
    assert sdn("apply") == (0, "applied: running version 1\n", "")
    assert sdn("pending") == (0, "no pending changes\n", "")
    code, out, _ = sdn("subnet", "list", "vnet1")
    assert "simple-10.0.1.0-24  subnet  vnet=vnet1 dhcp-range=start-address=10.0.1.100," in out
    assert out.rstrip().endswith("gateway=10.0.1.1 snat=1")
    code, out, _ = sdn("--output", "json", "subnet", "show", "vnet1", "simple-10.0.1.0-24")
    assert json.loads(out)["dhcp-range"][1] == {"start-address": "10.0.1.200", "end-address": "10.0.1.250"}


def test_vlan_zone_with_tagged_vnets(sdn) -> None:  # type: ignore[no-untyped-def]
    assert sdn("zone", "create", "myzone", "--type", "vlan", "--bridge", "vmbr0")[0] == 0
    assert sdn("vnet", "create", "v100", "--zone", "myzone", "--tag", "100")[0] == 0
    code, _, err = sdn("vnet", "create", "v101", "--zone", "myzone", "--tag", "100")
    assert code == 2
    assert err.startswith('sdn: error: vnet "v101": tag 100 is already used by vnet "v100"')
    code, out, _ = sdn("--output", "json", "vnet", "list", "--pending")
    assert [(v["vnet"], v["state"], v["pending"]["tag"]) for v in json.loads(out)] == [("v100", "new", 100)]


def test_set_delete_and_refusals_write_nothing(sdn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sdn("zone", "create", "z1", "--type", "simple", "--mtu", "1400", "--nodes", "n2,n1")
    before = (tmp_path / "zones.cfg").read_bytes()
    assert before == b"simple: z1\n\tmtu 1400\n\tnodes n1,n2\n\n"
    code, _, err = sdn("zone", "set", "z1", "--mtu", "70000")
    assert code == 2 and 'zone "z1": invalid value for "mtu": 70000 is out of range 68-65535' in err
    code, _, err = sdn("zone", "set", "z1", "--bridge", "vmbr0")
    assert code == 2 and 'option "bridge" is not allowed for type simple' in err
    assert (tmp_path / "zones.cfg").read_bytes() == before
    assert sdn("zone", "set", "z1", "--delete", "mtu,nodes")[0] == 0
    assert (tmp_path / "zones.cfg").read_bytes() == b"simple: z1\n\n"
    code, out, _ = sdn("zone", "show", "z1")
    assert "type: simple\nzone: z1\n" in out
    code, _, err = sdn("zone", "show", "nope")
    assert code == 2 and 'zone "nope" does not exist' in err
    assert sdn("zone", "delete", "z1")[0] == 0
    assert (tmp_path / "zones.cfg").read_bytes() == b""


def test_lock_unlock_check_dry_run_rollback(sdn) -> None:  # type: ignore[no-untyped-def]
    sdn("zone", "create", "z1", "--type", "simple")
    sdn("apply")
    code, token, _ = sdn("lock")
    token = token.strip()
    code, _, err = sdn("zone", "set", "z1", "--mtu", "1400")
    assert code == 1 and "the SDN configuration is locked" in err
    assert sdn("zone", "set", "z1", "--mtu", "1400", "--lock-token", token)[0] == 0
    code, out, _ = sdn("dry-run")
    assert out.startswith("running version 1; apply would make version 2\n") and "mtu: - -> 1400" in out
    assert sdn("rollback", "--lock-token", token, "--keep-lock") == (0, "pending changes dropped\n", "")
    assert sdn("unlock", "--lock-token", token) == (0, "unlocked\n", "")
    assert sdn("check") == (0, "configuration is valid\n", "")


def test_fabric_families(sdn) -> None:  # type: ignore[no-untyped-def]
    assert sdn("fabric", "create", "f1", "--protocol", "openfabric", "--ip_prefix", "192.168.2.0/24")[0] == 0
    code, _, err = sdn(
        "fabric-node", "create", "f1", "n1", "--ip", "192.168.2.1", "--interfaces", "name=ens19"
    )
    assert code == 0, err
    code, out, _ = sdn("fabric-node", "list", "f1")
    assert "f1/n1  openfabric  interfaces=name=ens19 ip=192.168.2.1" in out


def test_installed_command_and_environment(tmp_path: Path) -> None:
    env = {**os.environ, "SDN_CONFIG_DIR": str(tmp_path)}
    done = subprocess.run(
        [SDN, "-o", "json", "ipam", "list"], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["ipam"] == "pve"
    done = subprocess.run([SDN, "zone", "create", "z1"], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 2 and "--type" in done.stderr
