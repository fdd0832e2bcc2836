"""Physiologically impossible vital signs, flagged instead of stored as if true or silently dropped.

A heart rate of 0 or 500 /min, or a body temperature of 98.6 labelled degrees Celsius, is a device
or transcription error, not a finding: scored as given it would raise or hide an alarm (NEWS2
gives 3 points for a heart rate of 500). Such an Observation is still stored, so the error is
visible and traceable to its source, but its value is withheld:

- ``value[x]`` is removed and ``dataAbsentReason`` is ``error`` (R4 data-absent-reason: "some
  system or workflow process error means that the information is not available"), which obs-6
  requires once the value is gone;
- a ``note`` keeps the value as received and the reason, e.g. "Recorded value 500 /min withheld:
  a heart rate outside 1-300 /min is not physiologically possible."

The limits are wide on purpose (what no living adult or child can have, not what is abnormal):
abnormal values are findings and are stored as sent. Observations are matched by LOINC code and
UCUM unit; a value in another unit is left alone, since these limits would not apply to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
DATA_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"


@dataclass(frozen=True, slots=True)
class Limits:
    """The range of values a living patient can have, in ``unit`` (UCUM)."""

    what: str
    unit: str
    low: Decimal
    high: Decimal
    #: Shown in the note when a value looks like it was measured in another unit.
    other_unit_hint: tuple[Decimal, Decimal, str] | None = None


_F = Decimal
#: By LOINC code: the vital signs of the FHIR R4 vital signs profiles and the NEWS2 inputs, in
#: each UCUM unit they are commonly sent in.
LIMITS: dict[str, tuple[Limits, ...]] = {
    "8867-4": (Limits("heart rate", "/min", _F(1), _F(300)),),
    "9279-1": (Limits("respiratory rate", "/min", _F(1), _F(120)),),
    "8310-5": (
        Limits("body temperature", "Cel", _F(25), _F(45), (_F(77), _F(113), "degrees Fahrenheit")),
        Limits("body temperature", "[degF]", _F(77), _F(113), (_F(25), _F(45), "degrees Celsius")),
    ),
    "8480-6": (Limits("systolic blood pressure", "mm[Hg]", _F(20), _F(300)),),
    "8462-4": (Limits("diastolic blood pressure", "mm[Hg]", _F(5), _F(250)),),
    "59408-5": (Limits("oxygen saturation", "%", _F(1), _F(100)),),
    "2708-6": (Limits("oxygen saturation", "%", _F(1), _F(100)),),
    "29463-7": (
        Limits("body weight", "kg", _F("0.2"), _F(700)),
        Limits("body weight", "[lb_av]", _F("0.4"), _F(1550)),
    ),
    "8302-2": (Limits("body height", "cm", _F(20), _F(280)), Limits("body height", "[in_i]", _F(8), _F(110))),
}


def _loinc_codes(observation: dict[str, Any]) -> list[str]:
    codings = observation.get("code", {}).get("coding", [])
    return [c.get("code", "") for c in codings if isinstance(c, dict) and c.get("system") == LOINC]


def _number(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return Decimal(str(value))  # FhirDecimal's str is the text as sent
    except InvalidOperation:
        return None


def implausible_reason(observation: dict[str, Any]) -> str | None:
    """Why the Observation's ``valueQuantity`` cannot be a real measurement, or ``None``."""
    quantity = observation.get("valueQuantity")
    if not isinstance(quantity, dict) or quantity.get("system") != UCUM or "comparator" in quantity:
        return None
    value = _number(quantity.get("value"))
    if value is None:
        return None
    unit = quantity.get("code")
    for code in _loinc_codes(observation):
        limits = next((limits for limits in LIMITS.get(code, ()) if limits.unit == unit), None)
        if limits is None:
            continue
        if limits.low <= value <= limits.high:
            return None
        reason = (
            f"Recorded value {quantity['value']} {limits.unit} withheld: a {limits.what} outside "
            f"{limits.low}-{limits.high} {limits.unit} is not physiologically possible"
        )
        hint = limits.other_unit_hint
        if hint is not None and hint[0] <= value <= hint[1]:
            reason += f" (it looks like a value in {hint[2]})"
        return reason + "."
    return None


def flag_implausible(observation: dict[str, Any]) -> str | None:
    """Withhold an impossible ``valueQuantity`` in place (see the module docstring); returns the reason."""
    reason = implausible_reason(observation)
    if reason is not None:
        withhold_value(observation, reason)
    return reason


def withhold_value(observation: dict[str, Any], reason: str) -> None:
    """Replace the Observation's value by ``dataAbsentReason`` ``error``, keeping ``reason`` (with the value) in a note."""
    for key in [key for key in observation if key.startswith("value")]:
        del observation[key]
    observation.pop("interpretation", None)  # it interpreted the withheld value
    observation["dataAbsentReason"] = {
        "coding": [{"system": DATA_ABSENT_REASON, "code": "error", "display": "Error"}],
        "text": "Implausible value withheld",
    }
    observation.setdefault("note", []).append({"text": reason})
