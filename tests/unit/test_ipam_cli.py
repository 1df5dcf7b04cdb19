"""``sdn ip`` and the IPAM paths of ``sdn pvesh``, run as a user would (the ``sdn`` entry point)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from sdnkit.cli.main import main


def run(capsys: pytest.CaptureFixture[str], root: Path, line: str) -> tuple[int, str, str]:
    """``sdn --config-dir ROOT <line>``, the line split as a shell would: exit status, stdout, stderr."""
    capsys.readouterr()
    code = main(["--config-dir", str(root), *shlex.split(line)])
    out, err = capsys.readouterr()
    return code, out, err


def sdn(capsys: pytest.CaptureFixture[str], root: Path, line: str) -> str:
    code, out, err = run(capsys, root, line)
    assert code == 0, err
    return out


@pytest.fixture
def root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    sdn(capsys, tmp_path, "pvesh create /cluster/sdn/zones -zone z1 -type simple -ipam pve")
    sdn(capsys, tmp_path, "pvesh create /cluster/sdn/vnets -vnet v1 -zone z1")
    sdn(
        capsys,
        tmp_path,
        "pvesh create /cluster/sdn/vnets/v1/subnets -subnet 10.0.0.0/24 -type subnet -gateway 10.0.0.1"
        " -dhcp-range start-address=10.0.0.100,end-address=10.0.0.200",
    )
    sdn(capsys, tmp_path, "pvesh set /cluster/sdn")
    return tmp_path


def test_pvesh_ips_and_status(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mac = "bc:24:11:00:00:01"
    ips = f"/cluster/sdn/vnets/v1/ips -zone z1 -mac {mac}"
    sdn(capsys, root, f"pvesh create {ips} -ip 10.0.0.50")
    sdn(capsys, root, f"pvesh set {ips} -ip 10.0.0.51 -vmid 101")
    out = sdn(capsys, root, "pvesh get /cluster/sdn/ipams/pve/status --output-format json")
    assert json.loads(out) == [
        {"gateway": 1, "zone": "z1", "subnet": "10.0.0.0/24", "vnet": "v1", "ip": "10.0.0.1"},
        {"vmid": 101, "mac": mac, "zone": "z1", "subnet": "10.0.0.0/24", "vnet": "v1", "ip": "10.0.0.51"},
    ]
    sdn(capsys, root, f"pvesh delete {ips} -ip 10.0.0.51")
    out = sdn(capsys, root, "pvesh get /cluster/sdn/ipams/pve/status --output-format json")
    assert [e["ip"] for e in json.loads(out)] == ["10.0.0.1"]


def test_sdn_ip_commands(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sdn(capsys, root, "ip add --vnet v1 --ip 10.0.0.7 --mac 02:00:00:00:00:07 --guest 107")
    sdn(capsys, root, "ip set --vnet v1 --ip 10.0.0.7 --mac 02:00:00:00:00:07 --hostname web7")
    rows = json.loads(sdn(capsys, root, "--output json ip list --vnet v1"))
    assert [(r["ip"], r.get("hostname")) for r in rows] == [("10.0.0.1", None), ("10.0.0.7", "web7")]
    text = sdn(capsys, root, "ip list --mac 02:00:00:00:00:07 --vnet v1")
    assert "10.0.0.7" in text and "web7" in text
    sdn(capsys, root, "ip compact")
    state = json.loads((root / "pve-ipam-state.json").read_text())
    assert state["zones"]["z1"]["subnets"]["10.0.0.0/24"]["ips"]["10.0.0.7"] == {
        "mac": "02:00:00:00:00:07",
        "hostname": "web7",
    }
    sdn(capsys, root, "ip del --vnet v1 --ip 10.0.0.7")
    assert "10.0.0.7" not in sdn(capsys, root, "ip status pve")


def test_errors_exit_non_zero_and_name_the_field(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, root, "ip add --vnet v1 --ip 10.0.0.1 --mac 02:00:00:00:00:01")
    assert code != 0
    assert "10.0.0.1 is already registered as the gateway" in err
    code, _, err = run(capsys, root, "ip add --vnet v1 --ip 10.0.0.9 --mac zz")
    assert code != 0
    assert "mac" in err
