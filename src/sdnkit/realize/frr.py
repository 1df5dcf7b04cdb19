"""Write the node's ``frr.conf`` and reload FRR with ``frr-reload.py``, only when the file changed.

The FRR instance is described by its directories (``research/real-components.md`` §4): the config
dir holding ``frr.conf`` (and ``vtysh.conf``, which gets ``service integrated-vtysh-config``, the
mode frr-reload needs), the run dir for frr-reload's temp files, and the vty socket dir through
which vtysh talks to the daemons. On a PVE host these are ``/etc/frr``, ``/var/run/frr`` and the
default socket dir; in the lab, one private directory per node. vtysh reaches the daemons through
their sockets, so no network namespace needs to be entered.

If the reload fails, the previous ``frr.conf`` is written back and reloaded, so FRR keeps running
what it ran before, and :class:`~sdnkit.errors.RealizeError` (``obj="frr"``) carries frr-reload's
words; when restoring fails as well, :class:`~sdnkit.errors.RollbackError` carries both.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sdnkit.errors import RealizeError, RollbackError

FRR_RELOAD = "/usr/lib/frr/frr-reload.py"
INTEGRATED = "service integrated-vtysh-config"
RELOAD_TIMEOUT = 120.0


@dataclass(frozen=True, slots=True, kw_only=True)
class FrrInstance:
    confdir: Path
    rundir: Path | None = None  # default: confdir
    vty_socket: Path | None = None  # default: FRR's own socket dir
    frr_reload: str = FRR_RELOAD
    bindir: str = "/usr/bin"  # where vtysh is

    @property
    def conf(self) -> Path:
        return self.confdir / "frr.conf"

    def reload_argv(self) -> list[str]:
        argv = [self.frr_reload, "--reload", "--stdout", "--confdir", str(self.confdir)]
        argv += ["--rundir", str(self.rundir or self.confdir), "--bindir", self.bindir]
        if self.vty_socket is not None:
            argv += ["--vty_socket", str(self.vty_socket)]
        return [*argv, str(self.conf)]


@dataclass(frozen=True, slots=True)
class FrrChange:
    """A new frr.conf for an instance, with what to put back if a later step fails."""

    instance: FrrInstance
    before: str | None
    after: str

    def apply(self) -> None:
        apply_frr(self.after, self.instance)

    def undo(self) -> None:
        if self.before is None:
            self.instance.conf.unlink(missing_ok=True)  # the daemons keep running what they run
            return
        apply_frr(self.before, self.instance)

    def describe(self) -> str:
        return f'frr "{self.instance.conf}": write and reload'


def plan_frr(text: str | None, instance: FrrInstance | None) -> FrrChange | None:
    """The FRR change an apply needs: None without an instance or a configuration, or when
    frr.conf already holds ``text``."""
    if instance is None or text is None:
        return None
    before = _read(instance.conf)
    return None if before == text else FrrChange(instance=instance, before=before, after=text)


def apply_frr(text: str, instance: FrrInstance) -> bool:
    """Make ``text`` FRR's running configuration; False when ``frr.conf`` already had it."""
    old = _read(instance.conf)
    if old == text:
        return False
    _ensure_integrated(instance.confdir)
    _write(instance.conf, text)
    try:
        _reload(instance)
    except RealizeError as err:
        _restore(instance, old, err)
        raise
    return True


def _restore(instance: FrrInstance, old: str | None, err: RealizeError) -> None:
    try:
        if old is None:
            instance.conf.unlink(missing_ok=True)  # there was none: nothing to reload
            return
        _write(instance.conf, old)
        _reload(instance)
    except (RealizeError, OSError) as undo_err:
        text = f"{err}; restoring the previous frr.conf failed too: {undo_err}"
        raise RollbackError(text, obj="frr") from err


def _reload(instance: FrrInstance) -> None:
    try:
        done = subprocess.run(
            instance.reload_argv(), capture_output=True, text=True, check=False, timeout=RELOAD_TIMEOUT
        )
    except FileNotFoundError:
        text = f"frr: {instance.frr_reload} is missing (install frr-pythontools)"
        raise RealizeError(text, obj="frr") from None
    except subprocess.TimeoutExpired:
        raise RealizeError(f"frr: frr-reload.py did not finish in {RELOAD_TIMEOUT:g} s", obj="frr") from None
    if done.returncode != 0:
        lines = (done.stdout + done.stderr).splitlines()
        words = " ".join(line.strip() for line in lines if "ERROR" in line) or done.stderr.strip()
        raise RealizeError(f"frr: reloading {instance.conf} failed: {words}", obj="frr")


def _ensure_integrated(confdir: Path) -> None:
    vtysh = confdir / "vtysh.conf"
    text = _read(vtysh) or ""
    if INTEGRATED not in {line.strip() for line in text.splitlines()}:
        separator = "" if not text or text.endswith("\n") else "\n"
        _write(vtysh, f"{text}{separator}{INTEGRATED}\n")


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def _write(path: Path, text: str) -> None:
    """Atomically, keeping the owner of the file it replaces (FRR's daemons read it as frr)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    try:
        st = path.stat()
        os.chown(tmp, st.st_uid, st.st_gid)
        os.chmod(tmp, st.st_mode & 0o7777)
    except FileNotFoundError:
        pass
    tmp.replace(path)
