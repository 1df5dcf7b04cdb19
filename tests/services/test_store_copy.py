"""``sdn store copy`` through the real command: a PVE directory to etcd, etcd back to a directory.

The PVE directory is built from an upstream fixture (``../shared/fixtures/pve-zones`` beside the
repository, or ``$SDN_PVE_FIXTURES``): its ``running-config.json`` as ``.running-config``, the
objects as PVE's ``*.cfg`` files, plus an IPAM database and a MAC cache. Expectations come from
those files and from ``etcdctl``, not from the store code.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sdnkit.config.running import RunningConfig
from sdnkit.config.schema import VERSIONED_KINDS
from sdnkit.config.sectionconfig import FILENAMES, format_config
from sdnkit.lab.etcd import EtcdCluster
from sdnkit.store.etcd_client import parse_url

pytestmark = pytest.mark.services

SDN = str(Path(sys.executable).with_name("sdn"))
REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("SDN_PVE_FIXTURES") or REPO.parent / "shared" / "fixtures" / "pve-zones")
CASE = FIXTURES / "evpn" / "ipv4ipv6" / "running-config.json"

IPAM_STATE = {
    "zones": {
        "pvez": {
            "subnets": {
                "10.9.0.0/24": {
                    "ips": {
                        "10.9.0.1": {"gateway": 1},
                        "10.9.0.50": {"vmid": "100", "mac": "BC:24:11:00:00:01", "hostname": "vm100"},
                    }
                }
            }
        }
    }
}


def sdn(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SDN_")}
    done = subprocess.run([SDN, *args], capture_output=True, text=True, check=False, timeout=120, env=env)
    if check:
        assert done.returncode == 0, f"sdn {' '.join(args)}: {done.stderr}"
    return done


def pve_directory(root: Path) -> Path:
    if not CASE.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"upstream fixture {CASE} is missing")
        pytest.skip(f"upstream fixture {CASE} not found (set SDN_PVE_FIXTURES)")
    root.mkdir()
    running = RunningConfig.loads(CASE.read_text())
    (root / ".running-config").write_bytes(CASE.read_bytes())
    for kind in VERSIONED_KINDS:
        (root / FILENAMES[kind]).write_text(format_config(running.config.of(kind).values()))
    (root / "pve-ipam-state.json").write_text(json.dumps(IPAM_STATE))
    (root / "mac-cache.json").write_text('{"BC:24:11:00:00:01": {"ip4": "10.9.0.50"}}')
    return root


def etcd_keys(cluster: EtcdCluster, prefix: str) -> dict[str, bytes]:
    argv = ["etcdctl", f"--endpoints={cluster.endpoints[0]}", "get", "--prefix", prefix, "-w", "json"]
    done = subprocess.run(
        argv, capture_output=True, text=True, check=True, env={**os.environ, "ETCDCTL_API": "3"}
    )
    return {
        base64.b64decode(kv["key"]).decode(): base64.b64decode(kv.get("value", ""))
        for kv in json.loads(done.stdout).get("kvs", [])
    }


def test_pve_directory_to_etcd_and_back(tmp_path: Path, etcd_single: EtcdCluster, etcd_url: str) -> None:
    pve = pve_directory(tmp_path / "pve")
    out = sdn("store", "copy", "--from", str(pve), "--to", etcd_url).stdout
    assert "verified" in out
    prefix = parse_url(etcd_url).prefix
    keys = etcd_keys(etcd_single, prefix + "doc/")
    # the running config kept byte for byte (small enough to sit in its head, after the header line)
    assert keys[prefix + "doc/.running-config"].split(b"\n", 1)[1] == CASE.read_bytes()
    # the IPAM database became one document per address
    ipam = {k.split("doc/", 1)[1] for k in keys if "/doc/ipam/" in k}
    assert {"ipam/pvez/10.9.0.0_24/10.9.0.1", "ipam/pvez/10.9.0.0_24/10.9.0.50"} <= ipam
    assert prefix + "doc/pve-ipam-state.json" not in keys
    entry = keys[prefix + "doc/ipam/pvez/10.9.0.0_24/10.9.0.50"].split(b"\n", 1)[1]
    assert json.loads(entry) == IPAM_STATE["zones"]["pvez"]["subnets"]["10.9.0.0/24"]["ips"]["10.9.0.50"]
    # every command works on the copy: the vnets of the fixture, applied as they were
    vnets = json.loads(sdn("--store", etcd_url, "-o", "json", "vnet", "list").stdout)
    running = json.loads(CASE.read_text())
    assert {v["vnet"] for v in vnets} == set(running["vnets"]["ids"])

    # new state on etcd: an allocation and a port
    sdn("--store", etcd_url, "zone", "create", "cz", "--type", "simple", "--ipam", "pve")
    sdn("--store", etcd_url, "vnet", "create", "cv", "--zone", "cz")
    sdn("--store", etcd_url, "subnet", "create", "cv", "10.8.0.0/24", "--gateway", "10.8.0.1")
    sdn("--store", etcd_url, "apply")
    sdn("--store", etcd_url, "port", "add", "--vnet", "cv", "--guest", "101", "--mac", "bc:24:11:00:00:02",
        "--node", "n1", "--no-firewall")  # fmt: skip
    back = tmp_path / "back"
    sdn("store", "copy", "--from", etcd_url, "--to", str(back))
    assert (back / "mac-cache.json").read_text() == (pve / "mac-cache.json").read_text()
    assert (back / "zones.cfg").read_text().count("evpn:") == (pve / "zones.cfg").read_text().count("evpn:")
    state = json.loads((back / "pve-ipam-state.json").read_text())
    ips = state["zones"]["cz"]["subnets"]["10.8.0.0/24"]["ips"]
    assert ips["10.8.0.1"] == {"gateway": 1}
    port_ips = [ip for ip, e in ips.items() if e.get("mac", "").lower() == "bc:24:11:00:00:02"]
    assert len(port_ips) == 1
    port = json.loads((back / "ports" / "cv" / "101" / "bc-24-11-00-00-02.json").read_text())
    assert port["ips"] == port_ips
    assert state["zones"]["pvez"] == IPAM_STATE["zones"]["pvez"]
    # the directory copy works as a store, with the same answers
    listed = json.loads(sdn("--store", str(back), "-o", "json", "port", "list").stdout)
    assert [(p["vnet"], p["guest"]) for p in listed] == [("cv", "101")]

    # a destination with documents is not overwritten without --force
    again = sdn("store", "copy", "--from", etcd_url, "--to", str(back), check=False)
    assert again.returncode == 2 and "pass --force" in again.stderr
    (back / "extra.cfg").write_text("x")
    sdn("store", "copy", "--from", etcd_url, "--to", str(back), "--force")
    assert not (back / "extra.cfg").exists()  # made an exact copy
    # and back into etcd, replacing what is there
    sdn("store", "copy", "--from", str(back), "--to", etcd_url, "--force")
    keys = etcd_keys(etcd_single, prefix + "doc/ipam/cz/")
    assert f"{prefix}doc/ipam/cz/10.8.0.0_24/{port_ips[0]}" in keys
