"""The running configuration: what was last applied, as PVE's ``.running-config`` JSON (§1.3)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sdnkit.config.model import SdnConfig
from sdnkit.config.schema import VERSIONED_KINDS, Kind
from sdnkit.config.section import Section, section_from_json
from sdnkit.errors import ConfigError


@dataclass(frozen=True, slots=True)
class RunningConfig:
    version: int
    config: SdnConfig

    @classmethod
    def empty(cls) -> RunningConfig:
        return cls(0, SdnConfig({}))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunningConfig:
        """Parse a ``.running-config`` document; values may be numbers or strings as in PVE."""
        if not isinstance(data, Mapping):
            raise ConfigError("running config: expected a JSON object")
        try:
            version = int(data.get("version") or 0)
        except (TypeError, ValueError):
            raise ConfigError(f"running config: bad version {data.get('version')!r}") from None
        sections: dict[Kind, dict[str, Section]] = {}
        for kind in VERSIONED_KINDS:
            block = data.get(kind.value) or {}
            ids = block.get("ids", {}) if isinstance(block, Mapping) else {}
            sections[kind] = {i: section_from_json(kind, i, obj) for i, obj in sorted(ids.items())}
        return cls(version, SdnConfig(sections))

    @classmethod
    def loads(cls, text: str) -> RunningConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(f"running config is not valid JSON: {err}") from None
        return cls.from_json(data)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"version": self.version}
        for kind in VERSIONED_KINDS:
            secs = self.config.of(kind)
            out[kind.value] = {"ids": {i: secs[i].to_json() for i in sorted(secs)}}
        return out

    def dumps(self) -> str:
        # sorted keys: byte-identical output for identical configs (PVE's to_json is not canonical)
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
