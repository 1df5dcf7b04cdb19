"""What dnsmasq reads specially in its configuration files, and the checks that no value holds it.

dnsmasq (``option.c``, ``read_file``) reads a file line by line; on each line it removes ``"``
quotes (a quoted part keeps its blanks and reads ``\\`` escapes), collapses blanks, and cuts the
line at a ``#`` that follows a blank. An option's arguments are split at ``,``; an IPv6 address
is written in ``[...]`` where a ``:`` could be read as a separator (``dhcp-option`` values, the
hosts file), and without them in a ``dhcp-range``.

Every value the renderer writes is therefore one plain word (letters, digits and ``_.:/+@-``),
an IPv6 address goes into brackets only after that check (so no ``%zone`` or ``]`` rides
along), and a path holds no blank, ``,``, ``#``, quote or backslash. ``check_file`` then checks
a whole rendered file for anything but printable ASCII and its own line breaks.
"""

from __future__ import annotations

import ipaddress
import re

from sdnkit.config.characters import describe
from sdnkit.errors import ConfigError

__all__ = ["address", "check_file", "path", "word"]

_WORD = re.compile(r"[A-Za-z0-9_.:/+@-]+")
_PATH = re.compile(r"/[A-Za-z0-9_.:/+@=-]*")
_UNSAFE = re.compile(r"[^\x20-\x7e\n]")


def _refuse(obj: str, key: str, value: object, rule: str) -> ConfigError:
    return ConfigError(
        f'{obj}: option "{key}": {str(value)!r} cannot be written to a dnsmasq file ({rule})',
        obj=obj,
        key=key,
        value=str(value),
    )


def word(value: object, obj: str, key: str) -> str:
    """``value`` as one argument of a dnsmasq option (no separator, quote, comment or blank)."""
    text = str(value)
    if not _WORD.fullmatch(text):
        raise _refuse(obj, key, text, "letters, digits and _.:/+@- only")
    return text


def address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, obj: str, key: str) -> str:
    """An address as dnsmasq reads it in a list: IPv6 in brackets, never with a zone ID."""
    text = word(ip, obj, key)
    if "%" in text or getattr(ip, "scope_id", None):
        raise _refuse(obj, key, text, "an IPv6 zone ID cannot be written")
    return text if ip.version == 4 else f"[{text}]"


def path(value: object, obj: str, key: str) -> str:
    """An absolute path as an option value: no blank, ``,``, ``#``, quote or backslash."""
    text = str(value)
    if not _PATH.fullmatch(text):
        raise _refuse(obj, key, text, "a path of letters, digits and _.:/+@=- only")
    return text


def check_file(name: str, text: str) -> str:
    """``text`` if it holds printable ASCII and line breaks only (dnsmasq reads it line by line)."""
    match = _UNSAFE.search(text)
    if match is not None:
        start = text.rfind("\n", 0, match.start()) + 1
        end = text.find("\n", match.start())
        line = text[start : len(text) if end < 0 else end]
        raise ConfigError(
            f"dnsmasq file {name}: {describe(match[0])} cannot be written (line {line!r})",
            obj=f"dnsmasq file {name}",
            value=line,
        )
    return text
