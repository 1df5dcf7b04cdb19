"""Run a block of code inside a named network namespace, in the calling thread only.

The network namespace is a per-thread attribute in Linux: ``setns(CLONE_NEWNET)`` moves just the
calling thread, and everything it does afterwards sees that namespace — the ``ip``/``bridge``/
``nft`` processes it starts and the files it opens below ``/proc/sys/net``. So several threads can
realize several lab nodes at once. (``/sys/class/net`` would still show the mount-time namespace;
the realizer never reads it.)
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sdnkit.errors import RealizeError

CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = Path("/run/netns")

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int, what: str) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise RealizeError(f'netns "{what}": cannot enter: {os.strerror(err)}', obj=what)


@contextmanager
def entered(netns: str | None) -> Iterator[None]:
    """Enter ``netns`` (a name under /run/netns) for the block; ``None`` stays where we are."""
    if netns is None:
        yield
        return
    if "/" in netns or netns in ("", ".", ".."):
        raise RealizeError(f'netns "{netns}": invalid name', obj=netns)
    try:
        target = os.open(NETNS_RUN_DIR / netns, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as err:
        raise RealizeError(f'netns "{netns}": not found: {err.strerror}', obj=netns) from err
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(target, netns)
        try:
            yield
        finally:
            _setns(home, "(original)")
    finally:
        os.close(target)
        os.close(home)
