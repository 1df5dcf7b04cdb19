"""``make run``: ``sdn demo --etcd --serve``, through the command, as a user runs it.

The seed's examples on a 3-node etcd lab (inside UML on a kernel without VLAN/QinQ), the ping
matrix as the seed says, then the controller: agents on the nodes (inside UML, on the lab's etcd
over the underlay) and the REST API on this host on the same etcd. A vnet created and applied
through the API with the printed token appears on a node; the printed password logs in; SIGTERM
stops the API and the agents and leaves the lab up. Slow: several minutes on a loaded machine.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import unique_name

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.services,
    pytest.mark.slow,
    pytest.mark.needs("root", "uml", "etcd"),
]

SDN = str(Path(sys.executable).with_name("sdn"))
DEMO_TIMEOUT = 1200.0  # the whole demo, up to the API (about 3 min here, under load)


class Output:
    """The demo's output, line by line, read by a thread (so waiting can have a deadline)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._proc, self._ended = proc, False
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        """After the demo ended: the reader is at the end of its output, the pipe can close."""
        self._thread.join(timeout=60)
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def until(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=1.0)
            except queue.Empty:
                continue
            if line is None:
                self._ended = True
                break
            self.lines.append(line)
            if found := re.search(pattern, line):
                return found
        raise AssertionError(f"no line matching {pattern!r}; the output:\n{self.text()}")

    def rest(self) -> str:
        """Everything up to the end of the output (the demo has ended)."""
        while not self._ended and (line := self._queue.get(timeout=60)) is not None:
            self.lines.append(line)
        self._ended = True
        return self.text()

    def text(self) -> str:
        return "".join(self.lines)


@pytest.fixture
def demo(lab_root: Path, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str], Output]]:
    name = unique_name("ld")
    env = {**os.environ, "SDN_STORE": str(tmp_path / "not-the-store")}  # the demo must not need it
    proc = subprocess.Popen(
        [SDN, "demo", "--etcd", "--name", name, "--serve", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    out = Output(proc)
    try:
        yield name, proc, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        out.close()
        if (lab_root / name / "state.json").exists():
            subprocess.run(
                [SDN, "lab", "down", "--name", name], capture_output=True, check=False, timeout=300
            )


def on_node(name: str, node: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SDN, "lab", "exec", "--name", name, node, "--", *argv],
                          capture_output=True, text=True, check=False, timeout=120)  # fmt: skip


def test_make_run_on_the_etcd_lab(demo: tuple[str, subprocess.Popen[str], Output], tmp_path: Path) -> None:
    name, proc, out = demo
    url = out.until(r"listening on (https://127\.0\.0\.1:\d+)/api2/json", DEMO_TIMEOUT).group(1)
    text = out.text()
    assert "every result as expected" in text
    assert f'lab env --name {name})"' in text  # how to point sdn at the lab's etcd
    secret = re.search(r"PVEAPIToken=root@pam!demo=([0-9a-f-]+)", text).group(1)  # type: ignore[union-attr]
    password = re.search(r"user root@pam, password (\S+)", text).group(1)  # type: ignore[union-attr]
    assert not (tmp_path / "not-the-store").exists()

    auth = {"Authorization": f"PVEAPIToken=root@pam!demo={secret}"}
    with httpx.Client(base_url=f"{url}/api2/json", verify=False, headers=auth, timeout=60) as api:
        assert on_node(name, "node3", "ip", "link", "show", "vnet9").returncode != 0
        api.post(
            "/cluster/sdn/vnets", data={"vnet": "vnet9", "zone": "myvxzone", "tag": 100009}
        ).raise_for_status()
        api.put("/cluster/sdn").raise_for_status()
        deadline = time.monotonic() + 300
        while on_node(name, "node3", "ip", "link", "show", "vnet9").returncode != 0:
            assert time.monotonic() < deadline, "vnet9 never appeared on node3"
            time.sleep(2)
        login = api.post("/access/ticket", data={"username": "root@pam", "password": password})
        assert login.status_code == 200 and login.json()["data"]["ticket"]
    shown = json.loads(on_node(name, "node3", "ip", "-j", "-d", "link", "show", "vnet9").stdout)
    assert shown[0]["linkinfo"]["info_kind"] == "bridge"

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 0, out.rest()
    assert "API and agents stopped" in out.rest()
    status = subprocess.run([SDN, "-o", "json", "lab", "status", "--name", name],
                            capture_output=True, text=True, check=True, timeout=120)  # fmt: skip
    nodes = [m for m in json.loads(status.stdout)["members"] if m["role"] == "node"]
    assert [m["up"] for m in nodes] == [True] * 3 and [m["agent"] for m in nodes] == [None] * 3
    # the etcd commands go into UML too: the three members answer, one leads
    members = subprocess.run([SDN, "-o", "json", "lab", "etcd", "status", "--name", name],
                             capture_output=True, text=True, check=True, timeout=120)  # fmt: skip
    states = sorted(m["state"] for m in json.loads(members.stdout))
    assert states == ["follower", "follower", "leader"]
