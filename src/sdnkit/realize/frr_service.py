"""How FRR runs on a node: who enables and starts the daemons a plan needs.

The agent writes ``frr.conf`` and reloads it with ``frr-reload.py`` (realize/frr.py) whatever runs
FRR; what differs between hosts is how the daemons get started. One small class per way,
registered in :data:`FRR_SERVICES` by the name the agent's ``--frr`` option takes:

* ``systemd`` (a PVE host): the daemons are switched on in ``/etc/frr/daemons`` (``bgpd=yes``...;
  ``fabricd``/``ospfd`` off again when no fabric needs them, as PVE does); a change restarts
  ``frr.service``, and a stopped ``frr.service`` is enabled and started.
* ``direct`` (a host without systemd, each lab node): the agent starts each missing daemon
  itself, in the node's namespace, with every path in the instance's run directory (pid files,
  the zserv and vty sockets, one log per daemon: ``research/real-components.md`` §4), and
  stops the daemons of its own run directory that are no longer needed. The daemons file is
  written too, as a record of what runs.
* ``external``: someone else runs the daemons; the agent only writes and reloads the file.

``ensure`` returns the daemons it (re)started: their configuration is then loaded again even
when ``frr.conf`` did not change, since a fresh daemon starts empty.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pwd
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sdnkit.errors import RealizeError
from sdnkit.realize.frr import FrrInstance

SBINDIR = "/usr/lib/frr"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0
PVE_TOGGLED = ("fabricd", "ospfd")  # the daemons PVE switches off again when unused
DAEMON_LINE = re.compile(r"^([a-z0-9]+d)=(\S*)\s*$")


class FrrService(Protocol):
    """Runs a node's FRR daemons; ``instance`` says where its config and sockets are."""

    @property
    def instance(self) -> FrrInstance: ...

    def missing(self, daemons: Iterable[str]) -> bool:
        """Whether ``ensure(daemons)`` would start or stop anything (cheap: no process started)."""
        ...

    def ensure(self, daemons: Iterable[str]) -> tuple[str, ...]:
        """Enable and start zebra and ``daemons``; the daemons (re)started."""
        ...


@functools.cache
def installed_version(sbindir: str = SBINDIR) -> str | None:
    """The installed FRR's version (``zebra --version``); None when FRR is not installed."""
    try:
        done = subprocess.run([f"{sbindir}/zebra", "--version"], capture_output=True, text=True, check=False)
    except OSError:
        return None
    m = re.search(r"version (\d+(?:\.\d+)*)", done.stdout)
    return m.group(1) if m else None


def wanted(daemons: Iterable[str]) -> tuple[str, ...]:
    """zebra first (the others connect to it), then the rest by name."""
    return ("zebra", *sorted(set(daemons) - {"zebra"}))


# --- the daemons file ---------------------------------------------------------------------------


def daemons_file_text(old: str, on: Iterable[str], off: Iterable[str]) -> str:
    """``old`` (FRR's daemons file) with ``on`` set to yes and ``off`` to no; other lines kept."""
    on, off = set(on) - {"zebra"}, set(off) - set(on)
    lines, seen = [], set()
    for line in old.splitlines():
        m = DAEMON_LINE.match(line)
        if m and m.group(1) in on | off:
            seen.add(m.group(1))
            line = f"{m.group(1)}={'yes' if m.group(1) in on else 'no'}"
        lines.append(line)
    lines += [f"{d}=yes" for d in sorted(on - seen)] + [f"{d}=no" for d in sorted(off - seen)]
    return "\n".join(lines) + "\n"


def enabled_in(text: str) -> set[str]:
    return {
        m.group(1) for line in text.splitlines() if (m := DAEMON_LINE.match(line)) and m.group(2) == "yes"
    }


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


# --- external --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalFrr:
    """The daemons are someone else's business: only the file is written and reloaded."""

    instance: FrrInstance

    def missing(self, daemons: Iterable[str]) -> bool:
        return False

    def ensure(self, daemons: Iterable[str]) -> tuple[str, ...]:
        return ()


