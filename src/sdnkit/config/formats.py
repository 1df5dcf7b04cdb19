r"""Value formats of SDN options: parse raw input, write section-config text and JSON.

A format turns a raw value (a string from a file, the CLI or a form; or a JSON value from the
API or a ``.running-config``) into one canonical Python value, and back. ``parse`` raises
``ValueError`` with a short problem text; the schema layer adds the object and the key.

Canonical values: ``int``, ``bool``, ``str``, ``tuple[str, ...]`` for lists and
``tuple[PropertyValue, ...]`` for arrays of property strings.

What "ASCII-only" means (PVE's schema is Perl, whose ``\w``, ``\d`` and ``\s`` match any Unicode
letter, digit or blank in a decoded string; here they never do):

* no value holds a control, format or line separator character (``config/characters.py``);
* a format with a pattern accepts ASCII only: patterns are matched with ``re.ASCII`` (``\d`` is
  ``[0-9]``, ``\w`` is ``[A-Za-z0-9_]``, ``\s`` is an ASCII blank) and any other character is
  refused before the pattern is tried, so a negated class cannot let one through either;
* numbers are ASCII digits (Python's ``int()`` would read ``"١٢"`` as 12);
* addresses carry no IPv6 zone ID (``fe80::1%eth0``): no option of an SDN object names an
  interface scope, and the ``%`` part would reach generated files as it was written.

Free text without a pattern (API passwords) may hold other printable characters.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sdnkit.config.characters import describe, first_refused

Value = int | bool | str | tuple[Any, ...]

# pve-common split_list: list items are separated by commas, semicolons, whitespace or NUL (ASCII
# blanks only: any other character stays in its item, whose format then refuses it)
_LIST_SPLIT = re.compile(r"[,;\s\x00]+", re.ASCII)
_INTEGER = re.compile(r"[+-]?[0-9]{1,32}")
NODE_NAME = re.compile(r"[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?")
# the kernel refuses "/", ":" and blanks in a name, ifupdown2 reads "x:y" as an address label of x;
# the first character is a letter or digit, as the reconciler requires (realize/base.py)
IFACE_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}")
DNS_NAME = re.compile(
    r"(?=.{1,253}\.?$)([a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?)"
    r"(\.[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?)*\.?"
)


def clean_text(raw: object) -> str:
    """A single-line string: refuse what could inject a line into a generated file."""
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise ValueError(f"expected a string, got {type(raw).__name__}")
    text = str(raw)
    index = first_refused(text)
    if index is not None:
        raise ValueError(
            f"character {describe(text[index])} at position {index + 1} is not allowed "
            "(no control, format or line separator characters)"
        )
    return text.strip()


def check_ascii(text: str, what: str) -> None:
    """Refuse any character outside ASCII, naming it (a pattern then decides about the rest)."""
    if not text.isascii():
        char = next(c for c in text if not c.isascii())
        raise ValueError(f"{text!r}: character {describe(char)} is not allowed ({what}: ASCII only)")


def check_no_zone_id(text: str, what: str) -> None:
    """Refuse ``fe80::1%eth0``: Python's ``ipaddress`` accepts any text after the ``%``."""
    if "%" in text:
        raise ValueError(f"{text!r} has an IPv6 zone ID (%...), which a {what} cannot have: leave it out")


def split_list(raw: object) -> list[str]:
    """Items of a comma separated list (or of a JSON list, or of a PVE ``{item: 1}`` hash)."""
    if isinstance(raw, Mapping):
        items = [clean_text(k) for k in raw]
    elif isinstance(raw, list | tuple | set | frozenset):
        items = [clean_text(item) for item in raw]
    else:
        items = _LIST_SPLIT.split(clean_text(raw))
    return [item for item in items if item]


class Format:
    """Base of all value formats."""

    name: ClassVar[str] = "string"
    json_type: ClassVar[str] = "string"

    def parse(self, raw: object) -> Value:
        raise NotImplementedError

    def text(self, value: Value) -> str:
        """The value as written after the key in a section-config file."""
        return str(value)

    def json(self, value: Value) -> Any:
        """The value as PVE keeps it in ``.running-config``."""
        return value

    def api(self, value: Value) -> Any:
        """The value as the PVE API returns it."""
        return self.json(value)

    def describe(self) -> str:
        return self.name

    def json_schema(self) -> dict[str, Any]:
        return {"type": self.json_type}


