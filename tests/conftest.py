"""Rules for every test (docs/testing.md): declared prerequisites, no silent skips in CI.

* ``@pytest.mark.needs(...)`` (see ``prerequisites.py``) is checked before a test's fixtures are
  set up: a missing prerequisite skips the test, or fails it when ``CI`` is set.
* When ``CI`` is set, any other skip is a failure too (a ``skipif`` mark, a ``pytest.skip`` in a
  fixture, a module that skips itself), except :func:`prerequisites.not_applicable`.
* Outside CI the run ends with a loud list of the tests that did not run, and why.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # prerequisites.py, fakes/ beside the tests

from prerequisites import NOT_APPLICABLE, in_ci, skip_or_fail, unmet


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("needs"):
        if reason := unmet(*mark.args):
            skip_or_fail(reason)


def _skip_reason(longrepr: Any) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _strict(report: pytest.TestReport | pytest.CollectReport) -> None:
    """In CI, a skip that is not "not applicable" becomes a failure naming its reason."""
    if not (in_ci() and report.skipped) or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report.longrepr)
    if reason.startswith(NOT_APPLICABLE):
        return
    report.outcome = "failed"
    report.longrepr = f"skipped, and CI runs every test: {reason} (docs/testing.md)"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    _strict(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    report = yield
    _strict(report)
    return report


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    _say_the_seed(terminalreporter, config)
    _say_what_did_not_run(terminalreporter)


def _say_the_seed(terminalreporter: Any, config: pytest.Config) -> None:
    """After a failure in random order (pytest-randomly), how to replay that order."""
    seed = getattr(config.option, "randomly_seed", None)
    failed = terminalreporter.stats.get("failed") or terminalreporter.stats.get("error")
    if failed and isinstance(seed, int) and config.pluginmanager.has_plugin("randomly"):
        terminalreporter.write_line(
            f"random test order, seed {seed}: replay with make test SEED={seed}"
            f" (or pytest -p randomly --randomly-seed={seed} ...)",
            yellow=True,
        )


def _say_what_did_not_run(terminalreporter: Any) -> None:
    """Outside CI: say loudly, grouped by reason, which tests did not run."""
    skipped = [r for r in terminalreporter.stats.get("skipped", ()) if not hasattr(r, "wasxfail")]
    reasons = Counter(_skip_reason(r.longrepr) for r in skipped)
    missing = {k: n for k, n in reasons.items() if not k.startswith(NOT_APPLICABLE)}
    if not missing:
        return
    total = sum(missing.values())
    title = f"{total} TESTS DID NOT RUN (CI=true would fail them)"
    terminalreporter.write_sep("!", title, red=True, bold=True)
    for reason, count in sorted(missing.items(), key=lambda kv: -kv[1]):
        terminalreporter.write_line(f"  {count:4d} x {reason}", yellow=True)
