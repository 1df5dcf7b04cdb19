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
* ``up --etcd``: the store is the lab's etcd inside UML, so nothing is shared but the control
  folder. The UML gets one network card, ``vec0`` on a tap of this host (UML's vector driver;
  the host link of lab/hostlink.py, with the host's address in the lab's host-facing subnet);
  inside, the lab is made with ``--etcd --switch-port vec0``, which plugs that card into the
  lab's switch. So the host reaches the members inside (``sdn``, ``sdn serve`` on the lab's
  store), the agents inside reach them over the underlay, and nothing else connects the two
  kernels. Members inside UML run with etcd's default election timeout (1 s): one slow CPU
  runs every member, agent and daemon of the lab.

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
from sdnkit.lab import children, etcdlab, hostlink, remote
from sdnkit.lab.etcd import etcd_binary
from sdnkit.lab.etcdlab import EtcdOptions
from sdnkit.lab.state import Kernel, LabState, LabStore, UmlInstance, replace
from sdnkit.lab.uml import UmlBoot, UmlSpec, UmlUnavailable, remove_tree

BOOT_TIMEOUT = 60.0
UML_NIC = "vec0"  # the UML's network card, on the lab's tap (etcd labs)
UML_ELECTION_MS = 1000
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
    tap = state.hostlink.ifname if state.hostlink is not None else None
    spec = UmlSpec(
        command=(sys.executable, "-m", "sdnkit.lab.remote", "serve"),
        cwd="/",
        share_cwd=False,
        shares=() if state.etcd is not None else (state.config_dir,),
        kernel_args=(f"{UML_NIC}:transport=tap,ifname={tap}",) if tap else (),
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


def up(name: str, nodes: int, config_dir: str, etcd: EtcdOptions | None = None) -> LabState:
    store = LabStore(name)
    with store.locked():
        if store.exists():
            raise ConfigError(f'lab "{name}" already exists (sdn lab down --name {name})')
        state = LabState(name=name, kernel=Kernel.UML, nodes=nodes, config_dir=os.path.abspath(config_dir))
        with ExitStack() as undo:
            undo.callback(store.remove)
            if etcd is None:
                Path(config_dir).mkdir(parents=True, exist_ok=True)
            else:
                etcd_binary()  # the UML sees this host's binaries: NotSupportedError before anything
                state = _with_tap(state, etcd, undo)
            instance = boot(state, store.dir / "uml.log")
            state = replace(state, uml=instance)
            store.save(state)
            undo.callback(_shutdown, state)
            _inner_up(state, etcd)
            undo.pop_all()
        return state


def _with_tap(state: LabState, etcd: EtcdOptions, undo: ExitStack) -> LabState:
    """Choose the lab's host-facing subnet and make the tap UML will open (recorded first)."""
    with hostlink.reserving():
        subnet = hostlink.choose_subnet(etcd.subnet)
        state = replace(
            state,
            etcd=etcdlab.plan(state, subnet, UML_ELECTION_MS),
            hostlink=hostlink.plan(state, subnet, kind="tap", outer=True),
        )
        state = replace(state, config_dir=etcdlab.host_url(state))
        LabStore(state.name).save(state)
        undo.callback(hostlink.remove, state, state.hostlink)
        assert state.hostlink is not None
        hostlink.create_tap(state, state.hostlink)
    return state


def _inner_up(state: LabState, etcd: EtcdOptions | None) -> None:
    """The lab itself, inside UML (with ``etcd``: its etcd, on the UML's network card)."""
    argv = ["--config-dir", state.config_dir, "lab", "up", "--nodes", str(state.nodes), "--name", state.name,
            "--kernel", "host"]  # fmt: skip
    if etcd is not None and state.etcd is not None:
        argv += ["--etcd", "--etcd-subnet", state.etcd.subnet, "--switch-port", UML_NIC,
                 "--etcd-election-ms", str(state.etcd.election_ms)]  # fmt: skip
    said = io.StringIO()
    rc = run_inside(state, argv, out=said, sdn=True)
    if rc != 0:
        raise RealizeError(
            f'lab "{state.name}": creating the lab inside UML failed (exit {rc}): {said.getvalue()}'
        )


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
        hostlink.remove(state, state.hostlink)
        store.remove()
