"""The web UI's files: vendored exactly as recorded, self-contained (no network at run time), wired up.

``scripts/vendor-web.sh`` writes ``static/vendor`` from ``package-lock.json`` and records each
file's SHA-256 in ``MANIFEST``; a vendored file edited by hand, a version bumped in one place
only, a module import that points nowhere or an asset loaded from another origin fails here.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from sdnkit.api.webui import CONTENT_TYPES, STATIC_DIR

WEB = STATIC_DIR.parent
VENDOR = STATIC_DIR / "vendor"
IMPORT = re.compile(r"""(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]""")


def _manifest() -> tuple[dict[str, str], dict[str, str]]:
    versions, hashes = {}, {}
    for line in (VENDOR / "MANIFEST").read_text().splitlines():
        if match := re.fullmatch(r"# (\S+) (\d+\.\d+\.\d+)", line):
            versions[match[1]] = match[2]
        elif line and not line.startswith("#"):
            digest, name = line.split()
            hashes[name] = digest
    return versions, hashes


def test_vendored_files_are_exactly_what_the_manifest_records() -> None:
    _versions, hashes = _manifest()
    assert set(hashes) == {p.name for p in VENDOR.iterdir() if p.name != "MANIFEST"}
    for name, digest in hashes.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    assert (VENDOR / "LICENSE.preact.txt").read_text().startswith("The MIT License")


def test_versions_agree_between_package_json_lockfile_and_manifest() -> None:
    versions, _hashes = _manifest()
    wanted = json.loads((WEB / "package.json").read_text())["dependencies"]
    locked = json.loads((WEB / "package-lock.json").read_text())["packages"]
    assert wanted == versions
    for name, version in versions.items():
        assert locked[f"node_modules/{name}"]["version"] == version
        assert locked[f"node_modules/{name}"]["integrity"].startswith("sha512-")


def _modules() -> list[Path]:
    return sorted(STATIC_DIR.rglob("*.js"))


@pytest.mark.parametrize("module", _modules(), ids=lambda p: str(p.relative_to(STATIC_DIR)))
def test_every_module_import_resolves_to_a_shipped_file(module: Path) -> None:
    for match in IMPORT.finditer(module.read_text()):
        target = match[1] or match[2]
        assert target.startswith("."), (
            f"{module.name}: bare import {target!r} (the browser cannot resolve it)"
        )
        assert (module.parent / target).resolve().is_file(), f"{module.name}: {target} does not exist"


def test_nothing_is_loaded_from_another_origin() -> None:
    own = [p for p in STATIC_DIR.rglob("*") if p.is_file() and p.parent != VENDOR]
    assert {p.suffix for p in own} <= set(CONTENT_TYPES), "a file type the server would not serve"
    for path in own:
        text = path.read_text()
        assert not re.search(r"(src|href)\s*=\s*['\"]?(https?:)?//", text), path
        assert "@import" not in text and "url(http" not in text, path
    index = (STATIC_DIR / "index.html").read_text()
    assert re.findall(r'<script[^>]*src="([^"]+)"', index) == ["js/app.js"]
    assert "<script>" not in index and " style=" not in index  # the CSP allows no inline code
