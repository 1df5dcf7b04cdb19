"""Processes the lab starts to outlive the call that starts them: agents, DHCP clients, UML.

Their ``Popen`` handles are kept here for as long as this process lives, and stopping one reaps
it through its handle: no zombie, and no handle dropped while its process runs (Python reports
that as a leak, a ``ResourceWarning``). A process that an earlier command started (another
``sdn`` process) has no handle here; it is stopped by its pid as before.
"""

from __future__ import annotations

import contextlib
import subprocess

_KEPT: dict[int, subprocess.Popen[bytes]] = {}


def keep(proc: subprocess.Popen[bytes]) -> int:
    """Hold ``proc``'s handle until :func:`forget`; returns its pid."""
    _KEPT[proc.pid] = proc
    return proc.pid


def forget(pid: int, wait: float = 0.0) -> None:
    """Reap a kept process that has been told to stop (waiting up to ``wait`` s), drop its handle.

    A process whose ``/proc/<pid>/cmdline`` is already empty may still be exiting: wait for it.
    """
    proc = _KEPT.pop(pid, None)
    if proc is None:
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=wait) if wait else proc.poll()
