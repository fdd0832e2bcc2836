"""Which vital signs are flagged as impossible, and how the flagged Observation looks."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import fhir_json
from conformance.validation import validate_resource
from fhir_server.quality.plausibility import flag_implausible, implausible_reason


def vital(code: str, value: Any, unit: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
        **extra,
    }


@pytest.mark.parametrize(
    ("code", "value", "unit"),
    [
        ("8867-4", 0, "/min"),
        ("8867-4", 500, "/min"),
        ("9279-1", 0, "/min"),
        ("8310-5", 98.6, "Cel"),
        ("8310-5", 12, "Cel"),
        ("59408-5", 104, "%"),
        ("8480-6", 900, "mm[Hg]"),
        ("29463-7", 0, "kg"),
        ("8310-5", 37.2, "[degF]"),  # Celsius labelled Fahrenheit
        ("29463-7", 2000, "[lb_av]"),
        ("8302-2", 170, "[in_i]"),  # centimetres labelled inches
    ],
)
def test_impossible_values_are_flagged(code: str, value: Any, unit: str) -> None:
    assert implausible_reason(vital(code, value, unit)) is not None


@pytest.mark.parametrize(
    ("observation"),
    [
        vital("8867-4", 35, "/min"),  # bradycardia: abnormal, a finding
        vital("8867-4", 210, "/min"),
        vital("8310-5", 41.5, "Cel"),
        vital("8310-5", 98.6, "[degF]"),  # normal, in Fahrenheit
        vital("2345-7", 900, "mg/dL"),  # not a vital sign
        vital(
            "8867-4",
            500,
            "/min",
            valueQuantity={"value": 500, "comparator": ">", "code": "/min", "system": "http://unitsofmeasure.org"},
        ),
    ],
)
def test_plausible_or_unknown_values_are_left_alone(observation: dict[str, Any]) -> None:
    before = fhir_json.dumps(observation)
    assert flag_implausible(observation) is None
    assert fhir_json.dumps(observation) == before


def test_a_flagged_observation_keeps_the_value_as_sent_and_stays_valid() -> None:
    observation = fhir_json.loads(
        b'{"resourceType":"Observation","status":"final",'
        b'"code":{"coding":[{"system":"http://loinc.org","code":"8310-5"}]},'
        b'"interpretation":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation","code":"HH"}]}],'
        b'"valueQuantity":{"value":98.60,"unit":"Cel","system":"http://unitsofmeasure.org","code":"Cel"}}'
    )
    reason = flag_implausible(observation)
    assert reason is not None and "98.60 Cel" in reason and "degrees Fahrenheit" in reason
    assert "valueQuantity" not in observation and "interpretation" not in observation
    assert observation["dataAbsentReason"]["coding"][0]["code"] == "error"
    assert observation["note"] == [{"text": reason}]
    assert validate_resource(observation) == []