@dataclass(frozen=True)
class Text(Format):
    """Free single-line text, optionally with a pattern and a maximum length."""

    pattern: str | None = None
    max_length: int | None = None
    what: str = "string"
    name: ClassVar[str] = "string"

    def parse(self, raw: object) -> str:
        text = clean_text(raw)
        if self.max_length is not None and len(text) > self.max_length:
            raise ValueError(f"longer than {self.max_length} characters")
        if not text:
            raise ValueError("empty value")
        if self.pattern is not None:
            check_ascii(text, self.what)
            if not re.fullmatch(self.pattern, text, re.ASCII):
                raise ValueError(f"{text!r} is not a valid {self.what}")
        return text

    def describe(self) -> str:
        return self.what

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if self.pattern:
            schema["pattern"] = f"^(?:{self.pattern})$"
        if self.max_length:
            schema["maxLength"] = self.max_length
        return schema


@dataclass(frozen=True)
class Integer(Format):
    minimum: int | None = None
    maximum: int | None = None
    name: ClassVar[str] = "integer"
    json_type: ClassVar[str] = "integer"

    def parse(self, raw: object) -> int:
        if isinstance(raw, bool):
            raise ValueError("expected an integer, got a boolean")
        if isinstance(raw, int):
            value = raw
        elif isinstance(raw, float) and raw.is_integer():  # JSON's 5.0 is the integer 5 (JSON Schema)
            value = int(raw)
        else:
            text = clean_text(raw)
            if not _INTEGER.fullmatch(text):
                raise ValueError(f"{text!r} is not an integer (ASCII digits 0-9)")
            value = int(text)
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            raise ValueError(f"{value} is out of range {self.minimum}-{self.maximum}")
        return value

    def describe(self) -> str:
        if self.minimum is not None and self.maximum is not None:
            return f"integer {self.minimum}-{self.maximum}"
        return "integer"

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "integer"}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Boolean(Format):
    name: ClassVar[str] = "boolean"
    json_type: ClassVar[str] = "boolean"

    def parse(self, raw: object) -> bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, int) and raw in (0, 1):
            return bool(raw)
        text = clean_text(raw).lower() if isinstance(raw, str) else ""
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"{raw!r} is not a boolean (use 1 or 0)")

    def text(self, value: Value) -> str:
        return "1" if value else "0"

    def json(self, value: Value) -> int:
        return 1 if value else 0

    def json_schema(self) -> dict[str, Any]:
        # PVE clients send 0/1 as integers or strings; JSON booleans are accepted too
        return {"type": "boolean"}


@dataclass(frozen=True)
class Enum(Format):
    choices: tuple[str, ...] = ()
    name: ClassVar[str] = "enum"

    def parse(self, raw: object) -> str:
        text = clean_text(raw)
        if text not in self.choices:
            raise ValueError(f"{text!r} is not one of {', '.join(self.choices)}")
        return text

    def describe(self) -> str:
        return " | ".join(self.choices)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.choices)}


@dataclass(frozen=True)
class IpAddress(Format):
    """An IP address, kept as written (validated; family 4, 6 or either)."""

    family: int | None = None
    name: ClassVar[str] = "ip"

    def parse(self, raw: object) -> str:
        text = clean_text(raw)
        check_no_zone_id(text, self.describe())
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a valid {self.describe()}") from None
        if self.family and addr.version != self.family:
            raise ValueError(f"{text!r} is not an IPv{self.family} address")
        return text

    def describe(self) -> str:
        return f"IPv{self.family} address" if self.family else "IP address"


@dataclass(frozen=True)
class Cidr(Format):
    """A network in CIDR notation; host bits allowed as PVE does (``192.168.0.1/24``)."""

    family: int | None = None
    min_prefix: int = 0
    name: ClassVar[str] = "cidr"

    def parse(self, raw: object) -> str:
        text = clean_text(raw)
        check_no_zone_id(text, self.describe())
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ValueError(f"{text!r} is not a valid CIDR (address/prefix length)") from None
        if "/" not in text:
            raise ValueError(f"{text!r} lacks a prefix length")
        if self.family and net.version != self.family:
            raise ValueError(f"{text!r} is not an IPv{self.family} CIDR")
        if net.prefixlen < self.min_prefix:
            raise ValueError(f"prefix length /{net.prefixlen} is shorter than /{self.min_prefix}")
        return text

    def describe(self) -> str:
        return f"IPv{self.family} CIDR" if self.family else "CIDR"


