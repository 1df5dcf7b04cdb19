"""The exception tree of sdnkit.

Every error raised on purpose derives from :class:`SdnError`. Each class says who has to act::

    SdnError
    ├── ConfigError (ValueError)      the user fixes the input or the configuration
    │   └── ConflictError             someone else changed it first: reload and retry
    ├── NotFoundError (KeyError)      the named object does not exist
    ├── LockError                     the SDN lock is held, or the lock token is wrong
    ├── PermissionDeniedError         the caller lacks a privilege on a path
    ├── PlanError                     the config cannot be planned for this node (facts missing)
    ├── RealizeError                  the live system refused a change; it was rolled back
    │   ├── VerifyError               the system does not match the plan after the change
    │   └── RollbackError             undoing a failed change failed too: the operator must look
    ├── PluginError                   an IPAM, DNS or DHCP backend failed
    │   ├── IpamError
    │   │   └── IpamExhaustedError    no free address left (HTTP 409)
    │   ├── DnsError
    │   └── ExternalServiceError      an external server answered badly (status, body)
    ├── NotSupportedError             the operation is not available here
    ├── StoreError                    the store (etcd) cannot be reached or refused the request
    └── InternalError                 a bug in sdnkit

Messages follow ``<kind> "<id>": <problem> (<key>=<value>)``. Errors carry ``obj``, ``key`` and
``value`` so that the API can answer with per-parameter 400 errors.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConfigError",
    "ConflictError",
    "DnsError",
    "ExternalServiceError",
    "InternalError",
    "IpamError",
    "IpamExhaustedError",
    "LockError",
    "NotFoundError",
    "NotSupportedError",
    "PermissionDeniedError",
    "PlanError",
    "PluginError",
    "RealizeError",
    "RollbackError",
    "SdnError",
    "StoreError",
    "VerifyError",
]


class SdnError(Exception):
    """Root of all sdnkit errors."""

    def __init__(
        self,
        message: str,
        *,
        obj: str | None = None,
        key: str | None = None,
        value: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.obj = obj
        self.key = key
        self.value = value

    def __str__(self) -> str:
        return self.message


class ConfigError(SdnError, ValueError):
    """Fix the config: a value, an option or a cross-object rule is wrong.

    ``errors`` maps parameter names to messages when several were found at once.
    """

    def __init__(
        self,
        message: str,
        *,
        obj: str | None = None,
        key: str | None = None,
        value: Any = None,
        errors: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, obj=obj, key=key, value=value)
        self.errors: dict[str, str] = dict(errors or ({key: message} if key else {}))

    @classmethod
    def merge(cls, errors: list[ConfigError]) -> ConfigError:
        """One error that carries every per-parameter message of ``errors``."""
        if len(errors) == 1:
            return errors[0]
        merged: dict[str, str] = {}
        for err in errors:
            merged.update(err.errors)
        text = "; ".join(err.message for err in errors)
        return cls(text, obj=errors[0].obj, key=errors[0].key, errors=merged)


class ConflictError(ConfigError):
    """Reload and retry: the configuration changed since it was read (digest mismatch)."""


class NotFoundError(SdnError, KeyError):
    """The named object does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class LockError(SdnError):
    """Wait or pass the right lock token: the SDN configuration is locked."""


class PermissionDeniedError(SdnError):
    """Ask an administrator: the caller lacks a privilege on a path."""


class PlanError(SdnError):
    """Fix the node or the config: it cannot be planned for this node."""


class RealizeError(SdnError):
    """The live system refused a change. The node was restored to its previous state."""


class VerifyError(RealizeError):
    """The live system does not match the plan after applying it."""


class RollbackError(RealizeError):
    """Undoing a failed change failed as well: the operator must inspect the node."""


class PluginError(SdnError):
    """An IPAM, DNS or DHCP backend failed."""


class IpamError(PluginError):
    """The IPAM refused the operation."""


class IpamTakenError(IpamError):
    """The address is already registered to something else: choose another one."""


class IpamExhaustedError(IpamError):
    """No free address is left in the subnet or range."""


class DnsError(PluginError):
    """The DNS backend refused the operation."""


class ExternalServiceError(PluginError):
    """An external server (NetBox, phpIPAM, PowerDNS) answered with an error."""

    def __init__(self, message: str, *, status: int | None = None, body: str = "", **kw: Any) -> None:
        super().__init__(message, **kw)
        self.status = status
        self.body = body


class NotSupportedError(SdnError):
    """The operation is not available on this system or for this type."""


class StoreError(SdnError):
    """Check the store: etcd cannot be reached (no quorum, no member answers) or refused the request."""


class InternalError(SdnError):
    """A bug in sdnkit: please report it."""
