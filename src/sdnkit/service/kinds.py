"""The API collections: how each one names its objects and shapes them in answers (spec §4.1).

A collection is what an API path lists: ``zones``, ``vnets``, ``subnets``, ``controllers``,
``ipams``, ``dns``, and the two halves of ``fabrics.cfg``: ``fabrics`` (``/fabrics/fabric``) and
``fabric-nodes`` (``/fabrics/node``). Each ``Adapter`` knows its ID parameters, its type parameter
and its answer shape; the operations in ``service/objects.py`` are the same for all of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sdnkit.config.formats import NODE_NAME
from sdnkit.config.model import FabricProtocol, SdnConfig
from sdnkit.config.schema import DHCP_RANGE, REF_FABRIC, Kind
from sdnkit.config.section import (
    Section,
    check_subnet_cidr,
    parse_subnet_id,
    section_type,
    subnet_id,
    validate_id,
)
from sdnkit.errors import ConfigError
from sdnkit.service.params import Params, text

__all__ = ["ADAPTERS", "Adapter", "Collection"]


class Collection(StrEnum):
    ZONES = "zones"
    VNETS = "vnets"
    SUBNETS = "subnets"
    CONTROLLERS = "controllers"
    IPAMS = "ipams"
    DNS = "dns"
    FABRICS = "fabrics"
    FABRIC_NODES = "fabric-nodes"


@dataclass(frozen=True)
class Adapter:
    """Zones, controllers, IPAMs and DNS: ``<id_param>`` names the object, ``type`` its type."""

    collection: Collection
    kind: Kind
    id_param: str
    filters: tuple[str, ...] = ("type",)  # list parameters that select objects by a field

    def owns(self, section: Section) -> bool:
        return True

    def label(self, id_: str) -> str:
        return f'{self.kind.singular} "{id_}"'

    def new_id(self, params: Params, cfg: SdnConfig) -> str:
        return validate_id(self.kind, text(params, self.id_param, required=True))

    def existing_id(self, params: Params, cfg: SdnConfig) -> str:
        return str(text(params, self.id_param, required=True))

    def new_type(self, params: Params, cfg: SdnConfig, id_: str) -> str:
        return section_type(self.kind, text(params, "type", required=True))

    def check_existing(self, params: Params, obj: dict[str, Any]) -> None:
        """Consume identifying parameters of an existing object and check they agree with it."""
        type_ = text(params, "type")
        if type_ is not None and type_.lower() != obj.get("type"):
            raise ConfigError(
                f"{self.label(obj[self.id_param])}: the type cannot change ({obj.get('type')}, not {type_})",
                key="type",
                value=type_,
            )

    def api(self, section: Section) -> dict[str, Any]:
        return {self.id_param: section.id, **section.to_api()}

    def api_pending(self, id_: str, obj: dict[str, Any]) -> dict[str, Any]:
        return {self.id_param: id_, **obj}


@dataclass(frozen=True)
class VnetAdapter(Adapter):
    def new_type(self, params: Params, cfg: SdnConfig, id_: str) -> str:
        return section_type(self.kind, text(params, "type"))


def _dhcp_ranges(raw: Any) -> list[dict[str, Any]]:
    """``dhcp-range`` as the API returns it: ``[{start-address, end-address}]``."""
    return [dict(DHCP_RANGE.parse(item)) for item in raw or ()]


@dataclass(frozen=True)
class SubnetAdapter(Adapter):
    """Subnets: created by CIDR in a vnet; their ID is ``<zone>-<address>-<prefix length>``."""

    def new_id(self, params: Params, cfg: SdnConfig) -> str:
        cidr = check_subnet_cidr(text(params, "subnet", required=True, what="CIDR"))
        vnet = params.get("vnet")
        if not vnet:
            raise ConfigError("missing parameter 'vnet'", key="vnet")
        owner = cfg.vnets.get(str(vnet))
        if owner is None:
            raise ConfigError(f'vnet "{vnet}" does not exist', key="vnet", value=vnet)
        return subnet_id(owner.zone, cidr)

    def existing_id(self, params: Params, cfg: SdnConfig) -> str:
        raw = str(text(params, "subnet", required=True))
        if "/" not in raw:
            return raw
        vnet = params.get("vnet")  # a CIDR is looked up in the vnet's zone
        owner = cfg.vnets.get(str(vnet)) if vnet else None
        if owner is None:
            raise ConfigError(f"subnet {raw}: give an existing vnet to find a subnet by CIDR", key="vnet")
        return subnet_id(owner.zone, check_subnet_cidr(raw))

    def new_type(self, params: Params, cfg: SdnConfig, id_: str) -> str:
        return section_type(self.kind, text(params, "type"))

    def check_existing(self, params: Params, obj: dict[str, Any]) -> None:
        super().check_existing(params, obj)
        vnet = text(params, "vnet")
        if vnet is not None and vnet != obj.get("vnet"):
            raise ConfigError(
                f'subnet "{obj["subnet"]}": wrong vnet {vnet} (it belongs to vnet "{obj.get("vnet")}")',
                key="vnet",
                value=vnet,
            )

    def _derived(self, id_: str) -> dict[str, Any]:
        zone, cidr = parse_subnet_id(id_)
        network, mask = cidr.split("/")
        return {"subnet": id_, "id": id_, "cidr": cidr, "zone": zone, "network": network, "mask": mask}

    def api(self, section: Section) -> dict[str, Any]:
        out = {**section.to_api(), **self._derived(section.id)}
        out["dhcp-range"] = [dict(p) for p in section.get("dhcp-range", ())]
        return out

    def api_pending(self, id_: str, obj: dict[str, Any]) -> dict[str, Any]:
        return {**obj, **self._derived(id_), "dhcp-range": _dhcp_ranges(obj.get("dhcp-range"))}


def _protocol(params: Params, default: str | None = None) -> str:
    raw = text(params, "protocol") or default
    if raw is None:
        raise ConfigError("missing parameter 'protocol' (openfabric or ospf)", key="protocol")
    if raw not in FabricProtocol.__members__.values():
        choices = ", ".join(p.value for p in FabricProtocol)
        raise ConfigError(f"invalid protocol {raw!r} (one of {choices})", key="protocol", value=raw)
    return raw


def _check_protocol(params: Params, obj: dict[str, Any], label: str) -> None:
    proto = text(params, "protocol")
    if proto is not None and proto != obj.get("protocol"):
        text_ = f"{label}: the protocol cannot change ({obj.get('protocol')}, not {proto})"
        raise ConfigError(text_, key="protocol", value=proto)


def _options(section: Section) -> dict[str, Any]:
    out = section.to_api()
    out.pop("type", None)
    return out


@dataclass(frozen=True)
class FabricAdapter(Adapter):
    """Fabrics (``<protocol>_fabric`` sections): ``id`` and ``protocol``."""

    def owns(self, section: Section) -> bool:
        return section.type.endswith("_fabric")

    def new_id(self, params: Params, cfg: SdnConfig) -> str:
        id_ = str(text(params, "id", required=True))
        if not re.fullmatch(REF_FABRIC.pattern or "", id_):
            raise ConfigError(f"fabric ID {id_!r}: expected 2-8 letters, digits and '-'", key="id", value=id_)
        return id_

    def new_type(self, params: Params, cfg: SdnConfig, id_: str) -> str:
        return f"{_protocol(params)}_fabric"

    def check_existing(self, params: Params, obj: dict[str, Any]) -> None:
        _check_protocol(params, obj, self.label(obj["id"]))

    def api(self, section: Section) -> dict[str, Any]:
        return {"id": section.id, "protocol": section.type.split("_")[0], **_options(section)}

    def api_pending(self, id_: str, obj: dict[str, Any]) -> dict[str, Any]:
        rest = {k: v for k, v in obj.items() if k != "type"}
        return {**rest, "id": id_, "protocol": str(obj["type"]).split("_")[0]}


@dataclass(frozen=True)
class FabricNodeAdapter(Adapter):
    """Fabric nodes (``<protocol>_node`` sections ``<fabric>_<node>``): ``fabric_id`` and ``node_id``."""

    def owns(self, section: Section) -> bool:
        return section.type.endswith("_node")

    def label(self, id_: str) -> str:
        fabric, _, node = id_.partition("_")
        return f'node "{node}" of fabric "{fabric}"'

    def _ids(self, params: Params) -> tuple[str, str]:
        fabric = str(text(params, "fabric_id", required=True))
        node = str(text(params, "node_id", required=True))
        return fabric, node

    def new_id(self, params: Params, cfg: SdnConfig) -> str:
        fabric, node = self._ids(params)
        if fabric not in cfg.fabrics:
            raise ConfigError(f'fabric "{fabric}" does not exist', key="fabric_id", value=fabric)
        if not NODE_NAME.fullmatch(node) or len(node) > 63:
            raise ConfigError(f"node ID {node!r} is not a node name", key="node_id", value=node)
        return f"{fabric}_{node}"

    def existing_id(self, params: Params, cfg: SdnConfig) -> str:
        return "_".join(self._ids(params))

    def new_type(self, params: Params, cfg: SdnConfig, id_: str) -> str:
        fabric = cfg.fabrics[id_.partition("_")[0]]
        proto = _protocol(params, fabric.protocol.value)
        if proto != fabric.protocol:
            text_ = f'protocol {proto} differs from protocol {fabric.protocol} of fabric "{fabric.id}"'
            raise ConfigError(text_, key="protocol", value=proto)
        return f"{proto}_node"

    def check_existing(self, params: Params, obj: dict[str, Any]) -> None:
        _check_protocol(params, obj, self.label(f"{obj['fabric_id']}_{obj['node_id']}"))

    def _names(self, id_: str) -> dict[str, str]:
        fabric, _, node = id_.partition("_")
        return {"fabric_id": fabric, "node_id": node}

    def api(self, section: Section) -> dict[str, Any]:
        return {**self._names(section.id), "protocol": section.type.split("_")[0], **_options(section)}

    def api_pending(self, id_: str, obj: dict[str, Any]) -> dict[str, Any]:
        rest = {k: v for k, v in obj.items() if k not in ("type", "id")}
        return {**rest, **self._names(id_), "protocol": str(obj["type"]).split("_")[0]}


ADAPTERS: dict[Collection, Adapter] = {
    Collection.ZONES: Adapter(Collection.ZONES, Kind.ZONES, "zone"),
    Collection.VNETS: VnetAdapter(Collection.VNETS, Kind.VNETS, "vnet", filters=()),
    Collection.SUBNETS: SubnetAdapter(Collection.SUBNETS, Kind.SUBNETS, "subnet", filters=("vnet",)),
    Collection.CONTROLLERS: Adapter(Collection.CONTROLLERS, Kind.CONTROLLERS, "controller"),
    Collection.IPAMS: Adapter(Collection.IPAMS, Kind.IPAMS, "ipam"),
    Collection.DNS: Adapter(Collection.DNS, Kind.DNS, "dns"),
    Collection.FABRICS: FabricAdapter(Collection.FABRICS, Kind.FABRICS, "id", filters=()),
    Collection.FABRIC_NODES: FabricNodeAdapter(
        Collection.FABRIC_NODES, Kind.FABRICS, "node_id", filters=("fabric_id",)
    ),
}
