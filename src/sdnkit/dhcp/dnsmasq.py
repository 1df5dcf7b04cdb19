"""The dnsmasq DHCP server: one process per zone and node, started and watched by us.

No system service is needed (Debian's ``dnsmasq-base`` is enough): each instance runs as

    [ip netns exec <ns>] [ip vrf exec <vrf>] dnsmasq --conf-file=/dev/null
        --conf-dir=<zone dir>,*.conf --pid-file=<run>/dnsmasq.<zone>.pid
        --log-facility=<run>/dnsmasq.<zone>.log --user=… --group=…

``--conf-file=/dev/null`` keeps ``/etc/dnsmasq.conf`` out. An instance whose vnets are in a VRF
(the ``vrf`` file of its folder) runs under ``ip vrf exec <vrf>``: with several vnets dnsmasq
cannot bind its DHCP socket to one bridge, and an unbound socket outside the VRF never sees
them. dnsmasq daemonises and reports start-up errors through its exit code, so a bad
configuration fails :meth:`Dnsmasq.start` with dnsmasq's own message. A process is ours when
its command line names our pid file: a stale pid file whose pid was reused by another process
is never signalled.

Reload: SIGHUP makes dnsmasq re-read ``dhcp-hostsfile`` (the ``ethers`` mappings) without
dropping leases or sockets. Any other file needs a restart, and so does a mapping that gives an
address still leased to another MAC (a deleted port's): dnsmasq does not re-read its lease file,
so the lease is dropped from the file while the process is stopped (``dnsmasq_leases``).
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from sdnkit.dhcp.base import DhcpSettings
from sdnkit.dhcp.dnsmasq_leases import blocking_leases, without_lines
from sdnkit.errors import RealizeError
from sdnkit.plan.desired import DhcpInstance
from sdnkit.render.dnsmasq import HOSTS_FILE, VRF_FILE, render_instance

__all__ = ["Dnsmasq"]

START_TIMEOUT = 10.0
_IFNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,14}")
STOP_TIMEOUT = 5.0


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class Dnsmasq:
    """Runs the dnsmasq instances of one node (see the module docstring)."""

    def __init__(self, settings: DhcpSettings) -> None:
        self.settings = settings
        self.paths = settings.paths

    def render(self, inst: DhcpInstance) -> Mapping[str, str]:
        return render_instance(
            inst,
            self.paths.conf_dir(inst.zone),
            self.paths.lease_file(inst.zone),
            dynamic=self.settings.dynamic,
        )

    def reload_only(self, name: str) -> bool:
        return name == HOSTS_FILE

    def vrf(self, zone: str) -> str | None:
        """The VRF the instance runs in (the ``vrf`` file of its folder), None: the default one."""
        try:
            lines = (self.paths.conf_dir(zone) / VRF_FILE).read_text().splitlines()
        except FileNotFoundError:
            return None
        name = lines[-1].strip() if lines else ""
        if not _IFNAME.fullmatch(name):
            raise RealizeError(f'dhcp zone "{zone}": bad VRF name {name!r} in {VRF_FILE}', obj=zone)
        return name

    def argv(self, zone: str) -> list[str]:
        user = pwd.getpwnam(self.settings.user)
        group = grp.getgrgid(user.pw_gid).gr_name
        argv = [
            self.settings.binary,
            "--conf-file=/dev/null",
            f"--conf-dir={self.paths.conf_dir(zone)},*.conf",
            f"--pid-file={self.paths.pid_file(zone)}",
            f"--log-facility={self.paths.log_file(zone)}",
            f"--user={user.pw_name}",
            f"--group={group}",
        ]
        if self.settings.log_dhcp:
            argv.append("--log-dhcp")
        vrf = self.vrf(zone)
        if vrf:  # every socket of the process is bound to the VRF (cgroup), so it sees all its bridges
            argv = ["ip", "vrf", "exec", vrf, *argv]
        if self.settings.netns:
            return ["ip", "netns", "exec", self.settings.netns, *argv]
        return argv

    def pid(self, zone: str) -> int | None:
        pid_file = self.paths.pid_file(zone)
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if _alive(pid) and f"--pid-file={pid_file}" in _cmdline(pid):
            return pid
        return None

    def _prepare(self, zone: str) -> None:
        for folder in (self.paths.run_dir, self.paths.lease_dir):
            folder.mkdir(parents=True, exist_ok=True)
        lease = self.paths.lease_file(zone)
        if not lease.exists():
            lease.touch(mode=0o644)
        user = pwd.getpwnam(self.settings.user)
        # dnsmasq rewrites the lease file and log after dropping privileges to this user
        for path in (lease, self.paths.log_file(zone)):
            path.touch(exist_ok=True)
            os.chown(path, user.pw_uid, user.pw_gid)

    def start(self, zone: str) -> int:
        self._prepare(zone)
        with contextlib.suppress(FileNotFoundError):
            self.paths.pid_file(zone).unlink()
        try:
            proc = subprocess.run(
                self.argv(zone), check=False, capture_output=True, text=True, timeout=START_TIMEOUT
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            raise RealizeError(f'dhcp zone "{zone}": cannot start dnsmasq: {err}', obj=zone) from err
        if proc.returncode != 0:
            reason = (proc.stderr or proc.stdout).strip() or f"exit code {proc.returncode}"
            raise RealizeError(f'dhcp zone "{zone}": dnsmasq refused to start: {reason}', obj=zone)
        if not _wait(lambda: self.pid(zone) is not None, START_TIMEOUT):
            raise RealizeError(f'dhcp zone "{zone}": dnsmasq started but wrote no pid file', obj=zone)
        pid = self.pid(zone)
        assert pid is not None
        return pid

    def blocking_leases(self, zone: str, old_hosts: str, new_hosts: str) -> list[str]:
        """The leases that would keep the new mappings from being served (see the module doc)."""
        try:
            text = self.paths.lease_file(zone).read_text()
        except FileNotFoundError:
            return []
        return blocking_leases(text, old_hosts, new_hosts)

    def restart_dropping(self, zone: str, old_hosts: str, new_hosts: str) -> None:
        """Stop, remove the blocking leases from the lease file (as written on exit), start."""
        self.stop(zone)
        lease = self.paths.lease_file(zone)
        with contextlib.suppress(FileNotFoundError):
            text = lease.read_text()
            tmp = lease.with_name(f".{lease.name}.tmp")
            tmp.write_text(without_lines(text, blocking_leases(text, old_hosts, new_hosts)))
            os.replace(tmp, lease)
        self.start(zone)

    def reload(self, zone: str) -> None:
        pid = self.pid(zone)
        if pid is None:
            raise RealizeError(f'dhcp zone "{zone}": dnsmasq is not running, cannot reload', obj=zone)
        os.kill(pid, signal.SIGHUP)

    def stop(self, zone: str) -> None:
        pid = self.pid(zone)
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            if not _wait(lambda: not _alive(pid), STOP_TIMEOUT):
                os.kill(pid, signal.SIGKILL)
                _wait(lambda: not _alive(pid), STOP_TIMEOUT)
        with contextlib.suppress(FileNotFoundError):
            self.paths.pid_file(zone).unlink()
