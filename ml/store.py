"""Read and write the ML package's FHIR resources through the repository API.

Search does not exist yet, so a patient's Observations are found through an
index: the importer writes one List per patient (id from
:func:`observation_index_id`) whose entries reference every Observation it
stored. :func:`observations_for_patient` reads that List and then each
Observation by id. Once search lands this becomes one
``Observation?subject=Patient/<id>`` query and the List is no longer needed;
callers do not change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from fhir_server.errors import Gone, NotFound
from fhir_server.repository import RequestContext, SqlRepository
from ml._index import observation_index_id

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from sqlalchemy.orm import Session

__all__ = [
    "ACTOR",
    "PatientRecord",
    "iter_patient_ids",
    "load_patient",
    "observation_index_id",
    "observations_for_patient",
    "repository",
    "store_resources",
]

#: The actor the ML package writes and reads as (provenance, audit).
ACTOR = "ml"


def repository(session: Session) -> SqlRepository:
    """Return a repository on ``session`` acting as :data:`ACTOR`."""
    return SqlRepository(session, RequestContext(actor=ACTOR))


def _read(repo: SqlRepository, resource_type: str, resource_id: str) -> dict[str, Any] | None:
    try:
        content = repo.read(resource_type, resource_id).content
    except (NotFound, Gone):
        return None
    return None if content is None else orjson.loads(content)


def _reference_id(reference: dict[str, Any] | None, resource_type: str) -> str | None:
    text = (reference or {}).get("reference", "")
    prefix = f"{resource_type}/"
    return text[len(prefix) :] if isinstance(text, str) and text.startswith(prefix) else None


def observations_for_patient(session: Session, patient_id: str) -> list[dict[str, Any]]:
    """Return the stored Observations of a patient, in index order.

    Observations listed in the index but since deleted are skipped. A patient
    with no index (not imported by ``ml import-physionet``) has none yet.

    :param session: a session owned by the caller.
    :param patient_id: the Patient's id.
    """
    repo = repository(session)
    index = _read(repo, "List", observation_index_id(patient_id))
    if index is None:
        return []
    observations = []
    for entry in index.get("entry", ()):
        oid = _reference_id(entry.get("item"), "Observation")
        observation = None if oid is None else _read(repo, "Observation", oid)
        if observation is not None:
            observations.append(observation)
    return observations


@dataclass(frozen=True)
class PatientRecord:
    """What scoring needs about one patient: Patient, Encounter, Observations."""

    #: The Patient resource.
    patient: dict[str, Any]
    #: The Encounter the Observations belong to, if one is indexed.
    encounter: dict[str, Any] | None
    #: The Observations, as stored.
    observations: list[dict[str, Any]]


def load_patient(session: Session, patient_id: str) -> PatientRecord:
    """Read a patient, the indexed Encounter and the Observations.

    :raises fhir_server.errors.NotFound: if the Patient does not exist.
    :raises fhir_server.errors.Gone: if it was deleted.
    """
    repo = repository(session)
    content = repo.read("Patient", patient_id).content
    patient: dict[str, Any] = orjson.loads(content or b"{}")
    index = _read(repo, "List", observation_index_id(patient_id)) or {}
    encounter_id = _reference_id(index.get("encounter"), "Encounter")
    encounter = None if encounter_id is None else _read(repo, "Encounter", encounter_id)
    return PatientRecord(patient, encounter, observations_for_patient(session, patient_id))


def iter_patient_ids(session: Session, page_size: int = 500) -> Iterator[str]:
    """Yield the id of every current Patient once, through type-level history.

    History pages newest first; an id seen before (an older version) or whose
    latest version is a delete is not yielded again. Will become a ``Patient``
    search with ``_elements=id`` once search exists.
    """
    repo = repository(session)
    seen: set[str] = set()
    cursor: int | None = None
    while True:
        page = repo.history("Patient", count=page_size, cursor=cursor)
        for entry in page.entries:
            if entry.id not in seen:
                seen.add(entry.id)
                if not entry.deleted:
                    yield entry.id
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def store_resources(session: Session, resources: Iterable[dict[str, Any]]) -> int:
    """Create or update each resource by its id; return how many were written.

    Every resource must carry an id (the converters assign deterministic ones),
    so storing the same input twice writes new versions, not duplicates.

    :raises fhir_server.errors.InvalidResource: if a resource fails validation.
    """
    repo = repository(session)
    count = 0
    for resource in resources:
        repo.update(resource["resourceType"], resource["id"], resource)
        count += 1
    return count
