"""``sdn demo --serve``, what ``make run`` runs: the seed's examples in a 3-node lab, the ping
matrix as the seed expects it, then the controller: a vnet created and applied through the REST
API shows up on the lab's nodes (read with ``ip -j`` there), and Ctrl-C stops API and agents.

On this host the lab runs inside User-Mode-Linux (the kernel lacks VLAN/QinQ), as ``make run``
does it.
"""

from __future__ import annotations

import json
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from .conftest import cli, unique_name

pytestmark = [pytest.mark.kernel, pytest.mark.slow, pytest.mark.needs("root", "uml")]

SDN = str(Path(sys.executable).with_name("sdn"))


class Output:
    """The demo's output, read as it comes."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        self.proc, self.lines = proc, []
        self.sel = selectors.DefaultSelector()
        self.sel.register(proc.stdout, selectors.EVENT_READ)

    def until(self, needle: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.sel.select(timeout=0.5):
                line = self.proc.stdout.readline()  # type: ignore[union-attr]
                self.lines.append(line)
                if needle in line:
                    return line
                if not line and self.proc.poll() is not None:
                    break
        raise AssertionError(f"no {needle!r} in the demo's output:\n{''.join(self.lines[-60:])}")


def test_make_run_demo_then_an_api_change_reaches_the_lab_nodes(lab_root: Path, tmp_path: Path) -> None:
    name = unique_name("tsd")
    argv = [SDN, "demo", "--name", name, "--store", str(tmp_path / "demo"), "--serve", "127.0.0.1:0"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = Output(proc)
    try:
        verdict = out.until("==> every result as expected", timeout=900)
        assert "NOT as expected" not in verdict
        token = out.until("Authorization: PVEAPIToken=root@pam!demo=", timeout=120)
        header = token.split("'")[1].split(": ", 1)[1]
        url = out.until("listening on ", timeout=60).split()[2]
        api = requests.Session()
        api.headers["Authorization"] = header
        cafile = tmp_path / "demo" / "tls" / "sdn-ssl.pem"
        data = {"vnet": "vnet9", "zone": "myvxzone", "tag": 100009}
        assert api.post(f"{url}/cluster/sdn/vnets", data=data, verify=cafile, timeout=30).ok
        assert api.put(f"{url}/cluster/sdn", verify=cafile, timeout=60).ok  # apply
        deadline, seen = time.monotonic() + 120, None
        while time.monotonic() < deadline:
            rc, seen = cli("--config-dir", str(tmp_path / "demo"), "lab", "exec", "--name", name,
                           "node3", "--", "ip", "-j", "-d", "link", "show", "vnet9")  # fmt: skip
            if rc == 0:
                break
            time.sleep(1)
        (link,) = json.loads(seen or "[]")
        assert link["linkinfo"]["info_kind"] == "bridge" and link["mtu"] == 1450
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            rest = proc.stdout.read() if proc.stdout else ""
            proc.stdout.close() if proc.stdout else None
            cli("--config-dir", str(tmp_path / "demo"), "lab", "down", "--name", name)
    assert proc.returncode == 0, "".join(out.lines[-40:]) + rest
    assert "API and agents stopped" in rest
