"""The suite cannot turn green by not running: the rules of tests/conftest.py and ``make test-uml``.

Each check runs the real thing in a subprocess (pytest on a small test file next to copies of the
suite's own conftest.py and prerequisites.py, or ``make test-uml``) once with ``CI`` set and once
without: in CI whatever cannot run fails, naming what is missing; outside CI it is skipped, and
the run says so loudly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from prerequisites import REPO

TESTS = REPO / "tests"
PYTEST = [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider"]

SAMPLE = """
import pytest
from prerequisites import not_applicable, require

pytestmark = pytest.mark.needs("root")  # met: the suite runs as root


def test_runs():
    assert True


@pytest.mark.needs("ts-no-such-tool")
def test_declared_tool_missing():
    raise AssertionError("never reached: the prerequisite is checked first")


def test_required_in_the_body():
    require("/ts/no/such/program")


@pytest.mark.skipif(True, reason="a plain skipif")
def test_plain_skipif():
    pass


def test_not_applicable_here():
    not_applicable("this machine is not the one the test is about")
"""


def _env(ci: str | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    if ci is not None:
        env["CI"] = ci
    return {**env, **extra}


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    return done.returncode, done.stdout + done.stderr


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    for name in ("conftest.py", "prerequisites.py"):
        shutil.copy(TESTS / name, tmp_path / name)
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    (tmp_path / "test_sample_import.py").write_text(
        'import pytest\n\npytest.importorskip("ts_no_such_module")\n\n\ndef test_x():\n    pass\n'
    )
    return tmp_path


def _pytest_sample(sample: Path, ci: str | None, target: str = "test_sample.py") -> tuple[int, str]:
    argv = [*PYTEST, "-c", str(REPO / "pyproject.toml"), "--rootdir", str(sample), "-rA", target]
    return _run(argv, _env(ci), sample)


@pytest.mark.needs("root")
def test_outside_ci_what_cannot_run_is_skipped_and_said_loudly(sample: Path) -> None:
    rc, out = _pytest_sample(sample, None)
    assert rc == 0, out
    assert "1 passed, 4 skipped" in out
    assert "3 TESTS DID NOT RUN (CI=true would fail them)" in out
    assert "ts-no-such-tool is not installed" in out and "/ts/no/such/program is not installed" in out
    assert "a plain skipif" in out


@pytest.mark.needs("root")
@pytest.mark.parametrize("ci", ["true", "1"])
def test_in_ci_every_skip_but_not_applicable_fails(sample: Path, ci: str) -> None:
    rc, out = _pytest_sample(sample, ci)
    assert rc == 1, out
    assert "1 passed, 1 skipped" in out  # the one not-applicable test
    assert "cannot run, and CI runs every test: ts-no-such-tool is not installed" in out
    assert "cannot run, and CI runs every test: /ts/no/such/program is not installed" in out
    assert "skipped, and CI runs every test: a plain skipif" in out
    assert "TESTS DID NOT RUN" not in out


@pytest.mark.parametrize("ci", [None, "true"])
def test_a_module_that_cannot_import_fails_in_ci(sample: Path, ci: str | None) -> None:
    rc, out = _pytest_sample(sample, ci, "test_sample_import.py")
    if ci is None:  # exit 5: no test ran
        assert rc == 5 and "1 skipped" in out and "1 TESTS DID NOT RUN" in out, out
    else:
        assert rc == 2, out  # a collection error: the run stops
        assert "skipped, and CI runs every test: could not import 'ts_no_such_module'" in out


def test_ci_false_is_not_ci(sample: Path) -> None:
    rc, out = _pytest_sample(sample, "false")
    assert rc == 0 and "4 skipped" in out, out


@pytest.mark.needs("pve-fixtures")
@pytest.mark.parametrize("ci", [None, "true"])
def test_missing_upstream_fixtures_fail_in_ci(ci: str | None) -> None:
    """The real fixture tests, pointed at a folder that does not exist."""
    env = _env(ci, SDN_PVE_FIXTURES="/ts-nonexistent/pve-zones")
    rc, out = _run([*PYTEST, "-q", "tests/compat/test_pve_sdn_files.py"], env, REPO)
    assert "upstream fixtures not found in /ts-nonexistent/pve-zones" in out
    if ci is None:
        assert rc == 0 and "1 skipped" in out, out
    else:
        assert rc == 1 and "1 error" in out, out


def test_fixtures_are_found_beside_the_repository_by_default() -> None:
    env = _env(None)
    env.pop("SDN_PVE_FIXTURES", None)
    code = "from prerequisites import pve_fixtures; print(pve_fixtures())"
    rc, out = _run([sys.executable, "-c", code], env, TESTS)
    assert rc == 0 and out.strip() == str(REPO.parent / "shared" / "fixtures" / "pve-zones")


def _fake_uml(root: Path) -> None:
    """A UML install whose kernel exits at once, before any guest starts."""
    linux = root / "usr/bin/linux.uml"
    linux.parent.mkdir(parents=True)
    linux.write_text("#!/bin/sh\necho 'Kernel panic - not syncing: ts fake kernel'\nexit 0\n")
    linux.chmod(0o755)
    overlay = root / "usr/lib/uml/modules/6.1.0/kernel/fs/overlayfs/overlay.ko"
    overlay.parent.mkdir(parents=True)
    overlay.write_bytes(b"")


@pytest.mark.needs("make", "gcc")
@pytest.mark.parametrize("broken", ["absent", "cannot-start"])
@pytest.mark.parametrize("ci", [None, "true"])
def test_make_test_uml_fails_in_ci_when_uml_cannot_start(tmp_path: Path, broken: str, ci: str | None) -> None:
    root = tmp_path / "uml"
    if broken == "cannot-start":
        _fake_uml(root)
    argv = ["make", "--no-print-directory", "-o", "install", "test-uml"]
    rc, out = _run(argv, _env(ci, UML_ROOT=str(root), SDN_CACHE_DIR=str(tmp_path / "cache")), REPO)
    why = "linux.uml not found" if broken == "absent" else "the UML guest did not start"
    assert why in out, out
    if ci is None:
        assert rc == 0 and "test-uml: SKIPPED" in out, out
    else:
        assert rc != 0 and "test-uml: FAILED: UML cannot start here" in out, out
