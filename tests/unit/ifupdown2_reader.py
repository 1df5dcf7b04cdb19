"""ifupdown2's own interfaces-file parser, loaded in-process: an independent reader for our output.

Debian's ifupdown2 is unpacked (not installed) by ``scripts/ifupdown2.sh prepare`` into
``$SDN_CACHE_DIR/ifupdown2`` (default ``/var/cache/sdnkit/ifupdown2``). Its parser
(``ifupdown/networkinterfaces.py``) needs nothing but the standard library, so tests read our
rendered files with it exactly as ``ifup`` would, without a namespace or root. When the package
cannot be prepared the tests that need it skip (outside CI) or fail (``CI`` set).
"""

from __future__ import annotations

import functools
import importlib
import os
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ifupdown2.sh"


@dataclass(frozen=True)
class Stanza:
    name: str
    family: str | None
    options: tuple[tuple[str, tuple[str, ...]], ...]  # key -> values, in file order

    def get(self, key: str) -> tuple[str, ...]:
        return dict(self.options).get(key, ())


@dataclass(frozen=True)
class Parsed:
    stanzas: tuple[Stanza, ...]
    auto: tuple[str, ...]
    errors: int


@functools.cache
def _parser_class() -> Any:
    done = subprocess.run(["sh", str(SCRIPT), "prepare"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = f"ifupdown2 could not be prepared: {done.stderr.strip()}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    pkgdir = Path(done.stdout.strip()) / "root" / "usr" / "share" / "ifupdown2"
    sys.path.insert(0, str(pkgdir))
    try:
        with warnings.catch_warnings():  # its regexes have invalid escapes (SyntaxWarning on 3.12+)
            warnings.simplefilter("ignore")
            return importlib.import_module("ifupdown.networkinterfaces").networkInterfaces
    finally:
        sys.path.remove(str(pkgdir))


def read_interfaces(text: str) -> Parsed:
    """``text`` as ifupdown2 reads it: its stanzas (with their options), ``auto`` names, errors."""
    found: list[Any] = []
    parser = _parser_class()()
    parser.subscribe("iface_found", found.append)
    parser.subscribe("validateifaceattr", lambda _key, _value: True)
    parser.read_filedata(text)
    stanzas = tuple(
        Stanza(
            obj.name,
            obj.addr_family[0] if obj.addr_family else None,
            tuple((key, tuple(values)) for key, values in obj.config.items()),
        )
        for obj in found
    )
    return Parsed(stanzas, tuple(parser.auto_ifaces), parser.errors)
