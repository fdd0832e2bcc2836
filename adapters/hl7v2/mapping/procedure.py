"""PR1 to Procedure (v2-to-FHIR IG, Segment PR1 to Procedure Map)."""

from __future__ import annotations

from typing import Any

from adapters.hl7v2.ack import ErrorCode
from adapters.hl7v2.mapping.context import MappedResource, MessageContext
from adapters.hl7v2.mapping.datatypes import codeable_concept, deterministic_id, identifier, xcn_reference
from adapters.hl7v2.mapping.errors import MappingError
from adapters.hl7v2.parse import Segment

__all__ = ["map_procedure"]


def map_procedure(
    context: MessageContext, pr1: Segment, patient_reference: str, encounter_reference: str | None
) -> MappedResource:
    """One PR1 to a completed Procedure of the patient.

    :raises MappingError: PR1-3 (procedure code) is empty, or PR1-5 is not a time.
    """
    d = pr1.delimiters
    code = codeable_concept(pr1.raw(3), d) or ({"text": pr1.get(4)} if pr1.get(4) else None)
    if code is None:
        raise MappingError(
            "PR1-3 (procedure code) is empty, so the procedure names nothing.",
            "PR1",
            pr1.sequence,
            3,
            ErrorCode.REQUIRED_FIELD_MISSING,
        )
    performed = context.datetime(pr1, 5)
    business = identifier(pr1.raw(19), d)
    key = (
        (business.get("system", ""), business["value"])
        if business
        else (patient_reference, pr1.get(3), performed or "")
    )
    procedure: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": deterministic_id("Procedure", *key),
        "status": "completed",
        "code": code,
        "subject": {"reference": patient_reference},
    }
    if business:
        procedure["identifier"] = [business]
    if encounter_reference:
        procedure["encounter"] = {"reference": encounter_reference}
    if performed:
        procedure["performedDateTime"] = performed
    performers = [p for p in (xcn_reference(rep, d) for rep in pr1.repetitions(11)) if p]
    if performers:
        procedure["performer"] = [{"actor": p} for p in performers]
    return MappedResource(procedure)