@dataclass(frozen=True)
class Mac(Format):
    """A unicast MAC address, kept as written."""

    name: ClassVar[str] = "mac-addr"

    def parse(self, raw: object) -> str:
        text = clean_text(raw)
        if not re.fullmatch(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}", text):
            raise ValueError(f"{text!r} is not a MAC address (xx:xx:xx:xx:xx:xx)")
        if int(text[:2], 16) & 1:
            raise ValueError(f"{text!r} is a multicast MAC address, a unicast one is needed")
        if text.replace(":", "").strip("0") == "":
            raise ValueError("the all-zero MAC address is not allowed")
        return text


U16_MAX = 65535
U32_MAX = 4294967295


@dataclass(frozen=True)
class RouteTarget(Format):
    """A BGP route target ``ASN:NN``, kept as written.

    PVE checks only that both numbers fit 32 bits, but an extended community has 6 bytes for both
    together (RFC 4360): a 2-byte ASN with a 4-byte number, or a 4-byte ASN with a 2-byte number.
    FRR refuses anything else, so a route target that cannot be encoded is refused here.
    """

    name: ClassVar[str] = "route-target"

    def parse(self, raw: object) -> str:
        text = clean_text(raw)
        check_ascii(text, "route target")
        match = re.fullmatch(r"([0-9]{1,10}):([0-9]{1,10})", text)
        if not match:
            raise ValueError(f"{text!r} is not a route target ASN:NN (e.g. 65000:100)")
        asn, number = int(match[1]), int(match[2])
        if asn > U32_MAX or number > U32_MAX:
            raise ValueError(f"{text!r}: ASN and number are out of range 0-{U32_MAX}")
        if asn > U16_MAX and number > U16_MAX:
            raise ValueError(
                f"{text!r}: with a 4-byte ASN (above {U16_MAX}) the number must be 0-{U16_MAX} "
                "(a route target holds 6 bytes)"
            )
        return text

    def describe(self) -> str:
        return "route target ASN:NN"

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": "^[0-9]{1,10}:[0-9]{1,10}$", "maxLength": 21}


@dataclass(frozen=True)
class OspfArea(Format):
    """An OSPF area: a number 0-4294967295 or a dotted quad, kept as entered (as PVE keeps it)."""

    name: ClassVar[str] = "ospf-area"

    def parse(self, raw: object) -> str:
        text = clean_text(raw)
        check_ascii(text, "OSPF area")
        if re.fullmatch(r"[0-9]{1,10}", text):
            if int(text) > U32_MAX:
                raise ValueError(f"{text!r}: an area number is out of range 0-{U32_MAX}")
            return text
        try:
            ipaddress.IPv4Address(text)
        except ValueError:
            raise ValueError(
                f"{text!r} is not an OSPF area (a number 0-{U32_MAX} or a dotted quad such as 0.0.0.1)"
            ) from None
        return text

    def describe(self) -> str:
        return "OSPF area (number or dotted quad)"

    def json_schema(self) -> dict[str, Any]:
        pattern = r"^(?:[0-9]{1,10}|[0-9]{1,3}(\.[0-9]{1,3}){3})$"
        return {"type": "string", "pattern": pattern, "maxLength": 15}


@dataclass(frozen=True)
class ListOf(Format):
    """A list of items, written comma separated; nodes lists are sorted and kept as a set."""

    item: Format = field(default_factory=Text)
    as_set: bool = False
    pve_hash: bool = False  # running config keeps the list as {item: 1} (nodes, exitnodes)
    name: ClassVar[str] = "list"

    def parse(self, raw: object) -> tuple[str, ...]:
        items = split_list(raw)
        if not items:
            raise ValueError("empty list")
        values = [str(self.item.parse(item)) for item in items]
        seen: set[str] = set()
        dupes = [v for v in values if v in seen or seen.add(v)]  # type: ignore[func-returns-value]
        if dupes and not self.as_set:
            raise ValueError(f"{dupes[0]!r} is listed twice")
        return tuple(sorted(set(values))) if self.as_set else tuple(values)

    def text(self, value: Value) -> str:
        assert isinstance(value, tuple)
        return ",".join(value)

    def json(self, value: Value) -> Any:
        assert isinstance(value, tuple)
        if self.pve_hash:
            return dict.fromkeys(value, 1)
        return ",".join(value)

    def api(self, value: Value) -> Any:
        assert isinstance(value, tuple)
        return ",".join(value)

    def describe(self) -> str:
        return f"list of {self.item.describe()}"


