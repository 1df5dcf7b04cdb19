"""Apply the DHCP instances of a plan: write files, and start, reload or restart only what changed.

For each planned instance the files are rendered and compared with what is on disk:

* nothing differs and the process runs: nothing happens (an unrelated change never interrupts DHCP);
* only ``ethers`` (the static mappings) differs: it is replaced atomically and dnsmasq gets SIGHUP;
* a configuration file differs, or the process is not running (first start, crash): restart.

Instances no longer planned on this node are stopped and their generated files removed (the lease
file stays, and so do an operator's own ``90-*.conf`` files and the folder holding them).
Everything is undone when a step fails: files get their old content back and the instances their
old process state, so a configuration dnsmasq refuses leaves the old server running.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from sdnkit.dhcp import server_for
from sdnkit.dhcp.base import DhcpServer, DhcpSettings
from sdnkit.errors import RollbackError, SdnError
from sdnkit.plan.desired import DhcpHost, DhcpInstance
from sdnkit.render.dnsmasq import DEFAULT_CONF, HEADER, HOSTS_FILE, render_hosts

__all__ = ["DhcpAction", "DhcpChange", "apply_dhcp", "managed_zones", "sync_hosts"]


class DhcpAction(StrEnum):
    NONE = "none"
    START = "start"
    RELOAD = "reload"
    RESTART = "restart"
    STOP = "stop"


@dataclass(frozen=True, slots=True)
class DhcpChange:
    zone: str
    action: DhcpAction
    files: tuple[str, ...] = ()  # files written or removed


Files = dict[str, str | None]  # name → content (None: absent)
# wraps an undo step so that its failure is recorded instead of raised
Guard = Callable[[Callable[..., object]], Callable[..., None]]


def _ours(path: Path) -> bool:
    try:
        with path.open() as fh:
            return fh.readline() == HEADER.splitlines()[0] + "\n"
    except OSError:
        return False


def managed_zones(settings: DhcpSettings) -> list[str]:
    """Zones with an instance folder written by us."""
    root = settings.paths.conf_root
    if not root.is_dir():
        return []
    return sorted(d.name for d in root.iterdir() if _ours(d / DEFAULT_CONF))


def _current_files(conf_dir: Path) -> Files:
    """Our files in an instance folder (operator files lack our header and are left alone)."""
    if not conf_dir.is_dir():
        return {}
    return {p.name: p.read_text() for p in sorted(conf_dir.iterdir()) if p.is_file() and _ours(p)}


def _write(path: Path, text: str | None) -> None:
    """Replace ``path`` atomically (None: delete it)."""
    if text is None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _write_files(conf_dir: Path, files: Files, undo: ExitStack, guard: Guard) -> None:
    old = _current_files(conf_dir)
    for name, text in files.items():
        _write(conf_dir / name, text)
        undo.callback(guard(_write), conf_dir / name, old.get(name))


def _restore_process(server: DhcpServer, zone: str, was_running: bool) -> None:
    server.stop(zone)
    if was_running:
        server.start(zone)


def _apply_instance(
    server: DhcpServer, settings: DhcpSettings, inst: DhcpInstance, undo: ExitStack, guard: Guard
) -> DhcpChange:
    conf_dir = settings.paths.conf_dir(inst.zone)
    want = dict(server.render(inst))
    have = _current_files(conf_dir)
    changed: Files = {n: t for n, t in want.items() if have.get(n) != t}
    changed.update({n: None for n in have if n not in want})
    running = server.pid(inst.zone) is not None
    if not changed and running:
        return DhcpChange(inst.zone, DhcpAction.NONE)
    files = tuple(sorted(changed))
    hosts = (have.get(HOSTS_FILE, ""), want.get(HOSTS_FILE, ""))
    blocked = running and bool(server.blocking_leases(inst.zone, *hosts))
    # undo runs last-in first-out: the process is restored after the old files are back
    if running and not blocked and all(server.reload_only(n) for n in changed):
        undo.callback(guard(server.reload), inst.zone)
        _write_files(conf_dir, changed, undo, guard)
        server.reload(inst.zone)
        return DhcpChange(inst.zone, DhcpAction.RELOAD, files)
    undo.callback(guard(_restore_process), server, inst.zone, running)
    _write_files(conf_dir, changed, undo, guard)
    if blocked:
        server.restart_dropping(inst.zone, *hosts)
    else:
        server.stop(inst.zone)
        server.start(inst.zone)
    return DhcpChange(inst.zone, DhcpAction.RESTART if running else DhcpAction.START, files)


def _remove_instance(
    server: DhcpServer, settings: DhcpSettings, zone: str, undo: ExitStack, guard: Guard
) -> DhcpChange:
    conf_dir = settings.paths.conf_dir(zone)
    running = server.pid(zone) is not None
    server.stop(zone)
    undo.callback(guard(_restore_process), server, zone, running)
    old = _current_files(conf_dir)
    _write_files(conf_dir, dict.fromkeys(old), undo, guard)
    with contextlib.suppress(OSError):
        conf_dir.rmdir()  # only when empty: an operator's own files keep the folder
    return DhcpChange(zone, DhcpAction.STOP, tuple(sorted(old)))


def apply_dhcp(
    instances: Iterable[DhcpInstance], settings: DhcpSettings, *, server: DhcpServer | None = None
) -> tuple[DhcpChange, ...]:
    """Converge the node's DHCP servers to ``instances`` (all of them, or none on failure)."""
    instances = sorted(instances, key=lambda i: i.zone)
    failures: list[BaseException] = []

    def guard(fn: Callable[..., object]) -> Callable[..., None]:
        def run(*args: object) -> None:
            try:
                fn(*args)
            except Exception as err:  # an undo step failed: keep going, report at the end
                failures.append(err)

        return run

    changes: list[DhcpChange] = []
    try:
        with ExitStack() as undo:
            for inst in instances:
                srv = server or server_for(inst.plugin, settings)
                changes.append(_apply_instance(srv, settings, inst, undo, guard))
            wanted = {i.zone for i in instances}
            for zone in managed_zones(settings):
                if zone not in wanted:
                    changes.append(
                        _remove_instance(
                            server or server_for("dnsmasq", settings), settings, zone, undo, guard
                        )
                    )
            undo.pop_all()
    except SdnError as err:
        if failures:
            rollback = RollbackError(f"dhcp: {err}; undoing it failed too: {failures[0]}", obj=err.obj)
            for failure in failures:
                rollback.add_note(f"undo failed: {failure}")
            raise rollback from err
        raise
    return tuple(changes)


