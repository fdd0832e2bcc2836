"""IN1 (and IN2) to Coverage (v2-to-FHIR IG, Segment IN1 to Coverage Map)."""

from __future__ import annotations

from typing import Any

from adapters.hl7v2.ack import ErrorCode
from adapters.hl7v2.mapping.context import MappedResource, MessageContext
from adapters.hl7v2.mapping.datatypes import codeable_concept, deterministic_id, identifier, xon_reference
from adapters.hl7v2.mapping.errors import MappingError
from adapters.hl7v2.parse import Segment

__all__ = ["map_coverage"]

_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class"


def map_coverage(context: MessageContext, in1: Segment, in2: Segment | None, patient_reference: str) -> MappedResource:
    """One IN1 (with the IN2 after it) to an active Coverage of the patient.

    :raises MappingError: IN1-3 and IN1-4 (the insurer) are both empty, or IN1-12/13 is not a date.
    """
    d = in1.delimiters
    payor = xon_reference(in1.raw(4), d)
    insurer_id = identifier(in1.raw(3), d)
    if insurer_id:
        payor = {**(payor or {}), "identifier": insurer_id}
    if payor is None:
        raise MappingError(
            "IN1-3 (insurance company id) and IN1-4 (name) are empty, so the coverage has no payor.",
            "IN1",
            in1.sequence,
            3,
            ErrorCode.REQUIRED_FIELD_MISSING,
        )
    policy = in1.get(36)
    coverage: dict[str, Any] = {
        "resourceType": "Coverage",
        "id": deterministic_id("Coverage", patient_reference, in1.get(3), in1.get(4), in1.get(2), policy),
        "status": "active",
        "beneficiary": {"reference": patient_reference},
        "payor": [payor],
    }
    if policy:
        coverage["identifier"] = [{"value": policy}]
    subscriber = in1.get(49) or (in2.get(1) if in2 else "")
    if subscriber:
        coverage["subscriberId"] = subscriber
    relationship = codeable_concept(in1.raw(17), d)
    if relationship:
        coverage["relationship"] = relationship
    kind = codeable_concept(in1.raw(15), d)
    if kind:
        coverage["type"] = kind
    plan = in1.get(2)
    if plan:
        coding = {"system": _CLASS, "code": "plan"}
        coverage["class"] = [
            {"type": {"coding": [coding]}, "value": plan, **({"name": in1.get(2, 2)} if in1.get(2, 2) else {})}
        ]
    start, end = context.datetime(in1, 12), context.datetime(in1, 13)
    if start or end:
        coverage["period"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    return MappedResource(coverage)
