"""Lab fixtures for kernel tests: a real multi-node namespace lab driven through the real CLI.

Reuse them in any kernel test module::

    @pytest.fixture(scope="module")
    def lab(make_lab):
        return make_lab(nodes=3)               # a fresh store and a lab with a unique name

    @pytest.fixture
    def own_lab(new_lab):                      # a lab for one test that changes it
        return new_lab(nodes=2)

    def test_x(lab):
        lab.create("zones", zone="simple", type="simple")   # SdnService, PVE parameter names
        lab.apply()                            # sdn apply (the service) + sdn lab apply (real agents)
        lab.guest("vm1", node="node1", vnet="vnet1", ip="10.0.1.14/24", gw="10.0.1.1")
        assert lab.ping("vm1", "10.0.1.1")

Every lab of ``make_lab`` is removed when the module ends, of ``new_lab`` when the test ends
(namespaces and agents). What a test needs (kernel features, tools) it declares with
``pytest.mark.needs`` (tests/prerequisites.py).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from prerequisites import require, unmet

_COUNTER = itertools.count()


def unique_name(prefix: str = "k") -> str:
    """A lab name unique to this process and call (lab names: ≤ 16 lower-case letters/digits)."""
    return f"{prefix}{os.getpid() % 100000}n{next(_COUNTER)}"[:16]


def kernel_lacks(feature: str) -> str | None:
    """Why this kernel cannot create ``feature`` links, or None (prefer ``needs("kernel:...")``)."""
    return unmet(f"kernel:{feature}")


def netns_unavailable() -> str | None:
    """Why network namespaces cannot be used here, or None (prefer ``needs("root")``)."""
    return unmet("root", "ip")


def cli(*argv: str) -> tuple[int, str]:
    """The real ``sdn`` command, in this process (its own processes, like agents, are real)."""
    from sdnkit.cli.main import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(list(argv))
    return rc, out.getvalue()


@dataclass
class LabEnv:
    """One lab with its own store directory."""

    name: str
    config_dir: Path
    nodes: int
    _svc: Any = field(default=None, repr=False)

    # configuration ---------------------------------------------------------------------------
    @property
    def svc(self) -> Any:
        if self._svc is None:
            from sdnkit.service import SdnService

            self._svc = SdnService(str(self.config_dir))
        return self._svc

    def create(self, collection: str, **params: Any) -> None:
        self.svc.create(collection, _pve(params))

    def update(self, collection: str, **params: Any) -> None:
        self.svc.update(collection, _pve(params))

    def delete(self, collection: str, **params: Any) -> None:
        self.svc.delete(collection, _pve(params))

    def sdn(self, *argv: str) -> tuple[int, str]:
        return cli("--config-dir", str(self.config_dir), *argv)

    def lab(self, *argv: str) -> tuple[int, str]:
        return self.sdn("lab", *argv, "--name", self.name)

    def apply(self) -> list[dict[str, Any]]:
        """``sdn apply``, then the agent once on every node; fails the test if a node failed."""
        self.svc.apply({})
        rc, out = self.sdn("--output", "json", "lab", "apply", "--name", self.name)
        results = json.loads(out)
        assert rc == 0, f"sdn lab apply failed: {results}"
        return results

    # guests and probes ---------------------------------------------------------------------
    def guest(self, name: str, **opts: Any) -> None:
        argv = ["guest", "add", name]
        for key, value in opts.items():
            argv += [f"--{key}"] if value is True else [f"--{key}", str(value)]
        rc, out = self.lab(*argv)
        assert rc == 0, out

    def netns(self, member: str) -> str:
        return f"{self.name}-{member}" if member in self.members() else f"{self.name}-g-{member}"

    def members(self) -> tuple[str, ...]:
        return (*(f"node{i}" for i in range(1, self.nodes + 1)), "outside", "sw")

    def run(
        self, member: str, *argv: str, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``argv`` inside a member's namespace (a node, a guest, ``outside`` or ``sw``)."""
        return subprocess.run(
            ["ip", "netns", "exec", self.netns(member), *argv],
            capture_output=True, text=True, check=check, input=input,
        )  # fmt: skip

    def ping(
        self, member: str, target: str, *, size: int | None = None, df: bool = False, wait: int = 2
    ) -> bool:
        """Whether ``member`` gets an echo reply from ``target`` within ``wait`` (whole) seconds."""
        argv = ["ping", "-n", "-q", "-c", "1", "-i", "0.2", "-w", str(wait)]
        argv += ["-s", str(size)] if size is not None else []
        argv += ["-M", "do"] if df else []
        return self.run(member, *argv, target, check=False).returncode == 0

    def links(self, node: str) -> dict[str, dict[str, Any]]:
        """``ip -j -d link show`` of a node, by name."""
        out = self.run(node, "ip", "-j", "-d", "link", "show").stdout
        return {lk["ifname"]: lk for lk in json.loads(out)}


def _pve(params: dict[str, Any]) -> dict[str, Any]:
    """Python keyword names to PVE parameter names (``isolate_ports`` -> ``isolate-ports``)."""
    return {k.replace("_", "-"): v for k, v in params.items()}


@pytest.fixture(scope="session")
def lab_root() -> Iterator[Path]:
    """All labs of this test session keep their state here (never the default /run/sdnkit/lab).
    Not below pytest's 0700 folder: the nodes' FRR daemons (user frr) keep their files here."""
    root = Path(tempfile.mkdtemp(prefix="sdnkit-labs-"))
    root.chmod(0o755)
    old = os.environ.get("SDN_LAB_DIR")
    os.environ["SDN_LAB_DIR"] = str(root)
    yield root
    if old is None:
        os.environ.pop("SDN_LAB_DIR", None)
    else:
        os.environ["SDN_LAB_DIR"] = old
    shutil.rmtree(root, ignore_errors=True)


class LabFactory:
    """Makes labs with unique names and fresh stores; ``close()`` takes every one of them down."""

    def __init__(self, lab_root: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.lab_root = lab_root
        self.tmp = tmp_path_factory
        self.made: list[LabEnv] = []

    def __call__(self, nodes: int = 3, kernel: str = "host") -> LabEnv:
        env = LabEnv(name=unique_name(), config_dir=self.tmp.mktemp("sdn"), nodes=nodes)
        self.made.append(env)  # before `lab up`: a half-made lab is taken down too
        rc, out = env.sdn("lab", "up", "--nodes", str(nodes), "--name", env.name, "--kernel", kernel)
        assert rc == 0, out
        return env

    def close(self) -> None:
        for env in self.made:
            if (self.lab_root / env.name / "state.json").exists():
                env.sdn("lab", "down", "--name", env.name)


@pytest.fixture(scope="module")
def make_lab(lab_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabFactory]:
    """``make_lab(nodes=3, kernel="host")`` -> LabEnv; every lab is taken down after the module.

    For labs that tests only read (or that each test extends in its own, separate way).
    """
    require("root", "ip")
    factory = LabFactory(lab_root, tmp_path_factory)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def new_lab(lab_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabFactory]:
    """Like ``make_lab``, but every lab is taken down after the test: for tests that change a lab."""
    require("root", "ip")
    factory = LabFactory(lab_root, tmp_path_factory)
    try:
        yield factory
    finally:
        factory.close()
