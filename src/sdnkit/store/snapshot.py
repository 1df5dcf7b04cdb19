"""The SDN documents of a store, read at one instant and parsed: pending config, running config, lock token.

``load_snapshot(store)`` is how every operation starts; ``read_running(store)`` is what a node
agent needs. Document names are PVE's: ``zones.cfg`` ... ``fabrics.cfg``, ``.running-config``,
``.lock`` (the global lock token of ``POST /cluster/sdn/lock``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from sdnkit.config.model import SdnConfig
from sdnkit.config.running import RunningConfig
from sdnkit.config.schema import VERSIONED_KINDS, Kind
from sdnkit.config.section import Section, section_from_json
from sdnkit.config.sectionconfig import FILENAMES, ParsedFile, ParseIssue, parse_config
from sdnkit.errors import ConfigError
from sdnkit.store.base import ABSENT, Document, Store

__all__ = ["LOCK_DOC", "RUNNING_DOC", "Snapshot", "load_snapshot", "read_running"]

RUNNING_DOC = ".running-config"
LOCK_DOC = ".lock"


def _running(doc: Document | None) -> RunningConfig:
    if doc is None or not doc.data.strip():
        return RunningConfig.empty()
    try:
        return RunningConfig.loads(doc.data.decode("utf-8"))
    except (ConfigError, UnicodeDecodeError) as err:
        raise ConfigError(f"{RUNNING_DOC}: {err}", key=RUNNING_DOC) from err


def _lenient_running(doc: Document | None, issues: list[ParseIssue]) -> RunningConfig:
    """A PVE ``.running-config``, keeping every valid object and reporting the others."""
    if doc is None or not doc.data.strip():
        return RunningConfig.empty()
    try:
        raw = json.loads(doc.data)
        version = int(raw.get("version") or 0)
    except (ValueError, TypeError, AttributeError) as err:
        issues.append(ParseIssue(RUNNING_DOC, 0, f"unreadable ({err}); nothing is marked as applied"))
        return RunningConfig.empty()
    sections: dict[Kind, dict[str, Section]] = {}
    for kind in VERSIONED_KINDS:
        block = raw.get(kind.value) or {}
        ids = block.get("ids") or {} if isinstance(block, dict) else {}
        sections[kind] = {}
        for id_, obj in sorted(ids.items()):
            try:
                sections[kind][id_] = section_from_json(kind, id_, obj)
            except ConfigError as err:
                issues.append(ParseIssue(RUNNING_DOC, 0, f"{kind.singular} {id_!r} dropped: {err}"))
    return RunningConfig(version, SdnConfig(sections))


def read_running(store: Store) -> RunningConfig:
    """The applied configuration (version 0 and no objects when nothing was applied yet)."""
    return _running(store.read(RUNNING_DOC))


@dataclass(frozen=True)
class Snapshot:
    files: Mapping[Kind, ParsedFile]
    revisions: Mapping[str, str]  # document name -> revision when read (ABSENT: missing)
    running: RunningConfig
    lock_token: str | None
    running_issues: tuple[ParseIssue, ...] = ()  # lenient mode: running objects that were dropped

    @cached_property
    def config(self) -> SdnConfig:
        """The pending (current) configuration of every kind."""
        return SdnConfig({kind: f.sections for kind, f in self.files.items()})

    def sections(self, kind: Kind) -> dict[str, Section]:
        return self.files[kind].sections

    def digest(self, kind: Kind) -> str:
        return self.files[kind].digest

    @property
    def issues(self) -> tuple[ParseIssue, ...]:
        """What lenient parsing dropped, file by file."""
        return (*(i for f in self.files.values() for i in f.issues), *self.running_issues)

    def expect(self, *names: str) -> dict[str, str]:
        """The revisions to pass to ``Store.commit`` so it fails if these documents changed."""
        return {n: self.revisions[n] for n in names}


def load_snapshot(store: Store, *, lenient: bool = False) -> Snapshot:
    """Read and parse every SDN document in one consistent read (strict unless ``lenient``)."""
    names = [*FILENAMES.values(), RUNNING_DOC, LOCK_DOC]
    docs = store.read_many(names)
    files: dict[Kind, ParsedFile] = {}
    errors: list[ConfigError] = []
    for kind, name in FILENAMES.items():
        doc = docs[name]
        try:
            files[kind] = parse_config(kind, doc.data if doc else None, filename=name, lenient=lenient)
        except ConfigError as err:
            errors.append(err)
    if errors:
        raise ConfigError.merge(errors)
    token_doc = docs[LOCK_DOC]
    token = token_doc.data.decode("utf-8", "replace").strip() if token_doc else None
    running_issues: list[ParseIssue] = []
    running = _lenient_running(docs[RUNNING_DOC], running_issues) if lenient else _running(docs[RUNNING_DOC])
    return Snapshot(
        files=files,
        revisions={n: d.revision if d else ABSENT for n, d in docs.items()},
        running=running,
        lock_token=token or None,
        running_issues=tuple(running_issues),
    )
