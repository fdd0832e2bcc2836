"""AL1 to AllergyIntolerance (v2-to-FHIR IG, Segment AL1 to AllergyIntolerance Map)."""

from __future__ import annotations

from typing import Any

from adapters.hl7v2.ack import ErrorCode
from adapters.hl7v2.mapping.context import MappedResource, MessageContext
from adapters.hl7v2.mapping.datatypes import codeable_concept, deterministic_id
from adapters.hl7v2.mapping.errors import MappingError
from adapters.hl7v2.mapping.terminology import ALLERGY_CATEGORY, ALLERGY_SEVERITY
from adapters.hl7v2.parse import Segment

__all__ = ["map_allergy"]

_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"


def map_allergy(context: MessageContext, al1: Segment, patient_reference: str) -> MappedResource:
    """One AL1 to an AllergyIntolerance of the patient.

    :raises MappingError: AL1-3 (allergen) is empty, or AL1-6 is not a date.
    """
    d = al1.delimiters
    code = codeable_concept(al1.raw(3), d)
    if code is None:
        raise MappingError(
            "AL1-3 (allergen code) is empty, so the allergy names no substance.",
            "AL1",
            al1.sequence,
            3,
            ErrorCode.REQUIRED_FIELD_MISSING,
        )
    allergy: dict[str, Any] = {
        "resourceType": "AllergyIntolerance",
        "id": deterministic_id("AllergyIntolerance", patient_reference, al1.get(3), al1.get(3, 2), al1.get(3, 3)),
        "clinicalStatus": {"coding": [{"system": _CLINICAL, "code": "active"}]},
        "code": code,
        "patient": {"reference": patient_reference},
    }
    category = ALLERGY_CATEGORY.get(al1.get(2).upper())
    if category:
        allergy["category"] = [category]
    manifestations = [{"text": text} for text in (al1.get(5, repetition=r) for r in range(1, 10)) if text]
    severity = ALLERGY_SEVERITY.get(al1.get(4).upper())
    if manifestations:
        reaction: dict[str, Any] = {"manifestation": manifestations}
        if severity:
            reaction["severity"] = severity
        allergy["reaction"] = [reaction]
    if al1.get(4).upper() == "SV":
        allergy["criticality"] = "high"
    onset = context.datetime(al1, 6)
    if onset:
        allergy["onsetDateTime"] = onset
    return MappedResource(allergy)
