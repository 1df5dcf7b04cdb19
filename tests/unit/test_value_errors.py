"""Every class of hostile value (issue 12 A) is refused through ``sdn`` and ``sdn pvesh``.

The message names the object, the field and the rule, and nothing is written; the accepted
value next to each refused one goes through.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from sdnkit.cli.main import main


def files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*")
            if p.is_file()}  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Path:
    sdn = ["--config-dir", str(tmp_path)]
    assert main([*sdn, "zone", "create", "z1", "--type", "simple", "--ipam", "pve"]) == 0
    assert (
        main([*sdn, "zone", "create", "ev", "--type", "evpn", "--controller", "c1", "--vrf-vxlan", "9"]) == 2
    )
    assert main([*sdn, "vnet", "create", "v1", "--zone", "z1"]) == 0
    return tmp_path


# (the command after "sdn", the object and field the message names, the accepted value)
CLI_CASES = [
    (["vnet", "create", "v2", "--zone", "z1", "--alias", "db net\\"], 'vnet "v2"', "alias", "db net"),
    (["vnet", "create", "v2", "--zone", "z1", "--alias", "db\u2029net"], 'vnet "v2"', "alias", "db net"),
    (["vnet", "create", "v2", "--zone", "z1", "--alias", "db\u2067net"], 'vnet "v2"', "alias", "db net"),
    (["vnet", "create", "v2", "--zone", "z1", "--alias", "## x"], 'vnet "v2"', "alias", "x"),
    (["vnet", "create", "v2", "--zone", "z1", "--alias", "caf\xe9"], 'vnet "v2"', "alias", "cafe"),
    (["zone", "create", "z2", "--type", "vxlan", "--peers", "fe80::1%eth0"], 'zone "z2"', "peers", "fe80::1"),
    (["zone", "create", "z2", "--type", "simple", "--mtu", "\u0967\u0966\u0966\u0966"], 'zone "z2"', "mtu",
     "1000"),
    (["zone", "create", "z2", "--type", "evpn", "--controller", "c1", "--vrf-vxlan", "7",
      "--rt-import", "4294967296:1"], 'zone "z2"', "rt-import", None),
    (["subnet", "create", "v1", "10.9.0.0/24", "--gateway", "10.9.0.1%lo"], 'subnet "z1-10.9.0.0-24"',
     "gateway", "10.9.0.1"),
    (["subnet", "create", "v1", "10.9.0.0/24", "--dhcp-dns-server", "fe80::53%eth0"],
     'subnet "z1-10.9.0.0-24"', "dhcp-dns-server", "2001:db8::53"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "label", "field", "good"), CLI_CASES, ids=[c[2] + str(i) for i, c in
                                                                           enumerate(CLI_CASES)])  # fmt: skip
def test_cli_refuses_each_class_naming_the_field(
    store: Path, capsys: pytest.CaptureFixture[str], argv: list[str], label: str, field: str, good: str | None
) -> None:
    before = files(store)
    capsys.readouterr()
    assert main(["--config-dir", str(store), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f'sdn: error: {label}: invalid value for "{field}": '), err
    assert err.count("\n") == 1 and err[:-1].isprintable()  # one line, whatever the value held
    assert files(store) == before
    if good is not None:
        fixed = [*argv[: argv.index(f"--{field}") + 1], good, *argv[argv.index(f"--{field}") + 2 :]]
        assert main(["--config-dir", str(store), *fixed]) == 0
        assert files(store) != before


def test_pvesh_reports_the_parameter_like_pvesh(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = files(store)
    capsys.readouterr()
    argv = [
        "--config-dir",
        str(store),
        "pvesh",
        "create",
        "/cluster/sdn/vnets",
        "--vnet",
        "v3",
        "--zone",
        "z1",
    ]
    assert main([*argv, "--alias", "a\u202eb\\"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "400 Parameter verification failed."
    assert err[1].startswith('alias: vnet "v3": invalid value for "alias": ')
    assert len(err) == 2 and all(line.isprintable() for line in err)
    assert files(store) == before
    assert main([*argv, "--alias", "a b"]) == 0


@pytest.mark.parametrize(
    ("option", "bad", "good"),
    [
        ("--mtu", "\u0661\u0665\u0660\u0660", "1500"),  # int() would read Arabic-Indic digits
        ("--mtu", "1_500", "1500"),
        ("--vlan", " 10", "10"),
        ("--ip", "fe80::5%eth0/64", "fe80::5/64"),
        ("--gw", "fe80::1%eth0", "fe80::1"),
        ("--mac", "bc:24:11:00:00:01\n", "bc:24:11:00:00:01"),
    ],
)
def test_lab_guest_options_are_checked_like_config_values(
    capsys: pytest.CaptureFixture[str], option: str, bad: str, good: str
) -> None:
    from sdnkit.cli.main import build_parser

    argv = ["lab", "guest", "add", "g1", "--node", "node1", "--vnet", "v1", option]
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*argv, bad])
    assert exit_.value.code == 2 and option in capsys.readouterr().err
    assert build_parser().parse_args([*argv, good]).guest == "g1"


@pytest.mark.parametrize("name", ["lab1\n", "lab1\nx", "Lab1", "1lab"])
def test_lab_and_guest_names_match_whole(name: str) -> None:
    from sdnkit.errors import ConfigError
    from sdnkit.lab.state import check_guest_name, check_lab_name

    with pytest.raises(ConfigError):
        check_lab_name(name)
    with pytest.raises(ConfigError):
        check_guest_name(name)
    assert check_lab_name("lab1") == "lab1" and check_guest_name("web-1") == "web-1"
