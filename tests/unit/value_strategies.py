"""Hypothesis strategies for option values, derived from the formats of ``config/schema.py``.

``shaped(fmt)`` gives values of a format's shape (mostly valid: what a client would send),
``hostile(fmt)`` the same with one of issue 12 A's hostile pieces put somewhere inside, or text
made of them; ``values(fmt)`` both, as strings, numbers, lists and mappings, as the API gets them.
``PROFILE`` bounds the run time: ``SDN_VALUE_EXAMPLES`` examples per property (default 60).
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from sdnkit.config.formats import (
    DNS,
    FINGERPRINT,
    ArrayOf,
    Boolean,
    Cidr,
    Enum,
    Format,
    Integer,
    IpAddress,
    ListOf,
    Mac,
    OspfArea,
    PropertyString,
    RouteTarget,
    Text,
)

settings.register_profile(
    "values",
    max_examples=int(os.environ.get("SDN_VALUE_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
PROFILE = settings.get_profile("values")

# one of each class of issue 12 A, and what each consumer reads specially
HOSTILE_PIECES = (
    "\n",
    "\r",
    "\t",
    "\x00",
    "\x7f",
    "\x85",  # NEL
    "\x9b",  # CSI
    "\u2028",
    "\u2029",
    "\u202e",  # RIGHT-TO-LEFT OVERRIDE
    "\u2066",  # LEFT-TO-RIGHT ISOLATE
    "\u200f",
    "\u200b",
    "\ufeff",
    "\\",
    "${",
    "$IFACE",
    "<%",
    "%>",
    "##",
    "%",
    "!",
    "#",
    ",",
    ";",
    "[",
    "]",
    '"',
    "'",
    " ",
    "  ",
    "-",
    "=",
    "%eth0",
    "%1",
    "\u0661",  # ARABIC-INDIC DIGIT ONE
    "\u0966",  # DEVANAGARI DIGIT ZERO
    "\uff11",  # FULLWIDTH DIGIT ONE
    "\xa0",  # NO-BREAK SPACE
    "é",
    "\n\tmtu 9000",
    "\nauto eth9\niface eth9",
    " -j ACCEPT",
    "; flush ruleset",
)


def hostile_text() -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(HOSTILE_PIECES) | st.text(max_size=3), min_size=1, max_size=4).map(
        "".join
    )


def insert(text: str, piece: str, where: int) -> str:
    at = where % (len(text) + 1)
    return text[:at] + piece + text[at:]


def _ip(family: int | None) -> st.SearchStrategy[str]:
    if family is None:
        return st.ip_addresses().map(str)
    return st.ip_addresses(v=family).map(str)  # type: ignore[arg-type]


def _cidr(fmt: Cidr) -> st.SearchStrategy[str]:
    def join(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, length: int) -> str:
        return f"{ip}/{length % (ip.max_prefixlen + 1)}"

    ips = st.ip_addresses() if fmt.family is None else st.ip_addresses(v=fmt.family)  # type: ignore[arg-type]
    return st.builds(join, ips, st.integers(0, 128))


# patterns whose regex strategy is slow to draw from: built from their parts instead
_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
_FAST = {
    DNS.pattern: st.lists(_LABEL, min_size=1, max_size=4).map(".".join),
    FINGERPRINT.pattern: st.binary(min_size=32, max_size=32).map(lambda b: ":".join(f"{x:02X}" for x in b)),
}


def _text(fmt: Text) -> st.SearchStrategy[str]:
    if fmt.pattern is None:
        return st.text(max_size=20)
    if fmt.pattern in _FAST:
        return _FAST[fmt.pattern]
    return st.from_regex(fmt.pattern, fullmatch=True).filter(lambda s: len(s) <= (fmt.max_length or 300))


def _integer(fmt: Integer) -> st.SearchStrategy[Any]:
    low = -5 if fmt.minimum is None else fmt.minimum - 2
    high = 2**40 if fmt.maximum is None else fmt.maximum + 2
    ints = st.integers(low, high)
    return ints | ints.map(str)


def _property(fmt: PropertyString) -> st.SearchStrategy[str]:
    keys = dict(fmt.keys)
    required = {k: shaped(keys[k]).map(str) for k in fmt.required}
    optional = {k: shaped(f).map(str) for k, f in fmt.keys if k not in fmt.required}
    return st.fixed_dictionaries(required, optional=optional).map(
        lambda d: ",".join(f"{k}={v}" for k, v in d.items())
    )


def shaped(fmt: Format) -> st.SearchStrategy[Any]:
    """Values of the format's shape."""
    if isinstance(fmt, Text):
        return _text(fmt)
    if isinstance(fmt, Integer):
        return _integer(fmt)
    if isinstance(fmt, Boolean):
        return st.sampled_from([0, 1, "0", "1", True, False, "yes", "off"])
    if isinstance(fmt, Enum):
        return st.sampled_from(fmt.choices)
    if isinstance(fmt, IpAddress):
        return _ip(fmt.family)
    if isinstance(fmt, Cidr):
        return _cidr(fmt)
    if isinstance(fmt, Mac):
        return st.from_regex(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", fullmatch=True)
    if isinstance(fmt, RouteTarget):
        number = st.integers(0, 2**33) | st.sampled_from([0, 65535, 65536, 4294967295])
        return st.builds(lambda a, b: f"{a}:{b}", number, number)
    if isinstance(fmt, OspfArea):
        return st.integers(0, 2**33).map(str) | st.ip_addresses(v=4).map(str)
    if isinstance(fmt, ListOf):
        return st.lists(shaped(fmt.item).map(str), min_size=1, max_size=3).map(",".join)
    if isinstance(fmt, PropertyString):
        return _property(fmt)
    if isinstance(fmt, ArrayOf):
        return st.lists(_property(fmt.item), min_size=1, max_size=3)
    raise AssertionError(f"no strategy for {fmt!r}")


def hostile(fmt: Format) -> st.SearchStrategy[Any]:
    """A shaped value with a hostile piece inside, or text of hostile pieces."""
    inserted = st.builds(
        insert,
        shaped(fmt).map(lambda v: str(v) if not isinstance(v, list) else ",".join(v)),
        st.sampled_from(HOSTILE_PIECES),
        st.integers(0, 1000),
    )
    return inserted | hostile_text()


def values(fmt: Format) -> st.SearchStrategy[Any]:
    """What a client may send for an option of this format, well or badly meant."""
    odd = st.sampled_from([None, [], {}, [["x"]], {"a": {"b": 1}}, 1.5, -1, True, 10**30])
    return st.one_of(shaped(fmt), hostile(fmt), odd)
