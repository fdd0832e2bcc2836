"""Rules every write path shares: valid type and id, server-owned id and meta, "unchanged".

Single writes (:mod:`.sql`) and batch writes (:mod:`._batch_write`) both apply
them, so they live here rather than in either.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from conformance import fhir_json
from conformance.resource_types import is_resource_type
from fhir_server.errors import BadRequest, UnknownResourceType
from fhir_server.repository.protocol import format_instant

__all__ = ["check_id", "check_resource_type", "same_content", "stamp", "utc"]

_ID_PATTERN = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def check_resource_type(resource_type: str) -> None:
    """:raises UnknownResourceType: if ``resource_type`` is not an R4 resource type."""
    if not is_resource_type(resource_type):
        raise UnknownResourceType(f"Resource type `{resource_type}` is not supported by this FHIR R4 server.")


def check_id(resource_id: str) -> None:
    """:raises BadRequest: if ``resource_id`` is not a valid FHIR id."""
    if not _ID_PATTERN.fullmatch(resource_id):
        raise BadRequest(f"`{resource_id}` is not a valid FHIR id (1-64 characters of A-Z, a-z, 0-9, '-' and '.').")


def utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC time: SQLite hands back naive datetimes; everything we store is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def same_content(stored: bytes, resource: dict[str, Any]) -> bool:
    """Whether ``resource`` equals the stored JSON apart from server-owned meta.

    Decimals are compared as written: ``0.40`` and ``0.4`` are different FHIR values.
    """

    def comparable(value: dict[str, Any]) -> dict[str, Any]:
        meta = {k: v for k, v in (value.get("meta") or {}).items() if k not in ("versionId", "lastUpdated")}
        return {**{k: v for k, v in value.items() if k != "meta"}, **({"meta": meta} if meta else {})}

    return fhir_json.identical(comparable(fhir_json.loads(stored)), comparable(resource))


def stamp(resource: dict[str, Any], resource_id: str, version: int, now: datetime) -> tuple[dict[str, Any], bytes]:
    """The resource to store, and its bytes: the accepted JSON with server-owned id and meta set."""
    meta = dict(resource.get("meta") or {})
    meta["versionId"] = str(version)
    meta["lastUpdated"] = format_instant(now)
    stamped = {"resourceType": resource["resourceType"], "id": resource_id, **resource}
    stamped["id"] = resource_id
    stamped["meta"] = meta
    return stamped, fhir_json.dumps(stamped)