# --- systemd ---------------------------------------------------------------------------------


def _run(argv: list[str], what: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    except FileNotFoundError:
        raise RealizeError(f"frr: {argv[0]} is missing ({what})", obj="frr") from None
    except subprocess.TimeoutExpired:
        raise RealizeError(f"frr: {' '.join(argv)} did not finish in 120 s", obj="frr") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemdFrr:
    """FRR as a PVE host runs it: ``frr.service`` and ``/etc/frr/daemons``."""

    instance: FrrInstance = field(
        default_factory=lambda: FrrInstance(confdir=Path("/etc/frr"), rundir=Path("/var/run/frr"))
    )
    systemctl: str = "systemctl"
    unit: str = "frr.service"

    @property
    def daemons_file(self) -> Path:
        return self.instance.confdir / "daemons"

    def _new_text(self, daemons: Iterable[str]) -> tuple[str, str]:
        old = _read(self.daemons_file)
        need = set(wanted(daemons))
        return old, daemons_file_text(old, need, [d for d in PVE_TOGGLED if d not in need])

    def _active(self) -> bool:
        return _run([self.systemctl, "is-active", "--quiet", self.unit], "systemd").returncode == 0

    def missing(self, daemons: Iterable[str]) -> bool:
        old, new = self._new_text(daemons)
        return old != new or not self._active()

    def ensure(self, daemons: Iterable[str]) -> tuple[str, ...]:
        if not self.daemons_file.parent.is_dir():
            raise RealizeError(
                f"frr: {self.daemons_file.parent} is missing (apt install frr frr-pythontools)", obj="frr"
            )
        old, new = self._new_text(daemons)
        if old == new and self._active():
            return ()
        if old != new:
            _write(self.daemons_file, new)
        # a changed daemons file needs a restart (PVE: "a daemon status change forces a restart")
        action = ["restart", self.unit] if old != new else ["enable", "--now", self.unit]
        done = _run([self.systemctl, *action], "systemd")
        if done.returncode != 0:
            raise RealizeError(f"frr: systemctl {' '.join(action)} failed: {done.stderr.strip()}", obj="frr")
        return wanted(daemons)


# --- direct ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DirectFrr:
    """The agent starts the daemons itself, one process each, every path in ``instance.rundir``."""

    instance: FrrInstance
    netns: str | None = None  # start them in this namespace (None: the current one)
    sbindir: str = SBINDIR
    user: str = "frr"
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # per-daemon extra options

    @property
    def rundir(self) -> Path:
        return self.instance.rundir or self.instance.confdir

    def pid_file(self, daemon: str) -> Path:
        return self.rundir / f"{daemon}.pid"

    def pid(self, daemon: str) -> int | None:
        """The pid of our ``daemon`` (None: not running); a recycled pid is not ours."""
        try:
            pid = int(self.pid_file(daemon).read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        ours = (
            cmdline[:1] == [f"{self.sbindir}/{daemon}".encode()]
            and str(self.pid_file(daemon)).encode() in cmdline
        )
        return pid if ours else None

    def running(self) -> dict[str, int]:
        """Our daemons that run, by name (the pid files of the run directory)."""
        names = sorted(p.stem for p in self.rundir.glob("*.pid"))
        return {d: pid for d in names if (pid := self.pid(d)) is not None}

    def missing(self, daemons: Iterable[str]) -> bool:
        return set(self.running()) != set(wanted(daemons))

    def argv(self, daemon: str) -> list[str]:
        run = self.rundir
        argv = [f"{self.sbindir}/{daemon}", "-d", "-P", "0", "-f", "/dev/null",
                "-i", str(self.pid_file(daemon)), "-z", str(run / "zserv.api"),
                "--vty_socket", str(run), "--log", f"file:{run / daemon}.log"]  # fmt: skip
        argv += ["--bfdctl", str(run / "bfdd.sock")] if daemon == "bfdd" else []
        argv += list(self.extra.get(daemon, ()))
        return [*(["ip", "netns", "exec", self.netns] if self.netns else []), *argv]

    def ensure(self, daemons: Iterable[str]) -> tuple[str, ...]:
        need = wanted(daemons)
        self._prepare(need)
        running = self.running()
        for daemon, pid in running.items():
            if daemon not in need:
                stop_pid(pid)
        started = tuple(d for d in need if d not in running)
        for daemon in started:
            self._start(daemon)
        return started

    def stop(self) -> None:
        """Stop every daemon of this run directory (zebra last: it removes its kernel entries)."""
        running = self.running()
        for daemon in sorted(running, key=lambda d: d == "zebra"):
            stop_pid(running[daemon])

    def _prepare(self, need: tuple[str, ...]) -> None:
        if not Path(self.sbindir, "zebra").exists():
            raise RealizeError(
                f"frr: {self.sbindir}/zebra is missing (apt install frr frr-pythontools)", obj="frr"
            )
        try:
            owner = pwd.getpwnam(self.user)
        except KeyError:
            raise RealizeError(
                f'frr: user "{self.user}" does not exist (apt install frr)', obj="frr"
            ) from None
        for d in {self.instance.confdir, self.rundir}:
            d.mkdir(parents=True, exist_ok=True)
            os.chown(d, owner.pw_uid, owner.pw_gid)
            _check_reachable(d, self.user)
        daemons = self.instance.confdir / "daemons"
        old = _read(daemons)
        new = daemons_file_text(old, need, [d for d in enabled_in(old) if d not in need])
        if new != old:
            _write(daemons, new)

    def _start(self, daemon: str) -> None:
        done = subprocess.run(self.argv(daemon), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = _tail(self.rundir / f"{daemon}.log")
            words = (done.stderr.strip() + " " + log).strip()
            raise RealizeError(f"frr: starting {daemon} failed (exit {done.returncode}): {words}", obj="frr")
        vty = self.rundir / f"{daemon}.vty"
        deadline = time.monotonic() + START_TIMEOUT
        while not vty.exists() or self.pid(daemon) is None:
            if time.monotonic() > deadline:
                log = _tail(self.rundir / f"{daemon}.log")
                raise RealizeError(f"frr: {daemon} did not come up in {START_TIMEOUT:g} s: {log}", obj="frr")
            time.sleep(0.01)


def _tail(path: Path, lines: int = 3) -> str:
    return " | ".join(_read(path).strip().splitlines()[-lines:])


def _check_reachable(path: Path, user: str) -> None:
    """FRR's daemons drop to ``user``: every folder above their files must let it through."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & 0o001 and parent.stat().st_uid != pwd.getpwnam(user).pw_uid:
            raise RealizeError(
                f'frr: user "{user}" cannot reach {path}: {parent} is not searchable by others '
                f"(chmod o+x {parent}, or keep FRR's folders elsewhere)",
                obj="frr",
            )


def stop_pid(pid: int) -> None:
    """SIGTERM, then SIGKILL after a while (zebra removes its routes and fdb entries on SIGTERM)."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


# --- choice by name --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class FrrOptions:
    """The agent's FRR options: the way it runs, and where its files are."""

    service: str = "auto"  # auto, systemd, direct, external, off
    confdir: Path = Path("/etc/frr")
    rundir: Path = Path("/var/run/frr")

    def build(self, netns: str | None) -> FrrService | None:
        name = self.service
        if name == "off":
            return None
        if name == "auto":
            name = (
                "systemd" if Path("/run/systemd/system").is_dir() and shutil.which("systemctl") else "direct"
            )
        instance = FrrInstance(confdir=self.confdir, rundir=self.rundir, vty_socket=self.rundir)
        if name == "systemd":
            return SystemdFrr(instance=FrrInstance(confdir=self.confdir, rundir=self.rundir))
        if name == "external":
            return ExternalFrr(instance=FrrInstance(confdir=self.confdir, rundir=self.rundir))
        return DirectFrr(instance=instance, netns=netns)


FRR_SERVICES = ("auto", "systemd", "direct", "external", "off")
