"""Realize a :class:`~sdnkit.plan.desired.NodePlan` on the live kernel: a reconciler.

Entry points (what the agent and the lab call)::

    apply_plan(plan, *, netns=None, state_dir, nat_backend="auto", dry_run=False,
               incremental=False, frr=None) -> ApplyResult
    read_state(*, netns=None) -> KernelState
    apply_frr(text, FrrInstance(confdir=..., rundir=..., vty_socket=...)) -> bool

``ApplyResult``: ``changes`` (one line per kernel change made, e.g. ``link "vnet1": create
bridge``), ``nat_changed``, ``frr_changed``, ``changed``, ``summary()``.

``apply_plan`` reads the node's current state (links with kind, master, MTU, addresses, flags;
bridge-port flags; flood FDB entries; bridge VLANs; sysctls; routes with protocol 241; our NAT
table), diffs it against the plan and changes only the difference, in a safe order (routes, FDB
entries, VLANs and addresses that go away first, then links that go away — dependents first —,
then links are created, set, enslaved, brought up, and get addresses, routes, FDB entries, VLANs,
aliases and sysctls), then installs SNAT (nftables table ``inet sdnkit``, or iptables-legacy where
nftables lacks the ``inet`` family) and verifies by reading back. A second apply of the same plan
changes nothing (``ApplyResult.changes == ()``, ``summary() == "0 changes"``).

* Ownership: sdnkit deletes and fully manages only the links it created: they are listed in
  ``<state_dir>/realize.json`` (written ahead of every change) and carry a mark in the kernel,
  link group 21316 (``LINK_GROUP``), so they are recognised even if the file is lost, and a link
  of the same name somebody else made is refused, not taken over. On other links (``existing``
  in the plan, vmbr0, NICs) it only sets what the plan lists and puts the old values back when the
  plan stops listing them. Guest ports plugged into our bridges are never touched.
* Failure: if the kernel refuses a step, or NAT fails, or the verification finds a difference,
  everything done is undone in reverse and :class:`~sdnkit.errors.RealizeError` (``obj`` = the
  link, route or ``"nat"``) says what and the kernel's message; :class:`~sdnkit.errors.VerifyError`
  for a verification difference; :class:`~sdnkit.errors.RollbackError` when undoing failed too
  (its message carries both errors). A plan the realizer cannot express (Open vSwitch) raises
  :class:`~sdnkit.errors.NotSupportedError` before anything changes.
* Namespaces: ``netns="lab1-node1"`` runs the whole apply inside that named network namespace
  (``/run/netns/<name>``), entered by the calling thread only (``setns`` is per thread), so
  several nodes can be realized from several threads of one process. ``None`` uses the calling
  thread's own namespace. Sysctls are per namespace.
* Incremental: ``incremental=True`` reads and compares only the links whose planned settings
  changed since the last verified apply (and those they stand on or carry); the others are
  trusted as verified then, so a hand change to them waits for the next full apply (the default).
  It falls back to a full apply when links must be deleted or no earlier apply is on record.
* FRR: with ``frr=FrrInstance(...)`` and a plan with an FRR configuration, the rendered frr.conf
  is written and ``frr-reload.py`` run, only when the file changes, after SNAT and before the
  verification (undone with the rest when a later step fails).
* Mechanism: ``ip -batch``/``bridge -batch`` for changes and ``ip -j``/``bridge -j`` for reads,
  chosen by measurement (bench/README.md, "apply").
* Concurrency: one apply at a time per ``state_dir`` (an exclusive lock).
"""

from __future__ import annotations

from sdnkit.realize import netns as _netns
from sdnkit.realize.apply import apply_plan
from sdnkit.realize.base import LINK_GROUP, ROUTE_PROTO, ApplyResult
from sdnkit.realize.frr import FrrInstance, apply_frr
from sdnkit.realize.kernel_state import KernelState, LinkState, ReadScope, Route, read_kernel
from sdnkit.realize.nat import NatBackendName

__all__ = [
    "LINK_GROUP",
    "ROUTE_PROTO",
    "ApplyResult",
    "FrrInstance",
    "KernelState",
    "LinkState",
    "NatBackendName",
    "Route",
    "apply_frr",
    "apply_plan",
    "read_state",
]


def read_state(*, netns: str | None = None) -> KernelState:
    """Every link, flood entry, bridge VLAN and route of ours in ``netns`` (or this thread's)."""
    with _netns.entered(netns):
        return read_kernel(ReadScope())
