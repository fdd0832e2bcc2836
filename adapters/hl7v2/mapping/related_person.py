"""NK1 to RelatedPerson (v2-to-FHIR IG, Segment NK1 to RelatedPerson Map)."""

from __future__ import annotations

from typing import Any

from adapters.hl7v2.mapping.context import MappedResource, MessageContext
from adapters.hl7v2.mapping.datatypes import (
    address,
    codeable_concept,
    deterministic_id,
    fhir_date,
    human_name,
    telecoms,
)
from adapters.hl7v2.mapping.terminology import GENDER
from adapters.hl7v2.parse import Segment

__all__ = ["map_related_person"]


def map_related_person(context: MessageContext, nk1: Segment, patient_reference: str) -> MappedResource | None:
    """One NK1 to a RelatedPerson of the patient; ``None`` for an NK1 naming nobody (no name, no relationship)."""
    d = nk1.delimiters
    names = [n for n in (human_name(rep, d) for rep in nk1.repetitions(2)) if n]
    relationship = codeable_concept(nk1.raw(3), d)
    if not names and relationship is None:
        return None
    key = (patient_reference, nk1.get(2), nk1.get(2, 2), nk1.get(3))
    person: dict[str, Any] = {
        "resourceType": "RelatedPerson",
        "id": deterministic_id("RelatedPerson", *key),
        "patient": {"reference": patient_reference},
    }
    if names:
        person["name"] = names
    relationships = [r for r in (relationship, codeable_concept(nk1.raw(7), d)) if r]
    if relationships:
        person["relationship"] = relationships
    telecom = telecoms(nk1, 5, 6, 40)
    if telecom:
        person["telecom"] = telecom
    addresses = [a for a in (address(rep, d) for rep in nk1.repetitions(4)) if a]
    if addresses:
        person["address"] = addresses
    sex = nk1.get(15).upper()
    if sex:
        person["gender"] = GENDER.get(sex, "unknown")
    birth = fhir_date(nk1.get(16)) if nk1.get(16) else None
    if birth:
        person["birthDate"] = birth
    start, end = context.datetime(nk1, 8), context.datetime(nk1, 9)
    if start or end:
        person["period"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    return MappedResource(person)
