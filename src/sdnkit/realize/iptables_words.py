"""What ``iptables-restore`` reads specially in a rule line, and the check that a value is one word.

``iptables-restore`` splits a rule line into arguments at blanks, reads ``"`` quotes (a quoted
part keeps its blanks), treats an argument starting with ``-`` as an option and a line starting
with ``#`` as a comment. A value with a blank or a quote would add arguments to the rule (an
IPv6 zone ID is free text: ``fe80::1%x -j ACCEPT`` is a valid ``ipaddress`` address), and one
starting with ``-`` would be read as an option. So every value is one plain word.
"""

from __future__ import annotations

import re

from sdnkit.errors import RealizeError

__all__ = ["word"]

_WORD = re.compile(r"[A-Za-z0-9_.:/+@][A-Za-z0-9_.:/+@-]*")


def word(value: object, obj: str, key: str) -> str:
    """``value`` as one argument of a rule line (letters, digits and ``_.:/+@-``, no leading ``-``)."""
    text = str(value)
    if not _WORD.fullmatch(text):
        raise RealizeError(
            f'{obj}: option "{key}": {text!r} cannot be one argument of an iptables rule '
            "(letters, digits and _.:/+@- only, not starting with -)",
            obj=obj,
            key=key,
            value=text,
        )
    return text
