"""Publish stored DICOM instances to FHIR: ImagingStudy, Patient and Endpoint.

Each study is published by recomputing its ImagingStudy from *all* its stored
instances and writing it with ``repository.update`` under a deterministic id, so
instances arriving in any order, over any number of associations or processes,
converge on one resource whose counts are right; nothing is appended
incrementally. A study whose mapping is unchanged gets no new version.

Publishers of the same study are serialised, on PostgreSQL by a transaction-level
advisory lock keyed by the Study Instance UID (so several listener processes can
publish side by side), on SQLite by its single writer lock. An instance is marked
published only by the transaction that wrote an ImagingStudy including it, so
one arriving mid-publish stays pending for the next pass.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text, update

from adapters.dicom._codec import header_from_json
from adapters.dicom.audit import published_event
from adapters.dicom.mapping import deterministic_id, imaging_study_from_instances, patient_from_header
from conformance import fhir_json
from fhir_server.audit.outbox import enqueue
from fhir_server.db import unit_of_work
from fhir_server.errors import FhirError, Gone, NotFound
from fhir_server.repository import RequestContext, SqlRepository
from models import DicomInstance

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

__all__ = ["PublishSummary", "Publisher", "endpoint_resource"]

logger = logging.getLogger(__name__)

ENDPOINT_CONNECTION_SYSTEM = "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"
# Bind parameters per statement stay far below SQLite's and PostgreSQL's limits.
_CHUNK = 500


@dataclass(slots=True)
class PublishSummary:
    """What one publish pass did."""

    #: Studies whose ImagingStudy was written or confirmed current.
    studies: int = 0
    #: Instances newly marked published.
    instances: int = 0
    #: One sentence per study that could not be published.
    failures: list[str] = field(default_factory=list)


def endpoint_resource(dicomweb_base_url: str) -> dict[str, Any]:
    """Return the Endpoint resource describing our DICOMweb WADO-RS service."""
    return {
        "resourceType": "Endpoint",
        "id": deterministic_id("Endpoint", "dicom-wado-rs", dicomweb_base_url),
        "status": "active",
        "connectionType": {"system": ENDPOINT_CONNECTION_SYSTEM, "code": "dicom-wado-rs"},
        "name": "DICOMweb WADO-RS",
        "payloadType": [{"text": "DICOM"}],
        "payloadMimeType": ["application/dicom"],
        "address": dicomweb_base_url,
    }


class Publisher:
    """Maps stored instances to FHIR resources through the repository API.

    :param sessions: sessions on the server database.
    :param dicomweb_base_url: the ``address`` of the Endpoint every ImagingStudy references.
    :param actor: the repository context's actor, for audit.
    """

    def __init__(self, sessions: sessionmaker[Session], *, dicomweb_base_url: str, actor: str = "dicom") -> None:
        self.sessions = sessions
        self.endpoint = endpoint_resource(dicomweb_base_url)
        self.context = RequestContext(actor=actor)

    def pending_studies(self, *, include_failed: bool = False) -> list[str]:
        """Return the Study Instance UIDs having unpublished instances.

        :param include_failed: also those whose last publish attempt failed.
        """
        query = select(DicomInstance.study_instance_uid).where(DicomInstance.published.is_(False))
        if not include_failed:
            query = query.where(DicomInstance.publish_error.is_(None))
        query = query.group_by(DicomInstance.study_instance_uid).order_by(func.min(DicomInstance.pk))
        with unit_of_work(self.sessions, write=False) as session:
            return list(session.execute(query).scalars())

    def publish_pending(self, *, include_failed: bool = False) -> PublishSummary:
        """Publish every study with unpublished instances; failures are recorded, not raised.

        :param include_failed: retry studies whose last attempt failed (done at start-up).
        :raises sqlalchemy.exc.SQLAlchemyError: if the database is unreachable.
        """
        summary = PublishSummary()
        for study_uid in self.pending_studies(include_failed=include_failed):
            try:
                summary.instances += self.publish_study(study_uid)
                summary.studies += 1
            except (FhirError, ValueError) as exc:
                reason = getattr(exc, "diagnostics", None) or str(exc)
                message = f"Study `{study_uid}` could not be published: {reason}"
                logger.error(message)
                self._record_failure(study_uid, message)
                summary.failures.append(message)
        return summary

    def publish_study(self, study_uid: str) -> int:
        """Write the ImagingStudy of one study (and its Patient and Endpoint); return instances newly published.

        :raises FhirError: if a mapped resource is refused by the repository.
        :raises ValueError: if a stored header cannot be read back.
        """
        with unit_of_work(self.sessions) as session:
            _lock_study(session, study_uid)
            rows = session.execute(
                select(DicomInstance.pk, DicomInstance.header, DicomInstance.published)
                .where(DicomInstance.study_instance_uid == study_uid)
                .order_by(DicomInstance.pk)
            ).all()
            if not rows:
                return 0
            headers = [header_from_json(row.header) for row in rows]
            repo = SqlRepository(session, self.context)
            # The first instance received names the subject, so later arrivals
            # with a conflicting Patient ID cannot flip the study between patients.
            patient = patient_from_header(headers[0])
            _create_if_unknown(repo, patient, refresh=False)
            _create_if_unknown(repo, self.endpoint, refresh=True)
            study = imaging_study_from_instances(
                headers,
                patient_reference=f"Patient/{patient['id']}",
                endpoint_reference=f"Endpoint/{self.endpoint['id']}",
            )
            # An unchanged study (a resent instance, a retried pass) keeps its version.
            repo.update("ImagingStudy", study["id"], study, skip_unchanged=True)
            pending = [row.pk for row in rows if not row.published]
            now = datetime.now(UTC)
            for start in range(0, len(pending), _CHUNK):
                session.execute(
                    update(DicomInstance)
                    .where(DicomInstance.pk.in_(pending[start : start + _CHUNK]))
                    .values(published=True, published_at=now, publish_error=None)
                )
            if pending:  # new instances made it into FHIR in this transaction: audited with it
                written = [f"ImagingStudy/{study['id']}"]
                event = published_event(study_uid, patient["id"], written, len(pending), actor=self.context.actor)
                enqueue(session.connection(), [event])
            return len(pending)

    def _record_failure(self, study_uid: str, message: str) -> None:
        with unit_of_work(self.sessions) as session:
            session.execute(
                update(DicomInstance)
                .where(DicomInstance.study_instance_uid == study_uid, DicomInstance.published.is_(False))
                .values(publish_error=message)
            )


def _lock_study(session: Session, study_uid: str) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: unit_of_work already holds the database's only write lock.
    key = int.from_bytes(hashlib.sha256(f"dicom-study:{study_uid}".encode()).digest()[:8], "big", signed=True)
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _create_if_unknown(repo: SqlRepository, resource: dict[str, Any], *, refresh: bool) -> None:
    """Create *resource* under its id when absent or deleted.

    :param refresh: also overwrite an existing resource that differs (our own
        Endpoint); a Patient may have been edited over REST and is left alone.
    """
    resource_type, resource_id = resource["resourceType"], resource["id"]
    try:
        current = repo.read(resource_type, resource_id)
    except (NotFound, Gone):
        repo.update(resource_type, resource_id, resource)
        return
    if refresh and current.content is not None and not fhir_json.identical(_without_meta(current.content), resource):
        repo.update(resource_type, resource_id, resource)


def _without_meta(content: bytes) -> dict[str, Any]:
    stored: dict[str, Any] = fhir_json.loads(content)
    stored.pop("meta", None)
    return stored
