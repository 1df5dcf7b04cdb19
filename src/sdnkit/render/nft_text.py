"""What nft reads specially in a ruleset file, and the checks that no value holds it.

``nft -f`` reads words separated by blanks, ends a statement at ``;`` or a line break, starts a
comment at ``#`` and a block at ``{``; a string in double quotes is one word (it cannot hold a
``"``, and a backslash escapes). A value that is not a plain word could therefore add
statements to the ruleset (an IPv6 zone ID is free text: ``fe80::1%x; flush ruleset`` is a
valid ``ipaddress`` address).

* names (tables, chains, sets) are identifiers: a letter or ``_``, then letters, digits, ``_``,
  ``.`` and ``-``;
* strings (comments, interface names) go in double quotes and hold printable ASCII without
  ``"`` or ``\\``;
* addresses and networks are written from ``ipaddress`` objects and carry no zone ID.
"""

from __future__ import annotations

import ipaddress
import re

from sdnkit.errors import ConfigError

__all__ = ["address", "identifier", "quoted"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,254}")
_STRING = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]{0,128}")  # printable ASCII but " and \
_ADDRESS = re.compile(r"[0-9A-Fa-f.:/]+")


def _refuse(obj: str, key: str, value: str, rule: str) -> ConfigError:
    return ConfigError(
        f'{obj}: option "{key}": {value!r} cannot be written to an nftables ruleset ({rule})',
        obj=obj,
        key=key,
        value=value,
    )


def identifier(name: str, obj: str, key: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise _refuse(obj, key, name, "a name of letters, digits, _ . and -, starting with a letter or _")
    return name


def quoted(text: str, obj: str, key: str) -> str:
    """``text`` as an nft string in double quotes."""
    if not _STRING.fullmatch(text):
        raise _refuse(obj, key, text, 'printable ASCII without " or \\, at most 128 characters')
    return f'"{text}"'


def address(
    value: ipaddress.IPv4Address | ipaddress.IPv6Address | ipaddress.IPv4Network | ipaddress.IPv6Network,
    obj: str,
    key: str,
) -> str:
    """An address or network as nft reads it: digits, dots, colons and the prefix length only."""
    text = str(value)
    if not _ADDRESS.fullmatch(text):
        raise _refuse(obj, key, text, "an IPv6 zone ID cannot be written")
    return text