class PropertyValue(Mapping[str, Any]):
    """One parsed property string (``key=value,key=value``), immutable, keys in schema order."""

    __slots__ = ("_items",)

    def __init__(self, items: tuple[tuple[str, Any], ...]) -> None:
        self._items = items

    def __getitem__(self, key: str) -> Any:
        for k, v in self._items:
            if k == key:
                return v
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PropertyValue):
            return self._items == other._items
        return NotImplemented

    def __repr__(self) -> str:
        return f"PropertyValue({self.text()!r})"

    def text(self) -> str:
        return ",".join(f"{k}={'1' if v is True else v}" for k, v in self._items)


@dataclass(frozen=True)
class PropertyString(Format):
    """A property string such as ``start-address=10.0.0.10,end-address=10.0.0.20``."""

    keys: tuple[tuple[str, Format], ...] = ()
    required: tuple[str, ...] = ()
    default_key: str | None = None  # a bare value without "key=" belongs to this key
    name: ClassVar[str] = "property-string"

    def parse(self, raw: object) -> PropertyValue:
        pairs = self._pairs(raw)
        schema = dict(self.keys)
        values: dict[str, Any] = {}
        for key, rawval in pairs:
            if key not in schema:
                raise ValueError(f"unknown key {key!r} (known: {', '.join(schema)})")
            if key in values:
                raise ValueError(f"key {key!r} given twice")
            try:
                values[key] = schema[key].parse(rawval)
            except ValueError as err:
                raise ValueError(f"{key}: {err}") from None
        missing = [k for k in self.required if k not in values]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        return PropertyValue(tuple((k, values[k]) for k, _ in self.keys if k in values))

    def _pairs(self, raw: object) -> list[tuple[str, object]]:
        if isinstance(raw, PropertyValue):
            return list(raw.items())
        if isinstance(raw, Mapping):
            return [(str(k), v) for k, v in raw.items()]
        text = clean_text(raw)
        pairs: list[tuple[str, object]] = []
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            key, sep, val = part.partition("=")
            if not sep:
                if self.default_key is None:
                    raise ValueError(f"{part!r} is not key=value")
                key, val = self.default_key, part
            pairs.append((key.strip(), val.strip()))
        return pairs

    def text(self, value: Value) -> str:
        assert isinstance(value, PropertyValue)
        return value.text()

    def json(self, value: Value) -> Any:
        assert isinstance(value, PropertyValue)
        return value.text()

    def api(self, value: Value) -> Any:
        assert isinstance(value, PropertyValue)
        return dict(value)

    def describe(self) -> str:
        return ",".join(f"{k}=<{f.describe()}>" for k, f in self.keys)


@dataclass(frozen=True)
class ArrayOf(Format):
    """A repeated key in section config (``dhcp-range``, fabric ``interfaces``)."""

    item: PropertyString = field(default_factory=PropertyString)
    name: ClassVar[str] = "array"
    json_type: ClassVar[str] = "array"

    def parse(self, raw: object) -> tuple[PropertyValue, ...]:
        if isinstance(raw, str | PropertyValue | Mapping):
            raw = [raw]
        if not isinstance(raw, list | tuple):
            raise ValueError("expected a list of property strings")
        if not raw:  # would be written as no line at all, and read back as an unset option
            raise ValueError("empty list (to remove the option, delete it)")
        return tuple(self.item.parse(entry) for entry in raw)

    def text(self, value: Value) -> str:
        raise TypeError("arrays are written one line per element")

    def json(self, value: Value) -> Any:
        assert isinstance(value, tuple)
        return [v.text() for v in value]

    def api(self, value: Value) -> Any:
        assert isinstance(value, tuple)
        return [v.text() for v in value]

    def describe(self) -> str:
        return f"repeatable {self.item.describe()}"

    def json_schema(self) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "string"}}


# Common instances -------------------------------------------------------------------------

NODE = Text(NODE_NAME.pattern, 63, "node name")
IFACE = Text(IFACE_NAME.pattern, 15, "interface name")
DNS = Text(DNS_NAME.pattern, 253, "DNS name")
# RFC 3986 characters, without the quote; an internationalised host name is written in punycode
URL = Text(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%]+", 1024, "http(s) URL")
# API tokens and keys: printable ASCII without blanks, "," and ";" (PVE's list separators)
SECRET = Text(r"[\x21-\x2b\x2d-\x3a\x3c-\x7e]+", 512, "API token (printable ASCII, no blanks, ',' or ';')")
FINGERPRINT = Text(r"([A-Fa-f0-9]{2}:){31}[A-Fa-f0-9]{2}", None, "SHA-256 fingerprint")
ASN = Integer(1, 4294967295)
IP = IpAddress()
IP4 = IpAddress(4)
IP6 = IpAddress(6)