def sync_hosts(
    zone: str, hosts: Iterable[DhcpHost], settings: DhcpSettings, server: DhcpServer | None = None
) -> DhcpAction:
    """Update only the static mappings of a configured instance (port add/del): a reload, or a
    restart when an address moves to another MAC while its old lease stands.

    Returns NONE when the zone has no instance on this node or nothing changed.
    """
    conf_dir = settings.paths.conf_dir(zone)
    if not _ours(conf_dir / DEFAULT_CONF):
        return DhcpAction.NONE
    text = render_hosts(hosts)
    path = conf_dir / HOSTS_FILE
    old = path.read_text() if path.exists() else ""
    if old == text:
        return DhcpAction.NONE
    _write(path, text)
    server = server or server_for("dnsmasq", settings)
    if server.pid(zone) is None:
        return DhcpAction.NONE  # the next apply starts it with these mappings
    if server.blocking_leases(zone, old, text):  # an address a deleted port still holds
        server.restart_dropping(zone, old, text)
        return DhcpAction.RESTART
    server.reload(zone)
    return DhcpAction.RELOAD


def read_hosts(zone: str, settings: DhcpSettings) -> Mapping[str, str]:
    """The MAC → line mappings currently on disk (diagnostics, tests)."""
    path = settings.paths.hosts_file(zone)
    if not path.exists():
        return {}
    lines = [ln for ln in path.read_text().splitlines() if ln and not ln.startswith("#")]
    return {ln.split(",", 1)[0]: ln for ln in lines}
