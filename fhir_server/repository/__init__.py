"""The repository API: the one path by which resources are validated, versioned and stored."""

from __future__ import annotations

from fhir_server.repository.context import AccessPolicy, AllowAll, RequestContext
from fhir_server.repository.protocol import (
    FhirRepository,
    HistoryPage,
    StoredResource,
    WriteResult,
    format_instant,
)
from fhir_server.repository.sql import SqlRepository, check_id, check_resource_type

__all__ = [
    "AccessPolicy",
    "AllowAll",
    "FhirRepository",
    "HistoryPage",
    "RequestContext",
    "SqlRepository",
    "StoredResource",
    "WriteResult",
    "check_id",
    "check_resource_type",
    "format_instant",
]
