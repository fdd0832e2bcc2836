"""ADT (patient administration) messages to Patient and Encounter.

v2-to-FHIR IG: message ADT_A01 (also used by A04, A08, A28, A31), ADT_A02 and
ADT_A03 maps; PV1 to Encounter. Encounter.status follows the trigger event:
admit/register/transfer leave the visit in progress, discharge finishes it,
and an update (A08) finishes it only when PV1-45 holds a discharge time.
"""

from __future__ import annotations

from typing import Any

from adapters.hl7v2.ack import ErrorCode
from adapters.hl7v2.mapping.context import MappedResource, MessageContext
from adapters.hl7v2.mapping.datatypes import deterministic_id, identifier
from adapters.hl7v2.mapping.errors import MappingError
from adapters.hl7v2.mapping.patient import map_patient
from adapters.hl7v2.mapping.terminology import ENCOUNTER_CLASS
from adapters.hl7v2.parse import Segment

__all__ = ["ADT_EVENTS", "map_adt"]

#: Events whose PV1 describes a visit, with the Encounter.status they imply (``None``: from PV1-45).
_VISIT_STATUS: dict[str, str | None] = {
    "A01": "in-progress",
    "A02": "in-progress",
    "A03": "finished",
    "A04": "in-progress",
    "A08": None,
}
#: Every ADT event mapped; A28/A31 only maintain the person.
ADT_EVENTS = frozenset({*_VISIT_STATUS, "A28", "A31"})
_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


def map_adt(context: MessageContext, event: str) -> list[MappedResource]:
    """Map an ADT message of a supported event.

    :raises MappingError: a required segment or field is missing or malformed.
    """
    patient = map_patient(context, required_identifier=True, replace=True)
    mapped = [patient]
    if event in _VISIT_STATUS:
        pv1 = context.required("PV1")
        mapped.append(_encounter(context, event, pv1, patient))
    return mapped


def _location(pv1: Segment, field: int, status: str) -> dict[str, Any] | None:
    """PL (point of care^room^bed^facility) to an Encounter.location entry with a display."""
    parts = [pv1.get(field, c) for c in (4, 1, 2, 3)]
    display = " ".join(p for p in parts if p)
    if not display:
        return None
    return {"location": {"display": display}, "status": status}


def _encounter_id(context: MessageContext, pv1: Segment, patient: MappedResource) -> tuple[str, dict[str, Any] | None]:
    """The Encounter id from PV1-19 (visit number), else the patient and PV1-44 admit time."""
    visit = identifier(pv1.raw(19).split(pv1.delimiters.repetition)[0], pv1.delimiters)
    if visit:
        return deterministic_id("Encounter", visit.get("system", ""), visit["value"]), visit
    admitted = pv1.get(44)
    if admitted:
        return deterministic_id("Encounter", patient.reference, admitted), None
    raise MappingError(
        "PV1-19 (visit number) and PV1-44 (admit time) are both empty, so the visit cannot be identified.",
        "PV1",
        pv1.sequence,
        19,
        ErrorCode.REQUIRED_FIELD_MISSING,
    )


def _encounter(context: MessageContext, event: str, pv1: Segment, patient: MappedResource) -> MappedResource:
    """PV1 to an Encounter of ``patient``."""
    encounter_id, visit = _encounter_id(context, pv1, patient)
    patient_class = pv1.get(2).upper()
    code, display = ENCOUNTER_CLASS.get(patient_class, ("AMB", "ambulatory"))
    if patient_class not in ENCOUNTER_CLASS and patient_class not in ("", "N", "U"):
        raise MappingError(
            f"PV1-2 patient class `{patient_class}` is not in HL7 table 0004.",
            "PV1",
            pv1.sequence,
            2,
            ErrorCode.TABLE_VALUE_NOT_FOUND,
        )
    start, end = context.datetime(pv1, 44), context.datetime(pv1, 45)
    status = _VISIT_STATUS[event] or ("finished" if end else "in-progress")
    encounter: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": encounter_id,
        "status": status,
        "class": {"system": _ACT_CODE, "code": code, "display": display},
        "subject": {"reference": patient.reference},
    }
    if visit:
        encounter["identifier"] = [visit]
    if start or end:
        encounter["period"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    locations = [
        loc
        for loc in (
            _location(pv1, 3, "completed" if status == "finished" else "active"),
            _location(pv1, 6, "completed") if event == "A02" else None,
        )
        if loc
    ]
    if locations:
        encounter["location"] = locations
    return MappedResource(encounter)
