"""``sdn import DIR`` and ``sdn ip compact``, through the command, checked against the files.

The import reads a directory written the way PVE writes ``/etc/pve/sdn`` (the section-config
text below, as in the seed's examples); what the store holds afterwards is compared with that
text, not with sdnkit's own reading of it. ``ip compact`` is checked on the IPAM state document
itself (upstream's ``pve-ipam-state.json`` shape), read as plain JSON.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from sdnkit.cli.main import main

ZONES = """simple: simple
\tipam pve

vlan: myvlanz
\tbridge vmbr0
\tmtu 1496

"""
VNETS = """vnet: vnet1
\tzone simple

vnet: myvnet1
\tzone myvlanz
\ttag 10
\talias vm network

"""
SUBNETS = """subnet: simple-10.0.1.0-24
\tvnet vnet1
\tgateway 10.0.1.1
\tsnat 1

"""


@pytest.fixture
def sdn(capsys: pytest.CaptureFixture[str], tmp_path: Path):  # type: ignore[no-untyped-def]
    store = tmp_path / "store"

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--config-dir", str(store), *args])
        out, err = capsys.readouterr()
        return code, out, err

    run.store = store  # type: ignore[attr-defined]
    return run


@pytest.fixture
def pve_dir(tmp_path: Path) -> Path:
    src = tmp_path / "etc-pve-sdn"
    src.mkdir()
    (src / "zones.cfg").write_text(ZONES)
    (src / "vnets.cfg").write_text(VNETS)
    (src / "subnets.cfg").write_text(SUBNETS)
    return src


def listed(sdn, kind: str) -> dict[str, dict[str, object]]:  # type: ignore[no-untyped-def]
    code, out, err = sdn("--output", "json", kind, "list")
    assert code == 0, err
    key = {"zone": "zone", "vnet": "vnet", "subnet": "subnet"}[kind]
    return {row[key]: row for row in json.loads(out)}


def stanzas(text: str) -> set[tuple[str, tuple[str, ...]]]:
    blocks = [b.strip().splitlines() for b in text.split("\n\n") if b.strip()]
    return {(b[0], tuple(sorted(line.strip() for line in b[1:]))) for b in blocks}


def tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_import_copies_a_pve_directory_into_the_store(sdn, pve_dir: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = sdn("import", str(pve_dir))
    assert code == 0, err
    assert f"imported {pve_dir}" in out
    zones = listed(sdn, "zone")
    assert set(zones) == {"simple", "myvlanz"}
    assert zones["myvlanz"]["type"] == "vlan" and zones["myvlanz"]["bridge"] == "vmbr0"
    assert zones["myvlanz"]["mtu"] == 1496 and zones["simple"]["ipam"] == "pve"
    vnets = listed(sdn, "vnet")
    assert vnets["myvnet1"]["tag"] == 10 and vnets["myvnet1"]["alias"] == "vm network"
    code, out, _ = sdn("--output", "json", "subnet", "list", "vnet1")
    assert code == 0
    (subnet,) = json.loads(out)
    assert subnet["subnet"] == "simple-10.0.1.0-24" and subnet["gateway"] == "10.0.1.1"
    # the store is PVE's layout: its files carry the same sections (options in any order)
    assert stanzas((sdn.store / "vnets.cfg").read_text()) == stanzas(VNETS)
    assert sdn("apply")[0] == 0  # an imported configuration applies as it is


def test_import_reports_what_pve_only_warns_about_and_drops_it(sdn, pve_dir: Path) -> None:  # type: ignore[no-untyped-def]
    (pve_dir / "zones.cfg").write_text(ZONES + "faucet: odd\n\tbridge vmbr0\n\n")
    code, _, err = sdn("import", str(pve_dir))
    assert code == 0
    assert "warning:" in err and "faucet" in err
    assert set(listed(sdn, "zone")) == {"simple", "myvlanz"}  # the unknown type is dropped


def test_import_over_a_configuration_is_refused_and_changes_nothing(sdn, pve_dir: Path) -> None:  # type: ignore[no-untyped-def]
    assert sdn("zone", "create", "mine", "--type", "simple")[0] == 0
    before = tree(sdn.store)
    code, _, err = sdn("import", str(pve_dir))
    assert code != 0 and "already holds a configuration" in err and "force" in err
    assert tree(sdn.store) == before
    assert sdn("import", str(pve_dir), "--force")[0] == 0  # the path works when asked for
    assert set(listed(sdn, "zone")) == {"simple", "myvlanz"}


def test_import_of_a_missing_directory_names_it(sdn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = sdn("import", str(tmp_path / "nosuch"))
    assert code != 0 and "nosuch is not a directory" in err


def ipam_document(store: Path) -> dict[str, object]:
    path = store / "pve-ipam-state.json"
    return json.loads(path.read_text()) if path.exists() else {}


def addresses(document: dict[str, object]) -> dict[str, dict[str, object]]:
    """IP -> entry, from upstream's shape: zones -> subnets -> ips."""
    found: dict[str, dict[str, object]] = {}
    for zone in (document.get("zones") or {}).values():  # type: ignore[union-attr]
        for subnet in zone.get("subnets", {}).values():
            found.update(subnet.get("ips", {}))
    return found


def test_ip_compact_writes_the_ipam_state_document(sdn) -> None:  # type: ignore[no-untyped-def]
    assert sdn("import", str(_write_pve(sdn.store.parent)))[0] == 0
    assert sdn("apply")[0] == 0
    code, _, err = sdn("ip", "add", "--vnet", "vnet1", "--ip", "10.0.1.5", "--mac", "bc:24:11:00:00:05")
    assert code == 0, err
    assert "10.0.1.5" not in addresses(ipam_document(sdn.store))  # only in the journal so far
    assert sdn("ip", "compact") == (0, "", "")
    entry = addresses(ipam_document(sdn.store))["10.0.1.5"]
    assert str(entry.get("mac", "")).lower() == "bc:24:11:00:00:05"
    code, out, _ = sdn("--output", "json", "ip", "list", "--vnet", "vnet1")
    assert code == 0 and "10.0.1.5" in {row["ip"] for row in json.loads(out)}  # still served


def _write_pve(parent: Path) -> Path:
    src = parent / "pve-for-compact"
    src.mkdir(exist_ok=True)
    (src / "zones.cfg").write_text(ZONES)
    (src / "vnets.cfg").write_text(VNETS)
    (src / "subnets.cfg").write_text(SUBNETS)
    return src
