"""Patient ``$everything``: the patient, its compartment, and what those refer to.

http://hl7.org/fhir/R4/patient-operation-everything.html. The compartment comes
from the registry's ``compartment_params`` (the R4 Patient CompartmentDefinition);
resources the page refers to (practitioners, organizations...) come as ``include``
entries. ``start``/``end`` (clinical dates) are not supported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from conformance.resource_types import R4_RESOURCE_TYPES
from fhir_server.repository._search import SearchResult
from fhir_server.repository.protocol import StoredResource, format_instant
from fhir_server.search.query import parse_query

if TYPE_CHECKING:
    from fhir_server.repository.sql import SqlRepository

OPERATION_DEFINITION = "http://hl7.org/fhir/OperationDefinition/Patient-everything"


@dataclass(frozen=True, slots=True)
class EverythingRequest:
    """The in-parameters of ``$everything``."""

    patient_id: str
    #: ``_since``: only resources last updated at or after this instant.
    since: datetime | None = None
    #: ``_type``: only these resource types (empty: all in the compartment).
    types: tuple[str, ...] = ()
    count: int = 20
    cursor: str | None = None


def compartment_types(repo: SqlRepository, wanted: tuple[str, ...] = ()) -> list[str]:
    """The resource types that can be in a Patient compartment, limited to ``wanted`` if given.

    Without ``wanted``, only the types the caller may search: "everything" is everything
    the caller is allowed to see (a ``patient/*.rs`` token does not reach AuditEvent).
    Types named in ``wanted`` are kept, so the search refuses those it may not see.
    """
    members = [t for t in sorted(R4_RESOURCE_TYPES) if repo.registry.compartment_params("Patient", t)]
    if wanted:
        return [t for t in members if t in wanted]
    return [t for t in members if repo.permits("search", t)]


def everything(
    repo: SqlRepository, request: EverythingRequest, *, base_url: str
) -> tuple[StoredResource | None, SearchResult]:
    """The patient (on the first page only, when wanted) and one page of its compartment.

    Resources that the patient or the page's matches refer to come back as ``includes``.

    :raises NotFound: when the patient does not exist (``Gone`` when deleted).
    """
    patient = repo.read("Patient", request.patient_id)
    criteria = [("_include", "*")]
    if request.since is not None:
        criteria.append(("_lastUpdated", f"ge{format_instant(request.since)}"))
    query = parse_query(criteria)
    query.cursor = request.cursor
    types = compartment_types(repo, request.types)
    result = SearchResult(matches=[])
    if types:
        result = repo.search(
            types, query, base_url=base_url, page_size=request.count, compartment=("Patient", request.patient_id)
        )
    if request.cursor is not None or (request.types and "Patient" not in request.types):
        return None, result
    # The patient is its own compartment's anchor: searched by id so _since and its references apply too.
    own = repo.search(["Patient"], parse_query([("_id", patient.id), *criteria]), base_url=base_url, page_size=1)
    seen = {r.reference for r in result.matches} | {patient.reference}
    extra = [r for r in own.includes if r.reference not in seen]
    result.matches = [m for m in result.matches if m.reference != patient.reference]
    result.includes = [r for r in result.includes if r.reference not in seen] + [
        r for r in extra if r.reference not in {i.reference for i in result.includes}
    ]
    return (own.matches[0] if own.matches else None), result
