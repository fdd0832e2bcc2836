"""DG1 to Condition (v2-to-FHIR IG, Segment DG1 to Condition Map), listed in Encounter.diagnosis."""

from __future__ import annotations

from typing import Any

from adapters.hl7v2.ack import ErrorCode
from adapters.hl7v2.mapping.context import MappedResource, MessageContext
from adapters.hl7v2.mapping.datatypes import codeable_concept, deterministic_id, identifier
from adapters.hl7v2.mapping.errors import MappingError
from adapters.hl7v2.parse import Segment

__all__ = ["map_condition"]

_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
#: HL7 table 0052 (diagnosis type) to the diagnosis-role of Encounter.diagnosis.use.
_ROLE = {"A": ("AD", "Admission diagnosis"), "F": ("DD", "Discharge diagnosis"), "W": ("billing", "Billing")}


def map_condition(
    context: MessageContext, dg1: Segment, patient_reference: str, encounter_reference: str | None
) -> tuple[MappedResource, dict[str, Any]]:
    """One DG1 to a Condition and its Encounter.diagnosis entry.

    :raises MappingError: DG1-3 (diagnosis code) and DG1-4 (description) are empty, or DG1-5 is not a time.
    """
    d = dg1.delimiters
    code = codeable_concept(dg1.raw(3), d) or ({"text": dg1.get(4)} if dg1.get(4) else None)
    if code is None:
        raise MappingError(
            "DG1-3 (diagnosis code) and DG1-4 (description) are empty, so the diagnosis names nothing.",
            "DG1",
            dg1.sequence,
            3,
            ErrorCode.REQUIRED_FIELD_MISSING,
        )
    business = identifier(dg1.raw(20), d)
    key = (business.get("system", ""), business["value"]) if business else (patient_reference, dg1.get(3), dg1.get(4))
    condition: dict[str, Any] = {
        "resourceType": "Condition",
        "id": deterministic_id("Condition", *key, encounter_reference or ""),
        "category": [{"coding": [{"system": _CATEGORY, "code": "encounter-diagnosis"}]}],
        "code": code,
        "subject": {"reference": patient_reference},
    }
    if business:
        condition["identifier"] = [business]
    if encounter_reference:
        condition["encounter"] = {"reference": encounter_reference}
    onset = context.datetime(dg1, 5)
    if onset:
        condition["onsetDateTime"] = onset
    diagnosis: dict[str, Any] = {"condition": {"reference": f"Condition/{condition['id']}"}}
    role = _ROLE.get(dg1.get(6).upper())
    if role:
        system = "http://terminology.hl7.org/CodeSystem/diagnosis-role"
        diagnosis["use"] = {"coding": [{"system": system, "code": role[0], "display": role[1]}]}
    if dg1.get(15).isdigit() and int(dg1.get(15)) > 0:
        diagnosis["rank"] = int(dg1.get(15))
    return MappedResource(condition), diagnosis
