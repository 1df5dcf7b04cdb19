"""What a test needs to run, and what happens when it is missing (docs/testing.md).

Outside CI a test whose prerequisite is missing is skipped, and the run's summary says loudly what
did not run. When ``CI`` is set (``CI=true make test``), it fails instead: CI must never turn green
by not running a test. Declare what a test needs in one of three ways::

    pytestmark = pytest.mark.needs("root", "dnsmasq", "busybox")   # a module (or a class/test)

    @pytest.mark.needs("kernel:vlan")                                # one test
    def test_x(): ...

    require("pdns_server")                                           # inside a fixture or test

Only a test that does not apply to this machine at all (a refusal that this kernel cannot
provoke, a duplicate case) may skip in CI, and it says so: ``not_applicable(reason)``.

Names :func:`unmet` understands: ``root``; a program on ``PATH`` (``dnsmasq``) or an absolute path
(``/usr/lib/frr/zebra``); ``kernel:<feature>`` (a link kind of ``sdnkit.lab.probe``);
``uml`` (the User-Mode-Linux kernel is installed); ``pve-fixtures`` (upstream's test cases);
``ifupdown2`` (Debian's ifupdown2, unpacked by ``scripts/ifupdown2.sh``).
"""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[1]
NOT_APPLICABLE = "not applicable: "  # the one skip reason CI accepts


def in_ci() -> bool:
    """Whether this run is CI's: ``CI`` set to anything but an empty, 0, false, no or off value."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


def pve_fixtures() -> Path:
    """Upstream's zone test cases: ``$SDN_PVE_FIXTURES``, else ``../shared/fixtures/pve-zones``."""
    return Path(os.environ.get("SDN_PVE_FIXTURES") or REPO.parent / "shared" / "fixtures" / "pve-zones")


def pve_cases(required_file: str = "running-config.json") -> list[Path]:
    """The fixture case folders (``<type>/<case>``) holding ``required_file``, sorted."""
    return sorted(p for p in pve_fixtures().glob("*/*") if (p / required_file).is_file())


def skip_or_fail(reason: str) -> NoReturn:
    """The test cannot run here: skip it, or fail it when this is CI."""
    if in_ci():
        pytest.fail(f"cannot run, and CI runs every test: {reason} (docs/testing.md)", pytrace=False)
    pytest.skip(reason)


def not_applicable(reason: str) -> NoReturn:
    """The test does not apply to this machine (not: cannot run); the only skip CI accepts."""
    pytest.skip(NOT_APPLICABLE + reason)


def not_applicable_mark(reason: str) -> pytest.MarkDecorator:
    """:func:`not_applicable` as a mark, for ``pytest.param(..., marks=...)``."""
    return pytest.mark.skip(reason=NOT_APPLICABLE + reason)


# programs scripts/install-deps.sh installs -> their Debian package (for the message)
PACKAGES = {
    "ip": "iproute2",
    "bridge": "iproute2",
    "nft": "nftables",
    "iptables-legacy": "iptables",
    "ping": "iputils-ping",
    "busybox": "busybox",
    "dhclient": "isc-dhcp-client",
    "vtysh": "frr",
    "/usr/lib/frr/zebra": "frr",
    "/usr/lib/frr/bgpd": "frr",
    "/usr/lib/frr/frr-reload.py": "frr-pythontools",
    "dnsmasq": "dnsmasq-base",
    "pdns_server": "pdns-server",
    "sqlite3": "sqlite3",
    "dig": "dnsutils",
    "etcd": "etcd-server",
    "etcdctl": "etcd-client",
    "linux.uml": "user-mode-linux",
    "tcpdump": "tcpdump",
    "gcc": "gcc",
    "openssl": "openssl",
    "curl": "curl",
}


def _tool(name: str) -> str | None:
    found = os.access(name, os.X_OK) if name.startswith("/") else shutil.which(name) is not None
    if found:
        return None
    package = PACKAGES.get(name)
    hint = f" (Debian package {package}: make install)" if package else ""
    return f"{name} is not installed{hint}"


@functools.cache
def _kernel(feature: str) -> str | None:
    if reason := _root():
        return reason
    from sdnkit.lab.probe import missing

    refused = missing([feature]).get(feature)
    return f"this kernel has no {feature} support ({refused}); the test runs inside UML" if refused else None


def _root() -> str | None:
    return None if os.geteuid() == 0 else "needs root for network namespaces"


def _uml() -> str | None:
    from sdnkit.lab.uml import UmlKernel, UmlUnavailable

    try:
        UmlKernel.find()
    except UmlUnavailable as err:
        return f"User-Mode-Linux is not available: {err}"
    return None


@functools.cache
def _ifupdown2() -> str | None:
    """Debian's ifupdown2, unpacked by scripts/ifupdown2.sh (make install does it once)."""
    import subprocess

    script = REPO / "scripts" / "ifupdown2.sh"
    done = subprocess.run([str(script), "prepare"], capture_output=True, text=True, check=False)
    if done.returncode == 0:
        return None
    if "apt-get download ifupdown2 failed" in done.stderr:
        return f"ifupdown2 is not available: {done.stderr.strip()} (make install)"
    raise AssertionError(f"scripts/ifupdown2.sh prepare failed: {done.stderr.strip()}")  # a bug, not a skip


def _fixtures() -> str | None:
    if pve_cases():
        return None
    return f"upstream fixtures not found in {pve_fixtures()} (set SDN_PVE_FIXTURES to their folder)"


def unmet(*needs: str) -> str | None:
    """Why the first of ``needs`` that this machine lacks is missing, or None when all are there."""
    for need in needs:
        if need == "root":
            reason = _root()
        elif need == "uml":
            reason = _uml()
        elif need == "pve-fixtures":
            reason = _fixtures()
        elif need == "ifupdown2":
            reason = _ifupdown2()
        elif need.startswith("kernel:"):
            reason = _kernel(need.removeprefix("kernel:"))
        else:
            reason = _tool(need)
        if reason:
            return reason
    return None


def require(*needs: str) -> None:
    """Skip (outside CI) or fail (in CI) unless every one of ``needs`` is there."""
    if reason := unmet(*needs):
        skip_or_fail(reason)


def pve_case_params(required_file: str = "running-config.json") -> list[object]:
    """:func:`pve_cases` as ``pytest.param`` values with ``<type>/<case>`` ids.

    Without fixtures this is one ``None`` case, so that a test marked ``needs("pve-fixtures")``
    reports the missing folder (a skip, or a failure in CI) instead of an empty parameter set.
    """
    cases = pve_cases(required_file)
    if not cases:
        return [pytest.param(None, id="pve-fixtures-missing")]
    return [pytest.param(c, id=f"{c.parent.name}/{c.name}") for c in cases]
