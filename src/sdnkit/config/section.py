"""Sections: one configured object as PVE stores it (kind, type, id and typed option values).

``parse_section`` is the per-key validation step: unknown keys, bad values and missing required
options are refused here with messages that name the object and the key. Cross-object rules come
afterwards (``config/validate.py``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sdnkit.config.characters import show
from sdnkit.config.formats import ArrayOf, Value, check_no_zone_id, clean_text
from sdnkit.config.schema import ID_FORMATS, OPTIONS, SINGLE_TYPE, TYPES, Kind, option_format
from sdnkit.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Section:
    """One object: ``<type>: <id>`` followed by its options (canonical values, no defaults)."""

    kind: Kind
    type: str
    id: str
    items: tuple[tuple[str, Value], ...]

    @property
    def options(self) -> dict[str, Value]:
        return dict(self.items)

    def get(self, key: str, default: Any = None) -> Any:
        for k, v in self.items:
            if k == key:
                return v
        return default

    def __iter__(self) -> Iterator[tuple[str, Value]]:
        return iter(self.items)

    @property
    def label(self) -> str:
        return f'{self.kind.singular} "{self.id}"'

    def with_options(self, options: Mapping[str, Value]) -> Section:
        spec = TYPES[self.kind][self.type]
        order = spec.write_order(set(options))
        return Section(self.kind, self.type, self.id, tuple((k, options[k]) for k in order))

    def to_json(self) -> dict[str, Any]:
        """The object as PVE keeps it in ``.running-config`` (with ``type``)."""
        out: dict[str, Any] = {"type": self.type}
        if self.kind is Kind.FABRICS:
            out["id"] = self.id
        for key, value in self.items:
            out[key] = option_format(self.kind, self.type, key).json(value)
        return out

    def to_api(self) -> dict[str, Any]:
        """The object as the PVE API returns it (lists joined, property strings parsed)."""
        out: dict[str, Any] = {"type": self.type}
        for key, value in self.items:
            out[key] = option_format(self.kind, self.type, key).api(value)
        return out

    def encoded(self) -> dict[str, str]:
        """Values normalised for comparison (PVE ``encode_value``: sorted lists joined)."""
        out: dict[str, str] = {}
        for key, value in self.items:
            fmt = option_format(self.kind, self.type, key)
            if isinstance(fmt, ArrayOf):
                out[key] = ",".join(sorted(fmt.json(value)))
            else:
                out[key] = fmt.text(value)
        return out


def section_type(kind: Kind, raw_type: object) -> str:
    """The type name of a section, checked against the kind's types."""
    if kind in SINGLE_TYPE:
        type_ = SINGLE_TYPE[kind] if raw_type in (None, "") else str(raw_type).lower()
        if type_ != SINGLE_TYPE[kind]:
            raise ConfigError(
                f"{kind.singular}: type must be {SINGLE_TYPE[kind]!r}, not {raw_type!r}", key="type"
            )
        return type_
    type_ = str(raw_type or "").lower()
    if type_ not in TYPES[kind]:
        known = ", ".join(TYPES[kind])
        raise ConfigError(
            f"{kind.singular}: unknown type {raw_type!r} (known: {known})", key="type", value=raw_type
        )
    return type_


def validate_id(kind: Kind, id_: object) -> str:
    """Check an object ID against its kind's format (subnet IDs are checked by shape)."""
    if kind is Kind.SUBNETS:
        parse_subnet_id(id_)
        return str(id_)
    fmt = ID_FORMATS[kind]
    try:
        return fmt.parse(id_)
    except ValueError as err:
        raise ConfigError(
            f"{kind.singular} ID {id_!r}: {err}; expected a {fmt.what}",
            key=kind.singular,
            value=id_,
        ) from None


_SUBNET_ID = re.compile(
    r"(?P<zone>[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9])-(?P<ip>[0-9a-fA-F.:]+)-(?P<len>[0-9]{1,3})"
)


def parse_subnet_id(id_: object) -> tuple[str, str]:
    """``zone-10.0.0.0-24`` → (``zone``, ``10.0.0.0/24``)."""
    text = str(id_)
    match = _SUBNET_ID.fullmatch(text)
    if not match:
        raise ConfigError(
            f"subnet ID {text!r} is not <zone>-<network>-<prefix length>", key="subnet", value=id_
        )
    cidr = f"{match['ip']}/{match['len']}"
    check_subnet_cidr(cidr)
    return match["zone"], cidr


def check_subnet_cidr(cidr: object) -> str:
    """A subnet network: IPv4 /8-/32 or IPv6 /8-/128 (host bits allowed, as upstream)."""
    try:
        text = clean_text(cidr)
        check_no_zone_id(text, "subnet")
    except ValueError as err:
        raise ConfigError(f'invalid value for "subnet": {err}', key="subnet", value=cidr) from None
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ConfigError(f"subnet {text!r} is not a valid CIDR", key="subnet", value=cidr) from None
    if "/" not in text:
        raise ConfigError(f"subnet {text!r} is not a valid CIDR: no prefix length", key="subnet", value=cidr)
    if net.prefixlen < 8:
        raise ConfigError(f"subnet {text!r}: prefix length must be /8 or longer", key="subnet", value=cidr)
    return text


def subnet_id(zone: str, cidr: str) -> str:
    return f"{zone}-{cidr.replace('/', '-')}"


def parse_section(
    kind: Kind, type_: str, id_: str, raw: Mapping[str, object], *, partial: bool = False
) -> Section:
    """Validate every option of one object; ``partial`` skips the required-options check."""
    spec = TYPES[kind][type_]
    label = f'{kind.singular} "{id_}"'
    errors: list[ConfigError] = []
    values: dict[str, Value] = {}
    for key, rawval in raw.items():
        if key not in spec.options:
            hint = "" if key in OPTIONS[kind] else " (no such option)"
            errors.append(
                ConfigError(
                    f'{label}: option "{show(key)}" is not allowed for type {type_}{hint}',
                    obj=label,
                    key=key,
                    value=rawval,
                )
            )
            continue
        fmt = option_format(kind, type_, key)
        try:
            values[key] = fmt.parse(rawval)
        except ValueError as err:
            errors.append(
                ConfigError(f'{label}: invalid value for "{key}": {err}', obj=label, key=key, value=rawval)
            )
    if not partial:
        for key in spec.required:
            if key not in values and key not in {e.key for e in errors}:
                errors.append(
                    ConfigError(f'{label}: option "{key}" is required for type {type_}', obj=label, key=key)
                )
    if errors:
        raise ConfigError.merge(errors)
    order = spec.write_order(set(values))
    return Section(kind, type_, id_, tuple((k, values[k]) for k in order))


def section_from_json(kind: Kind, id_: str, obj: Mapping[str, Any]) -> Section:
    """A section from a ``.running-config`` entry (values may be strings or numbers)."""
    type_ = section_type(kind, obj.get("type"))
    raw = {k: v for k, v in obj.items() if k not in ("type", "id")}
    return parse_section(kind, type_, id_, raw)
