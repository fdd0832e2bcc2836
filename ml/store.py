"""Read and write the ML package's FHIR resources through the repository API.

A patient's Observations are found by search, ``Observation?subject=Patient/<id>``,
paged with the repository's keyset cursor, so Observations from any writer
(REST, HL7 v2, the PhysioNet importer) are read the same way. The ICU Encounter
is found by ``Encounter?subject=Patient/<id>``: the one that started last, or the
one named by ``$risk-assessment`` at Encounter level.

Every function takes either a session (it then acts as :data:`ACTOR`) or a
repository already bound to one (a REST request's, acting as its caller), and
never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conformance import fhir_json
from fhir_server.errors import Gone, NotFound
from fhir_server.repository import RequestContext, SqlRepository
from fhir_server.search.query import parse_query

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from sqlalchemy.orm import Session

__all__ = [
    "ACTOR",
    "PAGE_SIZE",
    "PatientRecord",
    "encounters_for_patient",
    "iter_patient_ids",
    "load_encounter",
    "load_patient",
    "observations_for_patient",
    "replace_record",
    "repository",
    "store_resources",
]

#: The actor the ML package writes and reads as (provenance, audit).
ACTOR = "ml"
#: Search page size: 48 hours of ICU data is about 450 Observations, so one page.
PAGE_SIZE = 1000
# Search links are never rendered here, so no real base URL is needed.
_BASE = "urn:fhir-server:ml"


def repository(source: Session | SqlRepository) -> SqlRepository:
    """Return ``source`` if it is a repository, else one on that session acting as :data:`ACTOR`."""
    if isinstance(source, SqlRepository):
        return source
    return SqlRepository(source, RequestContext(actor=ACTOR))


def _read(repo: SqlRepository, resource_type: str, resource_id: str) -> dict[str, Any] | None:
    try:
        content = repo.read(resource_type, resource_id).content
    except (NotFound, Gone):
        return None
    return None if content is None else fhir_json.loads(content)


def _search(repo: SqlRepository, resource_type: str, pairs: list[tuple[str, str]]) -> Iterator[dict[str, Any]]:
    """Yield every match of a search, following the cursor page by page."""
    cursor: str | None = None
    while True:
        page_pairs = pairs if cursor is None else [*pairs, ("_cursor", cursor)]
        result = repo.search([resource_type], parse_query(page_pairs), base_url=_BASE, page_size=PAGE_SIZE)
        for stored in result.matches:
            if stored.content is not None:
                yield fhir_json.loads(stored.content)
        cursor = result.next_cursor
        if cursor is None:
            return


def observations_for_patient(
    source: Session | SqlRepository, patient_id: str, *, encounter_id: str | None = None
) -> list[dict[str, Any]]:
    """Return the current Observations whose subject is the patient.

    :param encounter_id: leave out Observations that name a different Encounter
        (those naming none are kept: HL7 v2 results often carry no visit).
    """
    found = _search(repository(source), "Observation", [("subject", f"Patient/{patient_id}")])
    if encounter_id is None:
        return list(found)
    wanted = f"Encounter/{encounter_id}"
    return [o for o in found if (o.get("encounter") or {}).get("reference", wanted) == wanted]


def encounters_for_patient(source: Session | SqlRepository, patient_id: str) -> list[dict[str, Any]]:
    """Return the patient's current Encounters, latest ``period.start`` first."""
    found = list(_search(repository(source), "Encounter", [("subject", f"Patient/{patient_id}")]))
    # ISO 8601 instants with the same offset sort as text; ones without a start go last.
    return sorted(found, key=lambda e: str((e.get("period") or {}).get("start") or ""), reverse=True)


@dataclass(frozen=True)
class PatientRecord:
    """What scoring needs about one patient: Patient, Encounter, Observations."""

    #: The Patient resource.
    patient: dict[str, Any]
    #: The Encounter the Observations belong to, if the patient has one.
    encounter: dict[str, Any] | None
    #: The Observations, as stored.
    observations: list[dict[str, Any]]


def load_patient(source: Session | SqlRepository, patient_id: str) -> PatientRecord:
    """Read a patient, the latest Encounter and the Observations.

    :raises fhir_server.errors.NotFound: if the Patient does not exist.
    :raises fhir_server.errors.Gone: if it was deleted.
    """
    repo = repository(source)
    patient: dict[str, Any] = fhir_json.loads(repo.read("Patient", patient_id).content or b"{}")
    encounters = encounters_for_patient(repo, patient_id)
    encounter = encounters[0] if encounters else None
    observations = observations_for_patient(
        repo, patient_id, encounter_id=None if encounter is None else encounter["id"]
    )
    return PatientRecord(patient, encounter, observations)


def load_encounter(source: Session | SqlRepository, encounter_id: str) -> PatientRecord:
    """Read an Encounter, its subject Patient and that patient's Observations of this stay.

    :raises fhir_server.errors.NotFound: if the Encounter does not exist or has no Patient subject.
    :raises fhir_server.errors.Gone: if it (or its Patient) was deleted.
    """
    repo = repository(source)
    encounter: dict[str, Any] = fhir_json.loads(repo.read("Encounter", encounter_id).content or b"{}")
    subject = str((encounter.get("subject") or {}).get("reference") or "")
    if not subject.startswith("Patient/"):
        raise NotFound(f"Encounter `{encounter_id}` has no Patient subject to assess.")
    patient_id = subject.removeprefix("Patient/")
    patient: dict[str, Any] = fhir_json.loads(repo.read("Patient", patient_id).content or b"{}")
    return PatientRecord(patient, encounter, observations_for_patient(repo, patient_id, encounter_id=encounter_id))


def iter_patient_ids(source: Session | SqlRepository, page_size: int = 500) -> Iterator[str]:
    """Yield the id of every current Patient once, through type-level history.

    History pages newest first; an id seen before (an older version) or whose
    latest version is a delete is not yielded again.
    """
    repo = repository(source)
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


def store_resources(source: Session | SqlRepository, resources: Iterable[dict[str, Any]]) -> int:
    """Create or update each resource by its id; return how many were written.

    Every resource must carry an id (the converters assign deterministic ones),
    so storing the same input twice writes new versions, not duplicates.

    :raises fhir_server.errors.InvalidResource: if a resource fails validation.
    """
    repo = repository(source)
    count = 0
    for resource in resources:
        repo.update(resource["resourceType"], resource["id"], resource)
        count += 1
    return count


def replace_record(source: Session | SqlRepository, resources: list[dict[str, Any]], *, stale_prefix: str) -> int:
    """Store one imported record so that importing it again converges on the same state.

    ``resources`` is a Patient first, then the rest, with deterministic ids. A
    resource whose content is unchanged keeps its version (a re-run writes
    nothing new); the patient's Observations whose id starts with
    ``stale_prefix`` but which this import no longer produces (a row since
    removed or skipped) are deleted, so no earlier import's leftovers linger.

    :returns: how many resources the record has, now stored (written or already identical).
    :raises fhir_server.errors.InvalidResource: if a resource fails validation.
    """
    repo = repository(source)
    wanted = {resource["id"] for resource in resources}
    stale = [
        observation["id"]
        for observation in observations_for_patient(repo, resources[0]["id"])
        if observation["id"].startswith(stale_prefix) and observation["id"] not in wanted
    ]
    for resource in resources:
        repo.update(resource["resourceType"], resource["id"], resource, skip_unchanged=True)
    for observation_id in stale:
        repo.delete("Observation", observation_id)
    return len(resources)
