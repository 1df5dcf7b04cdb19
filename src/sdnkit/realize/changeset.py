"""The changes an apply will make, collected while diffing, plus the ownership record they lead to."""

from __future__ import annotations

from dataclasses import dataclass, field

from sdnkit.realize.base import Change, Phase, Step
from sdnkit.realize.kernel_state import KernelState, LinkState
from sdnkit.realize.ownership import Ownership
from sdnkit.realize.spec import Spec


@dataclass(slots=True)
class ChangeSet:
    spec: Spec
    cur: KernelState
    own: Ownership  # the record before this apply (read only)
    new: Ownership = field(init=False)  # the record after it
    changes: list[Change] = field(default_factory=list)
    # how each link looks once links are deleted and created (created ones: as "ip link add" leaves them)
    effective: dict[str, LinkState] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    created: set[str] = field(default_factory=set)
    vrf_tables: dict[str, int] = field(default_factory=dict)  # VRF name -> table, after the apply

    def __post_init__(self) -> None:
        self.new = self.own.copy()

    def add(
        self, phase: Phase, obj: str, action: str, step: Step, undo: tuple[Step, ...] | Step = ()
    ) -> None:
        undo_steps = (undo,) if type(undo) is Step else undo  # a Step is a tuple too
        self.changes.append(Change(phase, obj, action, step, undo_steps))

    def ordered(self) -> tuple[Change, ...]:
        return tuple(sorted(self.changes, key=lambda c: c.phase))  # stable: keeps order inside a phase

    def touched(self) -> frozenset[str]:
        """Names of the links some change is about."""
        return frozenset(c.obj.split('"')[1] for c in self.changes if c.obj.startswith("link "))
