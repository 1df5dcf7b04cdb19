"""Source NAT of the plan's subnets: pick a backend, decide whether anything changes, apply, undo.

Backends (:data:`BACKENDS`): ``nftables`` (our own ``inet sdnkit`` table, the default) and
``iptables-legacy`` (our own chain; for kernels without nftables ``inet`` NAT, such as UML's).
``auto`` keeps the backend the node used last time, else probes nftables and falls back to
iptables-legacy.

The ownership record keeps the digest of what we rendered and the kernel's listing right after we
applied it. Nothing is read when the plan has no SNAT and the record none; nothing changes when
the rendering and the kernel's listing are both as recorded (so a hand edit of our table is
undone on the next apply).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from sdnkit.errors import NotSupportedError
from sdnkit.plan.desired import SnatRule
from sdnkit.realize.iptables import IptablesLegacyNat
from sdnkit.realize.nftables import NftablesNat


class NatBackendName(StrEnum):
    AUTO = "auto"
    NFTABLES = "nftables"
    IPTABLES_LEGACY = "iptables-legacy"


class NatBackend(Protocol):
    name: str

    def render(self, rules: Sequence[SnatRule]) -> str: ...

    def read(self) -> str: ...

    def replace(self, content: str) -> None: ...


BACKENDS: dict[str, type[NftablesNat] | type[IptablesLegacyNat]] = {
    NatBackendName.NFTABLES: NftablesNat,
    NatBackendName.IPTABLES_LEGACY: IptablesLegacyNat,
}
# the kernel is the same in every namespace: probe once per process
_probed: dict[str, str] = {}


def select(name: str, record: dict[str, str] | None) -> NatBackend:
    if name != NatBackendName.AUTO:
        return BACKENDS[name]()
    if record and record.get("backend") in BACKENDS:
        return BACKENDS[record["backend"]]()
    if "auto" not in _probed:
        for candidate, cls in BACKENDS.items():
            if cls.available():
                _probed["auto"] = candidate
                break
        else:
            raise NotSupportedError(
                "nat: neither nftables (inet family) nor iptables-legacy works here", obj="nat"
            )
    return BACKENDS[_probed["auto"]]()


@dataclass(frozen=True, slots=True)
class NatChange:
    backend: NatBackend
    before: str  # what the kernel has now ("" = nothing of ours)
    after: str  # what it will have

    def apply(self) -> dict[str, str] | None:
        """Install ``after``; the new ownership record."""
        self.backend.replace(self.after)
        if not self.after:
            return None
        return {"backend": self.backend.name, "digest": _digest(self.after), "listing": self.backend.read()}

    def undo(self) -> None:
        self.backend.replace(self.before)

    def describe(self) -> str:
        rules = sum(1 for line in self.after.splitlines() if " snat " in line or "-j SNAT" in line)
        return (
            f'nat "{self.backend.name}": {"replace" if self.after else "remove"} SNAT rules ({rules} rules)'
        )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def plan_nat(
    rules: Sequence[SnatRule], record: dict[str, str] | None, backend_name: str
) -> tuple[NatChange | None, dict[str, str] | None]:
    """The NAT change this apply needs (None: none) and the record to keep if there is none."""
    if not rules and not record:
        return None, None
    backend = select(backend_name, record)
    after = backend.render(rules)
    before = backend.read()
    unchanged = record and record.get("backend") == backend.name and record.get("digest") == _digest(after)
    if unchanged and record and record.get("listing") == before:
        return None, record
    if not after and not before:
        return None, None
    return NatChange(backend=backend, before=before, after=after), record
