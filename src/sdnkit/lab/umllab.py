"""``sdn lab up --kernel uml``: the same lab, inside a long-running User-Mode-Linux kernel.

This host's kernel has no 802.1Q devices, VRF or VLAN filtering; the UML kernel has them. Design:

* ``up`` boots one UML per lab, detached (its own session; console log in the lab folder), whose
  only command is the control server of lab/remote.py. The store (``--config-dir``) is shared
  read-write at the same path, so agents inside read the running config written by ``sdn apply``
  on the host and write their status records where ``sdn status`` on the host reads them.
* Every later ``sdn lab ...`` on the host finds ``kernel: uml`` in the lab's state and forwards
  the same command into UML, where it runs as a host-kernel lab (state on the UML's own /run).
  Output and exit code come back; ``exec`` works the same way but is non-interactive.
* ``down`` forwards ``lab down``, asks the server to power the UML off, and kills the UML's
  process group if it does not stop within 10 s.

Inside UML each fork costs 6-15x more than here, so a forwarded command takes ~0.3 s more.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TextIO

from sdnkit.errors import ConfigError, RealizeError
from sdnkit.lab import children, remote
from sdnkit.lab.state import Kernel, LabState, LabStore, UmlInstance, replace
from sdnkit.lab.uml import UmlBoot, UmlSpec, UmlUnavailable, remove_tree

BOOT_TIMEOUT = 60.0
INNER_LAB_DIR = "/run/sdnkit/lab"  # UML's own tmpfs: never the host's lab folder seen through hostfs


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"linux.uml" in fh.read()
    except OSError:
        return False


def _io(state: LabState) -> Path:
    assert state.uml is not None
    return Path(state.uml.run_dir) / "io"


def _wait_ready(boot: UmlBoot, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + BOOT_TIMEOUT
    while not (boot.io / "ready").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace").strip().splitlines()[-5:] if log.exists() else []
            raise UmlUnavailable("the UML kernel did not come up: " + " | ".join(tail))
        time.sleep(0.05)


def boot(state: LabState, log: Path) -> UmlInstance:
    """Start the lab's UML kernel with the control server; return once it answers."""
    spec = UmlSpec(
        command=(sys.executable, "-m", "sdnkit.lab.remote", "serve"),
        cwd="/",
        share_cwd=False,
        shares=(state.config_dir,),
    )
    prepared = UmlBoot.prepare(spec)
    with open(log, "ab") as fh:
        proc = prepared.popen(fh)
    children.keep(proc)
    try:
        _wait_ready(prepared, proc, log)
    except BaseException:
        _kill(proc.pid)
        prepared.cleanup()
        raise
    return UmlInstance(pid=proc.pid, run_dir=str(prepared.run), log=str(log))


def forward(state: LabState, lab_args: Sequence[str], output: str = "text") -> int:
    """Run ``sdn lab <lab_args>`` inside the lab's UML; its exit code."""
    argv = ["--config-dir", state.config_dir, "--output", output, "lab", *lab_args]
    return run_inside(state, argv, sdn=True)


def run_inside(state: LabState, argv: Sequence[str], out: TextIO | None = None, *, sdn: bool = False) -> int:
    """Run ``argv`` inside the lab's UML kernel (output to ``out``, default stdout); its exit code.

    With ``sdn``, ``argv`` are the arguments of an ``sdn`` command, run by the server's fork.
    """
    assert state.uml is not None
    pid = state.uml.pid
    if not _alive(pid):
        raise RealizeError(
            f'lab "{state.name}": its UML kernel is not running (log: {state.uml.log}); sdn lab down'
        )
    env = {k: v for k, v in os.environ.items() if k.startswith("SDN_")}
    env.update(
        {"SDN_LAB_DIR": INNER_LAB_DIR, "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
    )
    return remote.call(_io(state), argv, env=env, alive=lambda: _alive(pid), out=out, sdn=sdn)


def up(name: str, nodes: int, config_dir: str) -> LabState:
    store = LabStore(name)
    with store.locked():
        if store.exists():
            raise ConfigError(f'lab "{name}" already exists (sdn lab down --name {name})')
        Path(config_dir).mkdir(parents=True, exist_ok=True)
        state = LabState(name=name, kernel=Kernel.UML, nodes=nodes, config_dir=os.path.abspath(config_dir))
        with ExitStack() as undo:
            undo.callback(store.remove)
            instance = boot(state, store.dir / "uml.log")
            state = replace(state, uml=instance)
            store.save(state)
            undo.callback(_shutdown, state)
            said = io.StringIO()
            rc = run_inside(state, ["--config-dir", state.config_dir, "lab", "up", "--nodes", str(nodes),
                                    "--name", name, "--kernel", "host"], out=said, sdn=True)  # fmt: skip
            if rc != 0:
                raise RealizeError(
                    f'lab "{name}": creating the lab inside UML failed (exit {rc}): {said.getvalue()}'
                )
            undo.pop_all()
        return state


def _kill(pid: int) -> None:
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)  # UML was started as its own session leader
    children.forget(pid, wait=5.0)


def _shutdown(state: LabState) -> None:
    assert state.uml is not None
    pid = state.uml.pid
    if _alive(pid):
        remote.submit(_io(state), [remote.POWEROFF])
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        _kill(pid)
        deadline = time.monotonic() + 5  # a killed UML may still write to its folder while it dies
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    remove_tree(Path(state.uml.run_dir))


def down(state: LabState) -> None:
    store = LabStore(state.name)
    with store.locked():
        if state.uml and _alive(state.uml.pid):
            forward(state, ["down", "--name", state.name])
        if state.uml:
            _shutdown(state)
        store.remove()
