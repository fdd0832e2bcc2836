"""MRG (merges and moves) and paired PIDs (links) to changes of stored records (:mod:`.changes`).

v2-to-FHIR IG: the merged Patient gets ``link`` replaced-by and ``active``
false, the surviving one ``link`` replaces. MRG-1 (prior patient identifier
list, else the pre-2.3.1 MRG-4 prior patient id) names the merged Patient,
MRG-5 the merged or moved visit. Accounts are not kept by this server, so an
account merge or move (MRG-3) is acknowledged with a warning and changes nothing.
"""

from __future__ import annotations

from adapters.hl7v2.ack import ErrorCode, ErrorLocation
from adapters.hl7v2.mapping.changes import PatientLink, PatientMerge, VisitMerge, VisitMove
from adapters.hl7v2.mapping.context import MessageContext
from adapters.hl7v2.mapping.datatypes import identifier
from adapters.hl7v2.mapping.encounter import encounter_id
from adapters.hl7v2.mapping.errors import MappingError
from adapters.hl7v2.mapping.patient import patient_id_of
from adapters.hl7v2.parse import Segment

__all__ = ["link_patients", "merge"]


def _prior_patient(mrg: Segment) -> str | None:
    for field in (1, 4):
        found = identifier(mrg.raw(field).split(mrg.delimiters.repetition)[0], mrg.delimiters)
        if found:
            return patient_id_of(found)
    return None


def _visit(context: MessageContext, segment: Segment, patient_reference: str, field: int) -> str | None:
    try:
        return encounter_id(segment, patient_reference, field)[0]
    except MappingError:
        return None


def merge(
    context: MessageContext, kind: str, mrg: Segment | None, patient_id: str, pv1: Segment | None, *, optional: bool
) -> None:
    """Queue the change an MRG asks for (``kind`` from :class:`.adt_events.AdtEvent`).

    :param optional: the event may come without MRG (A06/A07): then nothing is queued and nothing said.
    """
    if mrg is None:
        if not optional:
            context.warn(ErrorCode.SEGMENT_SEQUENCE_ERROR, "The message has no MRG segment; nothing was merged.",
                         ErrorLocation("MRG"))  # fmt: skip
        return
    where = ErrorLocation("MRG", mrg.sequence, 1)
    patient_reference = f"Patient/{patient_id}"
    if kind == "account":
        text = "This server keeps no Account resources, so the account merge or move of MRG-3 changed nothing."
        context.warn(ErrorCode.UNKNOWN_KEY_IDENTIFIER, text, ErrorLocation("MRG", mrg.sequence, 3))
        return
    prior = _prior_patient(mrg)
    if kind == "patient":
        if prior is None:
            context.warn(
                ErrorCode.REQUIRED_FIELD_MISSING,
                "MRG-1 (prior patient identifier) is empty; nothing was merged.",
                where,
            )
            return
        context.change(PatientMerge(patient_id, prior, where))
        return
    merged_visit = _visit(context, mrg, f"Patient/{prior}" if prior else patient_reference, 5)
    surviving_visit = _visit(context, pv1, patient_reference, 19) if pv1 is not None else None
    if kind == "visit":
        if merged_visit is None or surviving_visit is None:
            if not optional:
                text = "MRG-5 (prior visit number) or PV1-19 (visit number) is empty; no visit was merged."
                context.warn(ErrorCode.REQUIRED_FIELD_MISSING, text, ErrorLocation("MRG", mrg.sequence, 5))
            return
        context.change(VisitMerge(surviving_visit, merged_visit, ErrorLocation("MRG", mrg.sequence, 5)))
        return
    # move-visit (A45): the visit of MRG-5 (else PV1-19) moves from MRG-1's patient to PID's.
    visit = merged_visit or surviving_visit
    if visit is None or prior is None:
        text = "MRG-1 and MRG-5 (or PV1-19) must name the patient and the visit to move; nothing was moved."
        context.warn(ErrorCode.REQUIRED_FIELD_MISSING, text, where)
        return
    context.change(VisitMove(visit, prior, patient_id, ErrorLocation("MRG", mrg.sequence, 5)))


def link_patients(context: MessageContext, patient_ids: list[str], *, unlink: bool) -> None:
    """A24 / A37: link (or unlink) the Patients of the message's first two PIDs."""
    if len(patient_ids) < 2:
        text = "A link or unlink needs two PID segments; the message has one, so nothing was linked."
        context.warn(ErrorCode.SEGMENT_SEQUENCE_ERROR, text, ErrorLocation("PID", 2))
        return
    context.change(PatientLink(patient_ids[0], patient_ids[1], unlink=unlink))
