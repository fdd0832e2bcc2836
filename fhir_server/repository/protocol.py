"""The storage API every writer and reader uses: REST, HL7 v2, DICOM, ML, CLI.

:class:`FhirRepository` is the interface; :class:`~fhir_server.repository.sql.SqlRepository`
implements it on SQLAlchemy. Repository methods never commit: the caller owns
the session (see :func:`fhir_server.db.unit_of_work`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from conformance.issues import ValidationIssue


def format_instant(moment: datetime) -> str:
    """Render a timestamp as a FHIR ``instant`` in UTC."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class StoredResource:
    """One version of a resource as stored (current or historical)."""

    resource_type: str
    id: str
    version_id: int
    last_updated: datetime
    #: The exact JSON bytes served for this version; ``None`` for a delete.
    content: bytes | None
    #: HTTP verb that produced this version (POST, PUT, PATCH, DELETE).
    method: str = "PUT"

    @property
    def deleted(self) -> bool:
        return self.content is None

    @property
    def etag(self) -> str:
        return f'W/"{self.version_id}"'

    @property
    def reference(self) -> str:
        return f"{self.resource_type}/{self.id}"


@dataclass(frozen=True, slots=True)
class WriteResult:
    """Outcome of create/update: the version written and whether it is new."""

    stored: StoredResource
    created: bool


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """One page of a history, newest first."""

    entries: list[StoredResource]
    #: Cursor for the next (older) page, or ``None`` on the last page.
    next_cursor: int | None


class FhirRepository(Protocol):
    """Create, read, version and page FHIR resources."""

    def validate(self, resource: Any, *, resource_type: str | None = None) -> list[ValidationIssue]:
        """Validate without storing (http://hl7.org/fhir/R4/resource-operation-validate.html)."""
        ...

    def create(
        self, resource: dict[str, Any], *, method: str = "POST", resource_id: str | None = None
    ) -> StoredResource:
        """Create with a server-assigned id (http://hl7.org/fhir/R4/http.html#create)."""
        ...

    def patch(
        self, resource_type: str, resource_id: str, patch: Any, media_type: str, *, if_match: int | None = None
    ) -> StoredResource:
        """JSON Patch or FHIRPath Patch (http://hl7.org/fhir/R4/http.html#patch)."""
        ...

    def read(self, resource_type: str, resource_id: str) -> StoredResource:
        """Current version (http://hl7.org/fhir/R4/http.html#read)."""
        ...

    def vread(self, resource_type: str, resource_id: str, version_id: str) -> StoredResource:
        """A specific version (http://hl7.org/fhir/R4/http.html#vread)."""
        ...

    def update(
        self,
        resource_type: str,
        resource_id: str,
        resource: dict[str, Any],
        *,
        if_match: int | None = None,
        method: str = "PUT",
        skip_unchanged: bool = False,
    ) -> WriteResult:
        """Update, or create with the client's id (http://hl7.org/fhir/R4/http.html#update)."""
        ...

    def delete(self, resource_type: str, resource_id: str, *, if_match: int | None = None) -> StoredResource | None:
        """Delete (http://hl7.org/fhir/R4/http.html#delete); ``None`` if nothing to delete."""
        ...

    def history(
        self,
        resource_type: str | None = None,
        resource_id: str | None = None,
        *,
        since: datetime | None = None,
        count: int = 20,
        cursor: int | None = None,
    ) -> HistoryPage:
        """Instance, type or system history (http://hl7.org/fhir/R4/http.html#history)."""
        ...
