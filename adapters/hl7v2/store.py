"""The :class:`~adapters.hl7v2.mapping.changes.Store` of mapped changes, on the repository API.

Every read and write goes through :class:`~fhir_server.repository.SqlRepository`
in the caller's session, so a change sees what the same transaction wrote
before it, and the stored resources are validated, versioned and indexed as
every other write is.
"""

from __future__ import annotations

from typing import Any

import orjson

from conformance.resource_types import R4_RESOURCE_TYPES
from fhir_server.errors import Gone, NotFound
from fhir_server.repository import SqlRepository
from fhir_server.repository._batch_write import PendingWrite
from fhir_server.search.query import parse_query

__all__ = ["RepositoryStore"]

_PAGE = 200


class RepositoryStore:
    """Reads and writes for mapped changes; remembers what it wrote (for the inbox row)."""

    def __init__(self, repo: SqlRepository) -> None:
        self.repo = repo
        #: ``Type/id`` of every resource written, in order, each once.
        self.written: list[str] = []

    def read(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        try:
            stored = self.repo.read(resource_type, resource_id)
        except (NotFound, Gone):
            return None
        assert stored.content is not None
        resource: dict[str, Any] = orjson.loads(stored.content)
        resource.pop("meta", None)
        return resource

    def write(self, resource: dict[str, Any]) -> None:
        """Write one resource now (so the next read sees it); an identical one keeps its version.

        :raises BatchWriteFailed: the repository refused it.
        """
        resource = {k: v for k, v in resource.items() if k != "meta"}
        self.repo.write_many([PendingWrite(resource, skip_unchanged=True)])
        reference = f"{resource['resourceType']}/{resource['id']}"
        if reference not in self.written:
            self.written.append(reference)

    def in_compartment(self, compartment: str, resource_id: str) -> list[dict[str, Any]]:
        registry = self.repo.registry
        types = [
            t for t in sorted(R4_RESOURCE_TYPES) if t != compartment and registry.compartment_params(compartment, t)
        ]
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = parse_query([])
            query.cursor = cursor
            page = self.repo.search(types, query, base_url="", page_size=_PAGE, compartment=(compartment, resource_id))
            for match in page.matches:
                assert match.content is not None
                resource: dict[str, Any] = orjson.loads(match.content)
                resource.pop("meta", None)
                found.append(resource)
            cursor = page.next_cursor
            if not cursor:
                return found
