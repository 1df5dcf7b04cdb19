"""Don't-fragment echo probes (``agent/echo.py``) against real namespaces, with ``ping -M do`` as referee.

    A (a0, mtu 1500) ── R (router, forwarding) ── (r1 ↔ b0, mtu 1400) B

From A, a 1400-byte packet reaches B; a 1450-byte one is dropped by R, which answers "fragmentation
needed" (IPv4) / "packet too big" (IPv6) with the next hop's MTU; a 1600-byte one never leaves A
(its own link's MTU); an address nobody has gives no answer.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from sdnkit.agent.echo import Probe, Verdict, probe_all

from .conftest import netns_unavailable, unique_name

pytestmark = pytest.mark.kernel


def _ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True)


@pytest.fixture(scope="module")
def path() -> Iterator[dict[str, str]]:
    if reason := netns_unavailable():
        pytest.fail(reason) if os.environ.get("CI") else pytest.skip(reason)
    base = unique_name("ec")
    a, r, b = f"{base}-a", f"{base}-r", f"{base}-b"
    try:
        for ns in (a, r, b):
            _ip("netns", "add", ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        _ip("link", "add", "a0", "netns", a, "type", "veth", "peer", "name", "r0", "netns", r)
        _ip("link", "add", "r1", "netns", r, "mtu", "1400", "type", "veth", "peer", "name", "b0", "netns", b)
        _ip("-n", b, "link", "set", "b0", "mtu", "1400")
        for ns, dev, v4, v6 in (
            (a, "a0", "10.201.1.1/24", "fd00:201:1::1/64"),
            (r, "r0", "10.201.1.254/24", "fd00:201:1::fe/64"),
            (r, "r1", "10.201.2.254/24", "fd00:201:2::fe/64"),
            (b, "b0", "10.201.2.2/24", "fd00:201:2::2/64"),
        ):
            _ip("-n", ns, "addr", "add", v4, "dev", dev)
            _ip("-n", ns, "addr", "add", v6, "dev", dev, "nodad")
            _ip("-n", ns, "link", "set", dev, "up")
        for ns, gw4, gw6 in ((a, "10.201.1.254", "fd00:201:1::fe"), (b, "10.201.2.254", "fd00:201:2::fe")):
            _ip("-n", ns, "route", "add", "default", "via", gw4)
            _ip("-n", ns, "-6", "route", "add", "default", "via", gw6)
        knobs = ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]
        subprocess.run(["ip", "netns", "exec", r, "sysctl", "-qw", *knobs], check=True)
        yield {"a": a, "b": b}
    finally:
        subprocess.run(["ip", "netns", "del", a], check=False)
        subprocess.run(["ip", "netns", "del", r], check=False)
        subprocess.run(["ip", "netns", "del", b], check=False)


def ping_df(ns: str, target: str, size: int) -> bool:
    """The referee: iputils ping with don't-fragment, ``size`` bytes of IP packet."""
    header = 48 if ":" in target else 28
    argv = ["ip", "netns", "exec", ns, "ping", "-n", "-q", "-M", "do", "-c", "1", "-w", "2"]
    done = subprocess.run([*argv, "-s", str(size - header), target], capture_output=True, check=False)
    return done.returncode == 0


@pytest.mark.parametrize(
    ("source", "router", "target", "unknown"),
    [
        ("10.201.1.1", "10.201.1.254", "10.201.2.2", "10.201.2.99"),
        ("fd00:201:1::1", "fd00:201:1::fe", "fd00:201:2::2", "fd00:201:2::99"),
    ],
    ids=["ipv4", "ipv6"],
)
def test_probes_tell_fits_too_big_and_no_answer(
    path: dict[str, str], source: str, router: str, target: str, unknown: str
) -> None:
    fits, dropped = Probe(source, target, 1400), Probe(source, target, 1450)  # in parallel, same target
    next_hop, local = Probe(source, router, 1500), Probe(source, router, 1600)
    nobody = Probe(source, unknown, 100)
    results = probe_all([fits, dropped, next_hop, local, nobody], netns=path["a"], timeout=3.0)
    assert ping_df(path["a"], target, 1400) and results[fits].verdict is Verdict.OK
    assert not ping_df(path["a"], target, 1450)
    assert (results[dropped].verdict, results[dropped].mtu) == (Verdict.TOO_BIG, 1400)  # R said so
    assert ping_df(path["a"], router, 1500) and results[next_hop].verdict is Verdict.OK
    assert not ping_df(path["a"], router, 1600)
    assert (results[local].verdict, results[local].mtu) == (Verdict.TOO_BIG, 1500)  # A's own link
    assert results[nobody].verdict is Verdict.NO_ANSWER


def test_a_silent_drop_is_no_answer(path: dict[str, str]) -> None:
    """A path that drops big packets without a word (a switch with a smaller MTU) gives no answer
    to the big probe while the small one passes: what the underlay check calls a failure."""
    subprocess.run(
        ["ip", "netns", "exec", path["b"], "iptables", "-w", "-I", "INPUT", "-p", "icmp", "-m", "length",
         "--length", "1300:65535", "-j", "DROP"],
        check=True,
    )  # fmt: skip
    try:
        big, small = Probe("10.201.1.1", "10.201.2.2", 1350), Probe("10.201.1.1", "10.201.2.2", 84)
        results = probe_all([big, small], netns=path["a"], timeout=3.0)
        assert not ping_df(path["a"], "10.201.2.2", 1350) and ping_df(path["a"], "10.201.2.2", 84)
        assert results[big].verdict is Verdict.NO_ANSWER and results[small].verdict is Verdict.OK
    finally:
        subprocess.run(["ip", "netns", "exec", path["b"], "iptables", "-w", "-F", "INPUT"], check=False)
