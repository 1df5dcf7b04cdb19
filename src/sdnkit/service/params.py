"""Raw request parameters as the API and pvesh get them: strings or JSON values, PVE names.

Every helper removes what it reads from the mutable ``params`` dict, so that whatever is left at the
end is an object option (or an unknown parameter, which is refused).
"""

from __future__ import annotations

from typing import Any

from sdnkit.config.formats import Boolean, clean_text, split_list
from sdnkit.errors import ConfigError

__all__ = ["Params", "flag", "integer", "no_more", "option_list", "text"]

Params = dict[str, Any]

_BOOL = Boolean()


def flag(params: Params, key: str, default: bool = False) -> bool:
    """A boolean parameter (``1``/``0``, ``true``/``false``, JSON booleans)."""
    if key not in params or params[key] is None:
        params.pop(key, None)
        return default
    raw = params.pop(key)
    try:
        return _BOOL.parse(raw)
    except ValueError as err:
        raise ConfigError(f'invalid value for "{key}": {err}', key=key, value=raw) from None


def text(params: Params, key: str, *, required: bool = False, what: str | None = None) -> str | None:
    """A single-line string parameter; ``required`` refuses a missing or empty one."""
    raw = params.pop(key, None)
    if raw is None or raw == "":
        if required:
            raise ConfigError(f"missing parameter {key!r}{f' ({what})' if what else ''}", key=key)
        return None
    try:
        return clean_text(raw)
    except ValueError as err:
        raise ConfigError(f'invalid value for "{key}": {err}', key=key, value=raw) from None


def integer(params: Params, key: str) -> int | None:
    """A whole-number parameter (a JSON number or its decimal text); None when absent."""
    raw = params.pop(key, None)
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).strip().isdigit():
        raise ConfigError(f"invalid value for {key!r}: {raw!r} is not a whole number", key=key, value=raw)
    return int(raw)


def option_list(params: Params, key: str) -> list[str]:
    """A comma separated list parameter such as ``delete=dns,mtu``."""
    raw = params.pop(key, None)
    if raw is None or raw == "":
        return []
    try:
        return split_list(raw)
    except ValueError as err:
        raise ConfigError(f'invalid value for "{key}": {err}', key=key, value=raw) from None


def no_more(params: Params, what: str) -> None:
    """Refuse parameters nobody consumed (PVE's ``additionalProperties => 0``)."""
    if params:
        errors = {k: f"property is not defined in schema of {what}" for k in sorted(params)}
        raise ConfigError(
            f"{what}: unknown parameter(s) {', '.join(sorted(params))}", key=next(iter(errors)), errors=errors
        )
