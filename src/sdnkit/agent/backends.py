"""How the agent puts a plan on the node: the reconciler, or ifupdown2 for hosts that keep it.

Each backend takes the running config, the config last applied on this node, the node's facts
and the options, and returns an :class:`Outcome`. Registered in :data:`BACKENDS` by name. A
:class:`Pass` says how: ``held`` zones (zone -> reason) stay as last applied from the start
(the agent holds back a zone whose check failed at this version), ``incremental`` lets the
reconciler look only at the links whose plan changed.

* ``netlink`` (default): ``realize.apply.apply_plan`` changes only the difference and rolls a
  failed apply back. The backend then holds the failing zone back (agent/holdback.py) and applies
  the rest, so one broken zone does not stop the others. ``incremental`` passes are
  ``apply_plan(incremental=True)``: only links whose plan changed are read and compared.
* ``ifupdown2``: writes the rendered interfaces file (atomically), runs ``ifreload -a``, then
  reloads FRR as the netlink backend does; a failure makes every zone of the node ``error``.

Both start the FRR daemons the plan needs and load its ``frr.conf`` with FRR's own reload, only
when either changed (realize/frr.py, realize/frr_service.py; the agent's ``--frr`` option says
how FRR runs on the node). FRR's refusal of a zone's lines holds that zone back.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from sdnkit.agent.holdback import held_back, zones_of
from sdnkit.config.running import RunningConfig
from sdnkit.errors import PlanError, RealizeError
from sdnkit.plan.desired import NodePlan
from sdnkit.plan.facts import NodeFacts

if TYPE_CHECKING:
    from sdnkit.agent.agent import AgentOptions

REALIZE_SUBDIR = "realize"  # the reconciler's ownership record, below the agent's state dir


class Backend(StrEnum):
    NETLINK = "netlink"
    IFUPDOWN2 = "ifupdown2"


@dataclass(frozen=True, slots=True, kw_only=True)
class Pass:
    """How to realize: zones to keep as last applied from the start, and whether incrementally."""

    held: Mapping[str, str] = field(default_factory=dict)  # zone -> reason
    incremental: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What a backend did: the config now live, the zones it held back, the change count."""

    applied: RunningConfig
    plan: NodePlan | None = None  # the plan now live (None: nothing of this version is)
    failed: Mapping[str, str] = field(default_factory=dict)  # zone -> reason
    changes: int | None = None
    error: str | None = None  # nothing of this version could be applied

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.plan.warnings if self.plan else ()


def plan_node(running: RunningConfig, facts: NodeFacts) -> NodePlan:
    from sdnkit.plan.planner import plan_node as plan

    return plan(running, facts)


def _reconcile(plan: NodePlan, opts: AgentOptions, incremental: bool) -> int:
    """Apply the plan with the reconciler; the number of changes it made."""
    from sdnkit.realize.apply import apply_plan

    frr = opts.frr.build(opts.netns)
    result = apply_plan(
        plan, netns=opts.netns, state_dir=opts.state_dir / REALIZE_SUBDIR, frr=frr, incremental=incremental
    )
    return len(result.changes) + int(result.nat_changed) + int(result.frr_changed)


def netlink_backend(
    running: RunningConfig, previous: RunningConfig, facts: NodeFacts, opts: AgentOptions, how: Pass
) -> Outcome:
    failed: dict[str, str] = dict(how.held)
    config = held_back(running, previous, failed) if failed else running
    for _ in range(len(running.config.zones) + 1):
        try:
            plan = plan_node(config, facts)
            changes = _reconcile(plan, opts, how.incremental)
        except (PlanError, RealizeError) as err:
            culprits = zones_of(err, config, facts, plan_node) - set(failed)
            if not culprits:
                return Outcome(applied=previous, failed=failed, error=str(err))
            failed.update(dict.fromkeys(sorted(culprits), str(err)))
            config = held_back(running, previous, failed)
            continue
        return Outcome(applied=config, plan=plan, failed=failed, changes=changes)
    return Outcome(applied=previous, failed=failed, error="every zone failed")


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def ifupdown2_backend(
    running: RunningConfig, previous: RunningConfig, facts: NodeFacts, opts: AgentOptions, how: Pass
) -> Outcome:
    """What PVE does: write the interfaces file, ``ifreload -a``, then FRR's reload. A refused FRR
    reload puts the previous interfaces file back (and reloads it), so nothing stays half done.
    ``ifreload`` always looks at the whole file: ``incremental`` changes nothing here."""
    from sdnkit.render import ifupdown

    failed = dict(how.held)
    running = held_back(running, previous, failed) if failed else running
    try:
        plan = plan_node(running, facts)
    except PlanError as err:
        return Outcome(applied=previous, error=str(err))
    before = opts.interfaces_file.read_text() if opts.interfaces_file.exists() else None
    write_atomic(opts.interfaces_file, ifupdown.render_interfaces(plan))
    error = _ifreload(opts)
    if error is None:
        try:
            changed = _frr_reload(plan, opts)
        except RealizeError as err:
            _put_back(opts, before)
            return Outcome(applied=previous, error=str(err))
        return Outcome(applied=running, plan=plan, failed=failed, changes=int(changed))
    return Outcome(applied=previous, error=error)


def interfaces_in(path: Path) -> set[str]:
    """The interfaces the file the ifupdown2 backend wrote declares (``iface NAME ...``): the
    links ifupdown2 made for us, which the next plan must not take for the node's own."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return set()
    return {words[1] for line in text.splitlines() if len(words := line.split()) > 1 and words[0] == "iface"}


def _ifreload(opts: AgentOptions) -> str | None:
    """Run ifreload (in the node's namespace); None when it worked, else what went wrong."""
    argv = [*(["ip", "netns", "exec", opts.netns] if opts.netns else []), *opts.ifreload]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
    except OSError as err:
        return f"{opts.ifreload[0]}: {err}"
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip()
        return f"{' '.join(opts.ifreload)} failed: {reason}"
    return None


def _put_back(opts: AgentOptions, before: str | None) -> None:
    if before is None:
        opts.interfaces_file.unlink(missing_ok=True)
    else:
        write_atomic(opts.interfaces_file, before)
    _ifreload(opts)


def _frr_reload(plan: NodePlan, opts: AgentOptions) -> bool:
    """Start the daemons the plan needs and reload frr.conf when it changed; whether it did."""
    from sdnkit.realize.frr import plan_frr

    if plan.frr is None:
        return False
    from sdnkit.render.frr import render_frr

    change = plan_frr(render_frr(plan.frr), opts.frr.build(opts.netns), plan.frr_daemons)
    if change is not None:
        change.apply()
    return change is not None


Realizer = Callable[[RunningConfig, RunningConfig, NodeFacts, "AgentOptions", Pass], Outcome]
BACKENDS: dict[Backend, Realizer] = {Backend.NETLINK: netlink_backend, Backend.IFUPDOWN2: ifupdown2_backend}
