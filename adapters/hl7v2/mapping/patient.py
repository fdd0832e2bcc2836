"""PID to Patient (v2-to-FHIR IG, Segment PID to Patient Map).

The Patient id is derived from the first PID-3 identifier and its assigning
authority, so every message about the same person lands on the same Patient.
"""

from __future__ import annotations

from typing import Any

from adapters.hl7v2.ack import ErrorCode
from adapters.hl7v2.mapping.context import MappedResource, MessageContext
from adapters.hl7v2.mapping.datatypes import (
    address,
    deterministic_id,
    fhir_date,
    human_name,
    identifier,
    telecoms,
)
from adapters.hl7v2.mapping.errors import MappingError
from adapters.hl7v2.mapping.terminology import GENDER
from adapters.hl7v2.parse import Segment

__all__ = ["map_patient", "patient_id_of"]


def patient_id_of(first: dict[str, Any]) -> str:
    """The Patient id of a person whose first identifier is ``first`` (an Identifier)."""
    return deterministic_id("Patient", first.get("system", ""), first["value"])


def _patient_id(context: MessageContext, pid: Segment, identifiers: list[dict[str, Any]], *, required: bool) -> str:
    """The deterministic Patient id: first PID-3 identifier, else (lab messages only) this message."""
    if identifiers:
        return patient_id_of(identifiers[0])
    if required:
        raise MappingError(
            "PID-3 (patient identifier list) is empty, so the patient cannot be identified.",
            "PID",
            pid.sequence,
            3,
            ErrorCode.REQUIRED_FIELD_MISSING,
        )
    # Public health lab feeds often omit PID-3; such a patient is only known within its message.
    return context.scoped_id("Patient", "PID", str(pid.sequence))


def map_patient(
    context: MessageContext, *, required_identifier: bool, replace: bool, pid: Segment | None = None
) -> MappedResource:
    """Map a PID segment (the first by default) to a Patient.

    A malformed optional field (birth date, death time) is left out with a warning.

    :param required_identifier: reject a PID without PID-3 (registration feeds).
    :param replace: overwrite an existing Patient (``False``: create only if absent).
    :raises MappingError: PID is missing, or PID-3 is empty and required.
    """
    pid = pid or context.required("PID")
    d = pid.delimiters
    identifiers = [i for i in (identifier(rep, d) for rep in pid.repetitions(3)) if i]
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": _patient_id(context, pid, identifiers, required=required_identifier),
    }
    if identifiers:
        patient["identifier"] = identifiers
    names = [n for n in (human_name(rep, d) for rep in pid.repetitions(5)) if n]
    if names:
        patient["name"] = names
    telecom = telecoms(pid, 13, 14, 40)
    if telecom:
        patient["telecom"] = telecom
    sex = pid.get(8).upper()
    if sex:
        patient["gender"] = GENDER.get(sex, "unknown")
    birth = pid.get(7)
    if birth:
        value = fhir_date(birth)
        if value is None:
            error = MappingError(f"PID-7 birth date `{birth}` is not an HL7 date (YYYYMMDD).", "PID", pid.sequence, 7)
            context.skip(error, "Patient.birthDate")
        else:
            patient["birthDate"] = value
    addresses = [a for a in (address(rep, d) for rep in pid.repetitions(11)) if a]
    if addresses:
        patient["address"] = addresses
    death = context.optional(lambda: context.datetime(pid, 29), "Patient.deceasedDateTime")
    if death:
        patient["deceasedDateTime"] = death
    elif pid.get(30).upper() in ("Y", "N"):
        patient["deceasedBoolean"] = pid.get(30).upper() == "Y"
    return MappedResource(patient, replace=replace)
