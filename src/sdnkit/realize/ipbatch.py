"""Run changes against the kernel with as few processes as possible, and undo them.

Consecutive ``ip`` steps go to one ``ip -batch -`` process and consecutive ``bridge`` steps to one
``bridge -batch -`` (measured in bench/README.md: for 1000 VXLAN vnets this is about 3.5x faster
than pyroute2 request by request, and it needs no Python import). Without ``-force`` iproute2 stops
at the first refused line and says which (``Command failed -:N``), so we know exactly which
changes were made. Sysctls are written in-process; the few steps whose arguments cannot go
through a batch line (an alias with blanks or '#') run as their own command.

:class:`Transaction` remembers the changes that completed; ``rollback()`` runs their undo steps
in reverse order, with ``-force`` so that one failing undo does not stop the others, and returns
the failures.

Test hook (fault tests only, ``tests/kernel/test_cluster_faults.py``): when ``SDN_TEST_HOLD_FILE``
names a file that exists, :func:`run_steps` stops between two batches of one transaction until
the file is removed, and shows that it does by a file ``<that file>.<pid>`` meanwhile. A test
thus kills an agent with exactly part of an apply made (links created, flood entries not yet).
Unset, as everywhere but in those tests, it costs one environment lookup per batch.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import groupby

from sdnkit.realize.base import Change, Step, Tool
from sdnkit.realize.kernel_state import PROC_SYS

TEST_HOLD_ENV = "SDN_TEST_HOLD_FILE"  # the test hook (module docstring); never set in production
_FAILED = re.compile(r"^Command failed (?:-|\S+):(\d+)\s*$", re.MULTILINE)


class StepFailure(Exception):
    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index  # of the failed step in the sequence run
        self.message = message  # the kernel's (or tool's) words


def _group_key(step: Step) -> tuple[Tool, bool]:
    return step.tool, step.batchable


def run_steps(steps: Sequence[Step], *, force: bool = False) -> list[tuple[int, str]]:
    """Run ``steps`` in order. Without ``force`` raise :class:`StepFailure` at the first failure;
    with it, run everything and return ``(index, message)`` for each failure."""
    failures: list[tuple[int, str]] = []
    start = 0
    for (tool, batchable), group in groupby(steps, key=_group_key):
        chunk = list(group)
        if start and not force:
            _test_hold()
        errors = _run_batch(tool, chunk, force=force) if batchable else list(_run_single(chunk, force=force))
        for offset, message in errors:
            if not force:
                raise StepFailure(start + offset, message)
            failures.append((start + offset, message))
        start += len(chunk)
    return failures


def _test_hold() -> None:
    """The test hook (module docstring): wait while ``$SDN_TEST_HOLD_FILE`` exists."""
    hold = os.environ.get(TEST_HOLD_ENV)
    if not hold or not os.path.exists(hold):
        return
    shown = f"{hold}.{os.getpid()}"
    with open(shown, "w"):
        pass
    try:
        while os.path.exists(hold):
            time.sleep(0.05)
    finally:
        with contextlib.suppress(FileNotFoundError):  # a test may clear the markers
            os.unlink(shown)


def _run_batch(tool: Tool, steps: list[Step], *, force: bool) -> list[tuple[int, str]]:
    text = "".join(" ".join(step.args) + "\n" for step in steps)
    argv = [str(tool), *(["-force"] if force else []), "-batch", "-"]
    done = subprocess.run(argv, input=text.encode(), capture_output=True, check=False)
    if done.returncode == 0:
        return []
    stderr = done.stderr.decode(errors="replace")
    failed = [int(m) - 1 for m in _FAILED.findall(stderr)]
    if not failed:  # the tool itself failed (not a line): blame the first step
        return [(0, stderr.strip() or f"{tool} exited with {done.returncode}")]
    # the kernel's words come before each "Command failed" line
    chunks = _FAILED.split(stderr)
    messages = [
        " ".join(line.strip() for line in chunks[i].splitlines() if line.strip())
        for i in range(0, len(chunks) - 1, 2)
    ]
    return list(zip(failed, messages, strict=False))


def _run_single(steps: list[Step], *, force: bool) -> Iterator[tuple[int, str]]:
    for index, step in enumerate(steps):
        message = _run_one(step)
        if message is not None:
            yield index, message
            if not force:
                return


def _run_one(step: Step) -> str | None:
    if step.tool is Tool.SYSCTL:
        path, value = step.args
        try:  # os.open/os.write: a thousand bridges make two thousand of these
            fd = os.open(PROC_SYS / path, os.O_WRONLY)
            try:
                os.write(fd, value.encode())
            finally:
                os.close(fd)
        except OSError as err:
            return f"{path.replace('/', '.')}: {err.strerror}"
        return None
    argv = list(step.args) if step.tool is Tool.ARGV else [str(step.tool), *step.args]
    done = subprocess.run(argv, capture_output=True, check=False)
    if done.returncode != 0:
        return done.stderr.decode(errors="replace").strip() or f"exit status {done.returncode}"
    return None


@dataclass(slots=True)
class Transaction:
    """The changes made so far, so that they can be undone."""

    done: list[Change] = field(default_factory=list)

    def run(self, changes: Sequence[Change]) -> None:
        """Make ``changes`` in order; on a failure raise :class:`ChangeFailed` (earlier ones stay done)."""
        try:
            run_steps([c.step for c in changes])
        except StepFailure as failure:
            self.done.extend(changes[: failure.index])
            raise ChangeFailed(changes[failure.index], failure.message) from None
        self.done.extend(changes)

    def rollback(self) -> list[str]:
        """Undo every completed change, newest first; the undo steps that failed, described."""
        steps = list(_undo_steps(reversed(self.done)))
        failures = run_steps([step for _, step in steps], force=True)
        self.done.clear()
        return [f"{steps[i][0]}: undo ({steps[i][1]}) failed: {message}" for i, message in failures]


def _undo_steps(changes: Iterable[Change]) -> Iterator[tuple[Change, Step]]:
    for change in changes:
        for step in change.undo:
            yield change, step


class ChangeFailed(Exception):
    def __init__(self, change: Change, message: str) -> None:
        super().__init__(f"{change}: {message}")
        self.change = change
        self.message = message
