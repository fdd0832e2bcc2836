"""OBX to Observation (v2-to-FHIR IG, Segment OBX to Observation Map).

OBX-2 picks the value[x] type: NM -> Quantity, SN -> Quantity/Range/Ratio,
CE/CWE -> CodeableConcept, ST/TX/FT -> string, DT/DTM/TS -> dateTime,
TM -> time. OBX-6 becomes the Quantity unit, coded as UCUM where the sender
said UCUM or wrote a unit string UCUM knows.
"""

from __future__ import annotations

import re
from typing import Any

from adapters.hl7v2.mapping.context import MessageContext
from adapters.hl7v2.mapping.datatypes import codeable_concept
from adapters.hl7v2.mapping.errors import MappingError
from adapters.hl7v2.mapping.terminology import INTERPRETATION, OBSERVATION_STATUS, UCUM_UNITS, code_system_uri
from adapters.hl7v2.parse import Segment
from conformance import fhir_json
from fhir_server.quality.plausibility import flag_implausible

__all__ = ["map_observation"]

_UCUM = "http://unitsofmeasure.org"
_INTERPRETATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
_RANGE = re.compile(r"\s*(?P<low>-?\d+(?:\.\d+)?)\s*-\s*(?P<high>-?\d+(?:\.\d+)?)\s*")
_BOUND = re.compile(r"\s*(?P<op><=|>=|<|>)\s*(?P<value>-?\d+(?:\.\d+)?)\s*")
_COMPARATORS = {"<", ">", "<=", ">="}


def _number(text: str, obx: Segment, field: int = 5) -> int | float:
    """A decimal string as a JSON number that keeps its digits (``0.40`` stays ``0.40``).

    :raises MappingError: ``text`` is not a number.
    """
    try:
        return fhir_json.decimal(text)
    except ValueError:
        raise MappingError(
            f"OBX-{field} value `{text}` is not a number, as value type `{obx.get(2)}` requires.",
            "OBX",
            obx.sequence,
            field,
        ) from None


def _unit(obx: Segment) -> dict[str, Any]:
    """OBX-6 as the unit part of a Quantity."""
    code, text, system = obx.get(6, 1), obx.get(6, 2), obx.get(6, 3)
    if not code and not text:
        return {}
    uri = code_system_uri(system) if system else None
    if uri == _UCUM:
        return {"unit": text or code, "system": _UCUM, "code": code}
    ucum = UCUM_UNITS.get(code) if not system else None
    if ucum:
        return {"unit": text or code, "system": _UCUM, "code": ucum}
    # A local unit code has no URI; FHIR forbids a Quantity.code without a system.
    return {"unit": text or code}


def _quantity(value: int | float, obx: Segment, comparator: str = "") -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": value}
    if comparator:
        quantity["comparator"] = comparator
    quantity.update(_unit(obx))
    return quantity


def _structured_numeric(raw: str, obx: Segment) -> tuple[str, Any]:
    """SN (comparator^num1^separator^num2) to valueQuantity, valueRange, valueRatio or valueString."""
    d = obx.delimiters
    parts = [obx.get(5, c) for c in (1, 2, 3, 4)] if raw else []
    comparator, first, separator, second = parts or ["", "", "", ""]
    if separator in (":", "/") and first and second:
        return "valueRatio", {
            "numerator": {"value": _number(first, obx)},
            "denominator": {"value": _number(second, obx)},
        }
    if separator == "-" and first and second:
        return "valueRange", {"low": _quantity(_number(first, obx), obx), "high": _quantity(_number(second, obx), obx)}
    if first and not separator and comparator in ("", "=", *_COMPARATORS):
        return "valueQuantity", _quantity(_number(first, obx), obx, comparator if comparator != "=" else "")
    return "valueString", raw.replace(d.component, " ").strip()


def _value(context: MessageContext, obx: Segment) -> tuple[str, Any] | None:
    """The value[x] element for OBX-5 by OBX-2; ``None`` when OBX-5 is empty."""
    kind = obx.get(2).upper()
    reps = obx.repetitions(5)
    if not reps:
        return None
    first = reps[0]
    if kind == "NM":
        return "valueQuantity", _quantity(_number(obx.get(5), obx), obx)
    if kind == "SN":
        return _structured_numeric(first, obx)
    if kind in ("CE", "CWE", "CNE"):
        concept = codeable_concept(first, obx.delimiters)
        return ("valueCodeableConcept", concept) if concept else None
    if kind in ("ST", "TX", "FT"):
        return "valueString", obx.text(5)
    if kind in ("DT", "DTM", "TS"):
        return "valueDateTime", context.datetime(obx, 5)
    if kind == "TM":
        text = obx.get(5)
        if not re.fullmatch(r"\d{2}(\d{2}(\d{2})?)?", text[:6]):
            raise MappingError(f"OBX-5 time `{text}` is not an HL7 time (HHMMSS).", "OBX", obx.sequence, 5)
        text = text[:6].ljust(6, "0")
        return "valueTime", f"{text[:2]}:{text[2:4]}:{text[4:6]}"
    raise MappingError(
        f"OBX-2 value type `{kind}` is not supported; supported are NM, SN, CE, CWE, CNE, ST, TX, FT, DT, DTM, TS and TM.",
        "OBX",
        obx.sequence,
        2,
    )


def _reference_range(obx: Segment) -> dict[str, Any] | None:
    """OBX-7 (``low-high``, ``<x``, ``>=x`` or text) to a referenceRange."""
    text = obx.get(7)
    if not text:
        return None
    if match := _RANGE.fullmatch(text):
        return {
            "low": _quantity(_number(match["low"], obx, 7), obx),
            "high": _quantity(_number(match["high"], obx, 7), obx),
        }
    if match := _BOUND.fullmatch(text):
        key = "high" if match["op"].startswith("<") else "low"
        return {key: _quantity(_number(match["value"], obx, 7), obx), "text": text}
    return {"text": text}


def map_observation(
    context: MessageContext, obx: Segment, observation_id: str, subject: str, effective: str | None
) -> dict[str, Any]:
    """Map one OBX to an Observation about ``subject``.

    :param effective: OBR-7, used when OBX-14 is empty.
    :raises MappingError: OBX-3 is empty, or OBX-5 does not fit OBX-2.
    """
    code = codeable_concept(obx.raw(3).split(obx.delimiters.repetition)[0], obx.delimiters)
    if code is None:
        raise MappingError(
            "OBX-3 (observation identifier) is empty, so the observation has no code.", "OBX", obx.sequence, 3
        )
    status = obx.get(11).upper()
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "id": observation_id,
        "status": OBSERVATION_STATUS.get(status, "unknown" if not status else "final"),
        "code": code,
        "subject": {"reference": subject},
    }
    effective = context.datetime(obx, 14) or effective
    if effective:
        observation["effectiveDateTime"] = effective
    value = _value(context, obx)
    if value:
        observation[value[0]] = value[1]
    flags = [f.split(obx.delimiters.component)[0].upper() for f in obx.repetitions(8)]
    codings = [{"system": _INTERPRETATION_SYSTEM, "code": INTERPRETATION[f]} for f in flags if f in INTERPRETATION]
    if codings:
        observation["interpretation"] = [{"coding": [c]} for c in codings]
    reference_range = _reference_range(obx)
    if reference_range:
        observation["referenceRange"] = [reference_range]
    # A vital sign no living patient can have (HR 500, 98.6 "Cel") is stored withheld, with a note.
    flag_implausible(observation)
    return observation
