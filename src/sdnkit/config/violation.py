"""A broken rule: which object, which field, and what is wrong (the unit of validation results)."""

from __future__ import annotations

from dataclasses import dataclass

from sdnkit.config.schema import Kind
from sdnkit.errors import ConfigError

__all__ = ["Violation", "to_error"]


@dataclass(frozen=True, slots=True, order=True)
class Violation:
    """``kind``/``id`` name the object, ``key`` the field; ``text`` says the rule that is broken."""

    kind: Kind
    id: str
    key: str
    text: str

    @property
    def label(self) -> str:
        return f'{self.kind.singular} "{self.id}"'

    @property
    def message(self) -> str:
        return f"{self.label}: {self.text}"

    def __str__(self) -> str:
        return self.message


def to_error(violations: list[Violation]) -> ConfigError:
    """One ``ConfigError`` carrying every violation, keyed by field for per-parameter API errors."""
    errors: dict[str, str] = {}
    for v in violations:
        errors[v.key] = f"{errors[v.key]}; {v.message}" if v.key in errors else v.message
    first = violations[0]
    return ConfigError(
        "; ".join(v.message for v in violations), obj=first.label, key=first.key, errors=errors
    )
