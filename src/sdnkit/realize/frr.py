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
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sdnkit.errors import RealizeError, RollbackError

if TYPE_CHECKING:
    from sdnkit.realize.frr_service import FrrService

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

    def reload_argv(self, mode: str = "--reload") -> list[str]:
        """frr-reload.py's arguments: ``--reload`` applies the file, ``--test`` prints what differs."""
        argv = [self.frr_reload, mode, "--stdout", "--confdir", str(self.confdir)]
        argv += ["--rundir", str(self.rundir or self.confdir), "--bindir", self.bindir]
        if self.vty_socket is not None:
            argv += ["--vty_socket", str(self.vty_socket)]
        return [*argv, str(self.conf)]


@dataclass(frozen=True, slots=True)
class FrrChange:
    """A new frr.conf for an FRR service, with what to put back if a later step fails."""

    service: FrrService
    before: str | None
    after: str
    daemons: tuple[str, ...] = ()

    @property
    def instance(self) -> FrrInstance:
        return self.service.instance

    def apply(self) -> None:
        started = self.service.ensure(self.daemons)
        apply_frr(self.after, self.instance, force=bool(started), fresh="zebra" in started)

    def undo(self) -> None:
        if self.before is None:
            self.instance.conf.unlink(missing_ok=True)  # the daemons keep running what they run
            return
        apply_frr(self.before, self.instance)

    def describe(self) -> str:
        return f'frr "{self.instance.conf}": start the missing daemons, write and reload'


def plan_frr(
    text: str | None, frr: FrrService | FrrInstance | None, daemons: tuple[str, ...] = ()
) -> FrrChange | None:
    """The FRR change an apply needs: None without FRR or a configuration, or when frr.conf
    already holds ``text`` and the daemons it needs run."""
    if frr is None or text is None:
        return None
    service = as_service(frr)
    before = _read(service.instance.conf)
    if before == text and not service.missing(daemons):
        return None
    return FrrChange(service=service, before=before, after=text, daemons=daemons)


def as_service(frr: FrrService | FrrInstance) -> FrrService:
    """An instance alone: its daemons are run by someone else (only write and reload)."""
    if isinstance(frr, FrrInstance):
        from sdnkit.realize.frr_service import ExternalFrr

        return ExternalFrr(instance=frr)
    return frr


def apply_frr(text: str, instance: FrrInstance, *, force: bool = False, fresh: bool = False) -> bool:
    """Make ``text`` FRR's running configuration; False when ``frr.conf`` already had it (and
    ``force`` is off: daemons just started need it loaded all the same). ``fresh``: every daemon
    has just started, empty, so the file is loaded as FRR's init loads it at boot (``vtysh -b``,
    one process); only if FRR objects does the full reload run, to name what it refused."""
    old = _read(instance.conf)
    if old == text and not force:
        return False
    _ensure_integrated(instance.confdir)
    _write(instance.conf, text)
    if fresh and _boot_load(instance):
        return True
    try:
        _reload(instance)
    except RealizeError as err:
        if old != text:  # a forced load of the same file has nothing older to go back to
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


def _boot_load(instance: FrrInstance) -> bool:
    """``vtysh -b``: load frr.conf into daemons that run nothing yet; whether FRR took all of it
    (it says ``% ...`` for every line it refuses, even when it exits 0)."""
    argv = [f"{instance.bindir}/vtysh", "-b", "--config_dir", str(instance.confdir)]
    argv += ["--vty_socket", str(instance.vty_socket)] if instance.vty_socket is not None else []
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=RELOAD_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return False
    said = (done.stdout + done.stderr).splitlines()
    return done.returncode == 0 and not any(line.lstrip().startswith("%") or ": %" in line for line in said)


def _run_reload(instance: FrrInstance, mode: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            instance.reload_argv(mode), capture_output=True, text=True, check=False, timeout=RELOAD_TIMEOUT
        )
    except FileNotFoundError:
        text = f"frr: {instance.frr_reload} is missing (install frr-pythontools)"
        raise RealizeError(text, obj="frr") from None
    except subprocess.TimeoutExpired:
        raise RealizeError(f"frr: frr-reload.py did not finish in {RELOAD_TIMEOUT:g} s", obj="frr") from None


def _reload(instance: FrrInstance) -> None:
    """Apply frr.conf, then check that FRR took every line: frr-reload.py exits 0 even when a
    daemon refuses a command (or the daemon for it does not run), so a ``--test`` run that still
    finds lines to add is FRR's refusal."""
    done = _run_reload(instance, "--reload")
    if done.returncode != 0:
        words, blocks = refusal(done.stdout + done.stderr, _read(instance.conf) or "")
        raise RealizeError(f"frr: reloading {instance.conf} failed: {words}", obj="frr", value=blocks)
    left = lines_to_add(_run_reload(instance, "--test").stdout)
    if left:
        shown = "; ".join(left[:5]) + (f" (and {len(left) - 5} more)" if len(left) > 5 else "")
        raise RealizeError(
            f"frr: FRR did not take {len(left)} line(s) of {instance.conf}: {shown}", obj="frr", value=left
        )


# lines frr-reload.py always reports as different (FRR keeps its own version and hostname)
ALWAYS_DIFFERENT = re.compile(r"^(frr version |hostname |line vty$|end$)")
VTYSH_ERROR = re.compile(r"line (\d+): (% .*)")


def lines_to_add(test_output: str) -> list[str]:
    """The "Lines To Add" of ``frr-reload.py --test``, each with its context (``a > b > c``)."""
    _, found, rest = test_output.partition("Lines To Add\n============\n")
    groups: list[list[str]] = []
    for line in rest.splitlines() if found else ():
        if not line.strip():
            continue
        if not line.startswith(" ") or not groups:
            groups.append([])
        groups[-1].append(line.strip())
    return [" > ".join(g) for g in groups if not ALWAYS_DIFFERENT.match(g[0])]


def refusal(output: str, conf: str) -> tuple[str, list[str]]:
    """FRR's words from a failed reload, and each refused line with its block (``a > b``)."""
    lines = conf.splitlines()
    words, blocks = [], []
    for m in VTYSH_ERROR.finditer(output):
        number = int(m.group(1))
        said = m.group(2).split("\\n")[0].rstrip("'").strip()  # vtysh's words come as a bytes repr
        words.append(f"line {number}: {said}")
        if 0 < number <= len(lines):
            blocks.append(_in_block(lines, number - 1))
    if not words:
        words = [line.strip() for line in output.splitlines() if "ERROR" in line]
    return " ".join(words) or output.strip()[-500:], blocks


def _in_block(lines: list[str], index: int) -> str:
    """Line ``index`` with the headers of the blocks it is in."""
    path = [lines[index].strip()]
    indent = len(lines[index]) - len(lines[index].lstrip())
    for line in reversed(lines[:index]):
        depth = len(line) - len(line.lstrip())
        if line.strip() and not line.strip().startswith("!") and depth < indent:
            path.insert(0, line.strip())
            indent = depth
    return " > ".join(path)


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
