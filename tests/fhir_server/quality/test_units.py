"""Units written as senders write them, coded in UCUM; what is left alone."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.quality.units import UCUM, normalise_quantity, normalise_units, ucum_code


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("bpm", "/min"),
        ("beats/min", "/min"),
        ("Breaths / min", "/min"),
        ("mmHg", "mm[Hg]"),
        ("mm Hg", "mm[Hg]"),
        ("°C", "Cel"),
        ("degC", "Cel"),
        ("°F", "[degF]"),
        ("lbs", "[lb_av]"),
        ("kgs", "kg"),
        ("in", "[in_i]"),
        ("percent", "%"),
        ("µmol/L", "umol/L"),
        ("mg/dl", "mg/dL"),
        ("kg/m^2", "kg/m2"),
        ("mm[Hg]", "mm[Hg]"),
        ("10*9/L", "10*9/L"),
    ],
)
def test_common_spellings_name_their_ucum_code(written: str, code: str) -> None:
    assert ucum_code(written) == code


@pytest.mark.parametrize("written", ["C", "F", "tablet", "puffs", ""])
def test_ambiguous_or_unknown_units_name_no_code(written: str) -> None:
    # `C` and `F` are the coulomb and the farad in UCUM: no guess.
    assert ucum_code(written) is None


def test_unit_text_alone_gets_system_and_code_and_keeps_the_text() -> None:
    quantity: dict[str, Any] = {"value": 72, "unit": "bpm"}
    assert normalise_quantity(quantity) == ("bpm", "/min")
    assert quantity == {"value": 72, "unit": "bpm", "system": UCUM, "code": "/min"}


def test_a_non_ucum_code_under_the_ucum_system_is_recoded() -> None:
    quantity: dict[str, Any] = {"value": 120, "unit": "mmHg", "system": UCUM, "code": "mmHg"}
    assert normalise_quantity(quantity) == ("mmHg", "mm[Hg]")
    assert quantity["code"] == "mm[Hg]"
    assert quantity["unit"] == "mmHg"


@pytest.mark.parametrize(
    "quantity",
    [
        {"value": 72, "unit": "/min", "system": UCUM, "code": "/min"},  # already UCUM
        {"value": 2, "unit": "bpm", "system": "http://example.org/units", "code": "bpm"},  # another system, on purpose
        {"value": 2, "unit": "tablet"},  # nothing UCUM names
        {"value": 2},  # no unit at all
    ],
)
def test_quantities_already_coded_or_unknown_are_left_alone(quantity: dict[str, Any]) -> None:
    before = dict(quantity)
    assert normalise_quantity(quantity) is None
    assert quantity == before


def test_every_quantity_in_a_resource_is_normalised_but_money_is_not() -> None:
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "component": [
            {"code": {"text": "systolic"}, "valueQuantity": {"value": 120, "unit": "mmHg"}},
            {"code": {"text": "diastolic"}, "valueQuantity": {"value": 80, "unit": "mm Hg"}},
        ],
        "referenceRange": [{"low": {"value": 60, "unit": "bpm"}, "high": {"value": 100, "unit": "bpm"}}],
        "contained": [{"resourceType": "Claim", "total": {"value": 10, "currency": "EUR"}}],
    }
    changes = normalise_units(observation)
    assert changes == [
        ("valueQuantity", "mmHg", "mm[Hg]"),
        ("valueQuantity", "mm Hg", "mm[Hg]"),
        ("low", "bpm", "/min"),
        ("high", "bpm", "/min"),
    ]
    assert observation["component"][1]["valueQuantity"]["code"] == "mm[Hg]"
    assert observation["contained"][0]["total"] == {"value": 10, "currency": "EUR"}
