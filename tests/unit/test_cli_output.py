"""Text output shows control and bidirectional characters as escapes; JSON output stays JSON."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from sdnkit.cli.main import main
from sdnkit.cli.output import emit, say

HOSTILE = {
    "\n": "\\x0a",
    "\r": "\\x0d",
    "\x1b[31m": "\\x1b[31m",  # a terminal escape sequence: shown, not run
    "\x85": "\\x85",
    "\x9b": "\\x9b",
    "\u2028": "\\u2028",
    "\u202e": "\\u202e",
    "\u2066": "\\u2066",
    "\u200b": "\\u200b",
}


@pytest.mark.parametrize(("char", "escaped"), HOSTILE.items(), ids=[f"U+{ord(c[0]):04X}" for c in HOSTILE])
def test_tables_and_key_value_lines_escape_invisible_characters(char: str, escaped: str) -> None:
    out = io.StringIO()
    rows = [{"name": f"a{char}b", "note": "ok"}, {"name": "c", "note": "Zürich"}]
    emit(rows, "text", ["name", "note"], out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3  # the header and one line per row
    assert lines[1].split() == [f"a{escaped}b", "ok"]
    assert lines[2].split() == ["c", "Zürich"]  # printable letters stay as they are
    out = io.StringIO()
    emit({f"k{char}": f"v{char}"}, "text", out=out)
    assert out.getvalue() == f"k{escaped}: v{escaped}\n"


def test_json_output_stays_json() -> None:
    data = [{"name": "a\u202e\n\x85b", "note": "Zürich"}]
    out = io.StringIO()
    emit(data, "json", ["name"], out)
    assert json.loads(out.getvalue()) == data
    assert "\u202e" not in out.getvalue() and "\n\x85" not in out.getvalue()


def test_messages_are_one_line_unless_they_say_otherwise() -> None:
    out = io.StringIO()
    say('vnet "a\nb\u202e" does not exist', out)
    assert out.getvalue() == 'vnet "a\\x0ab\\u202e" does not exist\n'
    out = io.StringIO()
    say("one\ntwo\u2028", out, multiline=True)
    assert out.getvalue() == "one\ntwo\\u2028\n"


def test_an_error_naming_a_hostile_id_prints_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--config-dir", str(tmp_path), "ip", "list", "--vnet", "x\u202e\nfake: line"])
    _, err = capsys.readouterr()
    assert code == 2
    assert err == 'sdn: error: vnet "x\\u202e\\x0afake: line" does not exist (or is not applied yet)\n'


def test_ipam_listing_of_an_imported_state_escapes_hostnames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An imported PVE IPAM state is not validated entry by entry: its text is shown escaped."""
    pve = tmp_path / "pve"
    pve.mkdir()
    (pve / "zones.cfg").write_text("simple: z1\n\tipam pve\n\n")
    (pve / "vnets.cfg").write_text("vnet: v1\n\tzone z1\n\n")
    (pve / "subnets.cfg").write_text("subnet: z1-10.0.0.0-24\n\tvnet v1\n\n")
    entry = {"hostname": "db\u202exe.\nfake"}
    state = {"zones": {"z1": {"subnets": {"10.0.0.0/24": {"ips": {"10.0.0.5": entry}}}}}}
    (pve / "pve-ipam-state.json").write_text(json.dumps(state))
    sdn = ["--config-dir", str(tmp_path / "store")]
    assert main([*sdn, "import", str(pve)]) == 0
    assert main([*sdn, "apply"]) == 0
    capsys.readouterr()
    assert main([*sdn, "ip", "list"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 2 and "db\\u202exe.\\x0afake" in out
    assert main([*sdn, "--output", "json", "ip", "list"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["hostname"] == "db\u202exe.\nfake"
