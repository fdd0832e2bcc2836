"""PV1 and PV2 to Encounter (v2-to-FHIR IG, Segment PV1 to Encounter Map, Segment PV2 to Encounter Map).

The Encounter id comes from the visit number PV1-19, else from the patient and
the admit time PV1-44; a PV1 with neither cannot be identified, and the
message is then stored without an Encounter (a warning in the ACK).
"""

from __future__ import annotations

from typing import Any

from adapters.hl7v2.ack import ErrorCode
from adapters.hl7v2.mapping.context import MessageContext
from adapters.hl7v2.mapping.datatypes import codeable_concept, deterministic_id, identifier, xcn_reference
from adapters.hl7v2.mapping.errors import MappingError
from adapters.hl7v2.mapping.terminology import ENCOUNTER_CLASS
from adapters.hl7v2.parse import Segment

__all__ = ["encounter_id", "location", "map_encounter"]

_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
_PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
#: PV1 fields naming a doctor, with the v3 ParticipationType of each.
_DOCTORS = ((7, "ATND", "attender"), (8, "REF", "referrer"), (9, "CON", "consultant"), (17, "ADM", "admitter"))


def location(pv1: Segment, field: int, status: str) -> dict[str, Any] | None:
    """PL (point of care^room^bed^facility) to an Encounter.location entry with a display."""
    parts = [pv1.get(field, c) for c in (4, 1, 2, 3)]
    display = " ".join(p for p in parts if p)
    if not display:
        return None
    return {"location": {"display": display}, "status": status}


def encounter_id(pv1: Segment, patient_reference: str, visit_field: int = 19) -> tuple[str, dict[str, Any] | None]:
    """The Encounter id from the visit number (PV1-19, or MRG-5 given ``visit_field``), else PV1-44.

    :raises MappingError: neither is valued, so the visit cannot be identified.
    """
    visit = identifier(pv1.raw(visit_field).split(pv1.delimiters.repetition)[0], pv1.delimiters)
    if visit:
        return deterministic_id("Encounter", visit.get("system", ""), visit["value"]), visit
    admitted = pv1.get(44) if pv1.name == "PV1" else ""
    if admitted:
        return deterministic_id("Encounter", patient_reference, admitted), None
    raise MappingError(
        "PV1-19 (visit number) and PV1-44 (admit time) are both empty, so the visit cannot be identified.",
        pv1.name,
        pv1.sequence,
        visit_field,
        ErrorCode.REQUIRED_FIELD_MISSING,
    )


def _encounter_class(pv1: Segment) -> dict[str, str]:
    patient_class = pv1.get(2).upper()
    if patient_class not in ENCOUNTER_CLASS and patient_class not in ("", "N", "U"):
        raise MappingError(
            f"PV1-2 patient class `{patient_class}` is not in HL7 table 0004.",
            "PV1",
            pv1.sequence,
            2,
            ErrorCode.TABLE_VALUE_NOT_FOUND,
        )
    code, display = ENCOUNTER_CLASS.get(patient_class, ("AMB", "ambulatory"))
    return {"system": _ACT_CODE, "code": code, "display": display}


def map_encounter(
    context: MessageContext, pv1: Segment, pv2: Segment | None, patient_reference: str, *, transfer: bool = False
) -> dict[str, Any]:
    """PV1 (and PV2) to an Encounter of the patient; ``status`` is left for the event to set.

    :param transfer: PV1-6 (prior location) becomes a completed location (A02).
    :raises MappingError: the visit cannot be identified, or PV1-2 or a time is malformed.
    """
    d = pv1.delimiters
    eid, visit = encounter_id(pv1, patient_reference)
    start, end = context.datetime(pv1, 44), context.datetime(pv1, 45)
    encounter: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": eid,
        "status": "finished" if end else "unknown",
        "class": _encounter_class(pv1),
        "subject": {"reference": patient_reference},
    }
    if visit:
        encounter["identifier"] = [visit]
    kind = codeable_concept(pv1.raw(4), d)
    if kind:
        encounter["type"] = [kind]
    service = codeable_concept(pv1.raw(10), d)
    if service:
        encounter["serviceType"] = service
    participants = []
    for field, code, display in _DOCTORS:
        for rep in pv1.repetitions(field):
            person = xcn_reference(rep, d)
            if person:
                role = {"coding": [{"system": _PARTICIPATION, "code": code, "display": display}]}
                participants.append({"type": [role], "individual": person})
    if participants:
        encounter["participant"] = participants
    if start or end:
        encounter["period"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    hospitalization: dict[str, Any] = {}
    for key, field in (("admitSource", 14), ("reAdmission", 13), ("dischargeDisposition", 36)):
        concept = codeable_concept(pv1.raw(field), d)
        if concept:
            hospitalization[key] = concept
    if pv1.get(37):
        hospitalization["destination"] = {"display": pv1.get(37)}
    if hospitalization:
        encounter["hospitalization"] = hospitalization
    status = "completed" if end else "active"
    locations = [loc for loc in (location(pv1, 3, status), location(pv1, 6, "completed") if transfer else None) if loc]
    if locations:
        encounter["location"] = locations
    if pv2 is not None:
        reason = codeable_concept(pv2.raw(3), d)
        if reason:
            encounter["reasonCode"] = [reason]
    return encounter
