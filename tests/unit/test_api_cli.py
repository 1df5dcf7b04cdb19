"""``sdn user``, ``sdn token``, ``sdn acl``: what an administrator types, and what it leaves behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdnkit.api.access import AccessStore
from sdnkit.cli.main import main


def sdn(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--config-dir", str(config), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_user_token_acl_round(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert sdn(capsys, tmp_path, "user", "add", "alice@pve", "--password", "alice-password")[0] == 0
    code, out, _ = sdn(capsys, tmp_path, "-o", "json", "token", "add", "alice@pve", "ci")
    token = json.loads(out)
    assert code == 0 and token["full-tokenid"] == "alice@pve!ci" and token["info"]["privsep"] == 1
    assert (
        sdn(
            capsys,
            tmp_path,
            "acl",
            "set",
            "/sdn/zones",
            "--role",
            "PVESDNUser,PVEAuditor",
            "--token",
            "alice@pve!ci",
            "--propagate",
            "0",
        )[0]
        == 0
    )
    rows = json.loads(sdn(capsys, tmp_path, "-o", "json", "acl", "list")[1])
    assert {(r["path"], r["ugid"], r["roleid"], r["propagate"], r["type"]) for r in rows} == {
        ("/sdn/zones", "alice@pve!ci", "PVESDNUser", 0, "token"),
        ("/sdn/zones", "alice@pve!ci", "PVEAuditor", 0, "token"),
    }
    users = json.loads(sdn(capsys, tmp_path, "-o", "json", "user", "list")[1])
    assert {u["userid"]: (u["password"], u["tokens"]) for u in users} == {
        "alice@pve": (1, ["ci"]),
        "root@pam": (0, []),
    }
    assert (
        sdn(capsys, tmp_path, "acl", "del", "/sdn/zones", "--role", "PVEAuditor", "--token", "alice@pve!ci")[
            0
        ]
        == 0
    )
    assert [e.role for e in AccessStore(tmp_path).load().acl] == ["PVESDNUser"]
    assert sdn(capsys, tmp_path, "token", "del", "alice@pve", "ci")[0] == 0
    assert AccessStore(tmp_path).load().acl == ()  # the token's entries go with it
    assert sdn(capsys, tmp_path, "user", "del", "alice@pve")[0] == 0
    assert set(AccessStore(tmp_path).load().users) == {"root@pam"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("user", "add", "alice"), "invalid user ID"),
        (("user", "del", "root@pam"), "superuser"),
        (("token", "add", "nobody@pve", "ci"), "does not exist"),
        (("acl", "set", "/vms/100", "--role", "PVEAuditor", "--user", "root@pam"), "invalid ACL path"),
        (("acl", "set", "/sdn", "--role", "Boss", "--user", "root@pam"), "unknown role"),
        (("user", "passwd", "root@pam", "--password", "short"), "at least 8"),
    ],
)
def test_refusals_name_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    code, _, err = sdn(capsys, tmp_path, *args)
    assert code == 2 and message in err


def test_password_from_standard_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("from-stdin-pw\n"))
    assert sdn(capsys, tmp_path, "user", "passwd", "root@pam", "--password", "-")[0] == 0
    from sdnkit.api.credentials import check_password

    assert check_password("from-stdin-pw", AccessStore(tmp_path).password_hash("root@pam"))
