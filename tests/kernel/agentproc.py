"""Long-running ``sdn agent`` processes for kernel tests: start, stop, kill, read what they printed.

Each agent is the real command (``sdn --store URL -o json agent --node N --netns NS ...``) in its
own process group, its output in a file; ``passes()`` parses the status record it prints after
every pass. ``wait_until(check)`` waits for a condition with a generous bound (not a timed
assertion: it only keeps a broken test from hanging).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

SDN = str(Path(sys.executable).with_name("sdn"))
T = TypeVar("T")


def wait_until(check: Callable[[], T], what: str, bound: float = 90.0) -> T:
    deadline = time.monotonic() + bound
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def sdn(store: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [SDN, "--store", store, *argv], capture_output=True, text=True, timeout=300, check=False
    )
    if check:
        assert done.returncode == 0, f"sdn {' '.join(argv)}: {done.stderr}{done.stdout}"
    return done


def status(store: str) -> dict[str, dict[str, Any]]:
    """``sdn status -o json`` by node."""
    return {r["node"]: r for r in json.loads(sdn(store, "-o", "json", "status").stdout)}


@dataclass
class Agent:
    store: str
    node: str
    netns: str
    home: Path
    extra: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def log(self) -> Path:
        return self.home / "agent.out"

    def argv(self) -> list[str]:
        return [
            SDN, "--store", self.store, "-o", "json", "agent", "--node", self.node, "--netns", self.netns,
            "--state-dir", str(self.home / "state"), "--dhcp-root", str(self.home / "dhcp"),
            "--frr", "off", "--frr-local", str(self.home / "none"), "--no-firewall", *self.extra,
        ]  # fmt: skip

    def start(self) -> Agent:
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                self.argv(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    def _signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)
        self.proc = None

    def stop(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def passes(self) -> list[dict[str, Any]]:
        """Every status record the agent printed, in order."""
        text = self.output()  # its first line is "sdn agent: node ...": every record follows a newline
        decoder, found, at = json.JSONDecoder(), [], text.find("\n{")
        while at >= 0:
            try:
                record, end = decoder.raw_decode(text, at + 1)
            except json.JSONDecodeError:
                end = at + 2  # a record still being written
            else:
                found.append(record)
            at = text.find("\n{", end)
        return found

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""
