"""``sdn render``: files written, store fallback, and clear errors for bad input files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # plan_support.py beside the tests

import pytest
from plan_support import UPLINK

from sdnkit.cli.main import main
from sdnkit.store import open_store

SIMPLE = {
    "version": 3,
    "zones": {"ids": {"z1": {"type": "simple"}}},
    "vnets": {"ids": {"v1": {"type": "vnet", "zone": "z1"}}},
}
WITH_BGP = SIMPLE | {
    "controllers": {"ids": {"b1": {"type": "bgp", "asn": 65001, "node": "n1", "peers": "192.0.2.9"}}}
}


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {name: tmp_path / name for name in ("running.json", "interfaces", "facts.json", "frr.conf.local")}
    paths["running.json"].write_text(json.dumps(SIMPLE))
    paths["interfaces"].write_text(UPLINK)
    paths["facts.json"].write_text(json.dumps({"node": "n1", "underlay_iface": "vmbr0"}))
    paths["frr.conf.local"].write_text("ip nht resolve-via-default\n")
    return paths


def argv(files: dict[str, Path], out: Path, *extra: str, running: bool = True) -> list[str]:
    args = [
        "render",
        "--interfaces",
        str(files["interfaces"]),
        "--facts",
        str(files["facts.json"]),
        "--out",
        str(out),
    ]
    return args + (["--running-config", str(files["running.json"])] if running else []) + list(extra)


def test_writes_sdn_only_without_controllers(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(argv(files, out)) == 0
    assert (out / "sdn").read_text().startswith("#version:3\n\nauto v1\niface v1\n")
    assert not (out / "frr.conf").exists()
    assert f"wrote {out / 'sdn'}\n" in capsys.readouterr().out


def test_writes_frr_conf_with_controllers_or_a_local_file(files: dict[str, Path], tmp_path: Path) -> None:
    files["running.json"].write_text(json.dumps(WITH_BGP))
    assert main(argv(files, tmp_path / "a")) == 0
    assert "router bgp 65001\n" in (tmp_path / "a" / "frr.conf").read_text()
    files["running.json"].write_text(json.dumps(SIMPLE))
    assert main(argv(files, tmp_path / "b", "--frr-local", str(files["frr.conf.local"]))) == 0
    assert "\nip nht resolve-via-default\n" in (tmp_path / "b" / "frr.conf").read_text()


def test_json_output_and_warnings(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files["running.json"].write_text(
        json.dumps(SIMPLE | {"vnets": {"ids": {"v9": {"type": "vnet", "zone": "nope"}}}})
    )
    assert main(["--output", "json", *argv(files, tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert str(tmp_path / "out" / "sdn") in result["written"]
    assert result["warnings"] == ['vnet "v9": zone "nope" does not exist']
    assert 'sdn: warning: vnet "v9": zone "nope" does not exist' in captured.err


def test_reads_the_store_running_config(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_dir = tmp_path / "store"
    open_store(store_dir).commit({".running-config": json.dumps(WITH_BGP).encode()})
    monkeypatch.setenv("SDN_CONFIG_DIR", str(store_dir))
    assert main(["--config-dir", str(store_dir), *argv(files, tmp_path / "out", running=False)]) == 0
    assert (tmp_path / "out" / "frr.conf").is_file()


@pytest.mark.parametrize(
    ("target", "content", "message"),
    [
        ("interfaces", None, "interfaces: cannot read: No such file or directory"),
        (
            "interfaces",
            "iface vmbr0 inet static\n\taddress 10.0.0.300/24\n",
            "interfaces: line 2: invalid address",
        ),
        ("facts.json", '{"node": "n1", "underlay": "x"}', "facts.json: unknown key 'underlay'"),
        ("running.json", "{not json", "running.json: running config is not valid JSON"),
        (
            "running.json",
            '{"zones": {"ids": {"z1": {"type": "simple", "mtu": "x"}}}}',
            'running.json: zone "z1"',
        ),
    ],
)
def test_bad_input_files_are_named(
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    target: str,
    content: str | None,
    message: str,
) -> None:
    if content is None:
        files[target].unlink()
    else:
        files[target].write_text(content)
    out = tmp_path / "out"
    assert main(argv(files, out)) == 2
    err = capsys.readouterr().err
    assert err.startswith("sdn: error: ") and f"{tmp_path}/{message}" in err
    assert not out.exists()  # nothing written


def test_missing_store_running_config(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config-dir", str(tmp_path / "empty"), *argv(files, tmp_path / "out", running=False)]) == 2
    assert "no running configuration" in capsys.readouterr().err
