"""AuditEvents of the DICOM adapter: instances received (C-STORE, import) and studies published.

Both are DICOM 110107 Import; a WADO-RS retrieval is 110106 Export. An instance stored is recorded in the transaction
that commits its ``dicom_instance`` row, a study published in the one that
writes its ImagingStudy, so neither can be committed unaudited. A duplicate or
refused instance writes no data and is recorded in a short transaction of its
own (outcome 0 for the duplicate, 4 for the refusal).

Agents: the calling AE title from its network address (C-STORE) or the OS user
(``fhir-server dicom import``), and this server. Entities: the patient, the
study by its Study Instance UID, and the SOP Instance UID in ``detail``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from adapters.dicom.mapping import DICOM_UID_SYSTEM, patient_from_header
from fhir_server.audit.activity import (
    EXPORT,
    IMPORT,
    SUCCESS,
    Requestor,
    activity_event,
    identifier_entity,
    resource_entity,
)

if TYPE_CHECKING:
    from adapters.dicom.headers import InstanceHeader

__all__ = ["C_STORE", "IMPORT_FILES", "Origin", "export_event", "instance_event", "published_event"]

C_STORE, IMPORT_FILES, _PUBLISH, _WADO = "dicom-c-store", "dicom-import", "dicom-publish", "dicom-wado-rs"


@dataclass(frozen=True, slots=True)
class Origin:
    """Who sent instances, and by which path (``dicom-c-store`` or ``dicom-import``)."""

    requestor: Requestor
    activity: str

    @classmethod
    def named(cls, source: str) -> Origin:
        """The origin a bare ``source`` label (``dicom:AE``, ``import``) stands for, without an address."""
        return cls(Requestor(source), IMPORT_FILES if source == "import" else C_STORE)


def _study_entity(study_uid: str, details: dict[str, str]) -> dict[str, Any]:
    return identifier_entity(
        f"urn:oid:{study_uid}", system=DICOM_UID_SYSTEM, name=f"DICOM study {study_uid}", details=details
    )


def instance_event(
    origin: Origin,
    header: InstanceHeader | None,
    *,
    outcome: str = SUCCESS,
    description: str,
    sop_instance_uid: str | None = None,
) -> dict[str, Any]:
    """The AuditEvent of one instance received; ``header`` is ``None`` when it could not be read."""
    if header is None:
        details = {"SOP Instance UID": sop_instance_uid} if sop_instance_uid else None
        entities = [identifier_entity("", name="DICOM instance (unreadable)", details=details)]
        return activity_event(
            IMPORT, origin.activity, requestor=origin.requestor, outcome=outcome, description=description,
            entities=entities,
        )  # fmt: skip
    details = {"SOP Instance UID": header.sop_instance_uid, "SOP Class UID": header.sop_class_uid}
    return activity_event(
        IMPORT, origin.activity, requestor=origin.requestor, outcome=outcome, description=description,
        patients=[patient_from_header(header)["id"]], entities=[_study_entity(header.study_instance_uid, details)],
    )  # fmt: skip


def published_event(
    study_uid: str, patient_id: str, written: list[str], instances: int, *, actor: str
) -> dict[str, Any]:
    """The AuditEvent of a study's instances published as FHIR resources (``written``: ``Type/id``)."""
    details = {"instances": str(instances)}
    return activity_event(
        IMPORT, _PUBLISH, requestor=Requestor(f"{actor} publisher"),
        description=f"Published {instances} new instances of the study.", patients=[patient_id],
        entities=[*(resource_entity(ref) for ref in written), _study_entity(study_uid, details)],
    )  # fmt: skip


def export_event(
    requestor: Requestor, study_uid: str, patient_id: str | None, *, outcome: str, description: str, what: str
) -> dict[str, Any]:
    """The AuditEvent of a WADO-RS retrieval of ``what`` (study, series or instance), served or refused."""
    return activity_event(
        EXPORT, _WADO, requestor=requestor, outcome=outcome, description=description,
        patients=[patient_id] if patient_id else [], entities=[_study_entity(study_uid, {"retrieved": what})],
    )  # fmt: skip
