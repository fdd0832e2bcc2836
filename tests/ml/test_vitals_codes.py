"""Tests for :mod:`ml.vitals_codes`: the code table, units and oxygen rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ml.news2 import Acvpu, Parameter
from ml.vitals_codes import (
    ACCEPTED_UNITS,
    ACVPU_ANSWERS,
    BP_PANEL,
    LOINC,
    PULSE_OXIMETRY,
    VITAL_CODES,
    codes_for,
    fahrenheit_to_celsius,
    indicates_supplemental_oxygen,
)


def test_every_parameter_has_a_code() -> None:
    assert {vital.parameter for vital in VITAL_CODES} == set(Parameter)


@pytest.mark.parametrize(
    ("parameter", "code"),
    [
        (Parameter.RESPIRATION_RATE, "9279-1"),
        (Parameter.SPO2, "59408-5"),
        (Parameter.SPO2, "2708-6"),
        (Parameter.SYSTOLIC_BP, "8480-6"),
        (Parameter.PULSE, "8867-4"),
        (Parameter.TEMPERATURE, "8310-5"),
        (Parameter.CONSCIOUSNESS, "67775-7"),
        (Parameter.SUPPLEMENTAL_OXYGEN, "3151-8"),
        (Parameter.SUPPLEMENTAL_OXYGEN, "3150-0"),
    ],
)
def test_loinc_codes(parameter: Parameter, code: str) -> None:
    assert any(vital.system == LOINC and vital.code == code for vital in codes_for(parameter))


def test_systolic_is_also_read_from_the_bp_panel() -> None:
    assert {vital.panel for vital in codes_for(Parameter.SYSTOLIC_BP)} == {
        None,
        BP_PANEL,
    }


def test_oxygen_is_also_read_from_pulse_oximetry_components() -> None:
    panels = {vital.panel for vital in codes_for(Parameter.SUPPLEMENTAL_OXYGEN)}
    assert panels == {None, PULSE_OXIMETRY}


def test_units_cover_exactly_the_numeric_parameters() -> None:
    assert set(ACCEPTED_UNITS) == set(Parameter) - {
        Parameter.SUPPLEMENTAL_OXYGEN,
        Parameter.CONSCIOUSNESS,
    }
    assert ACCEPTED_UNITS[Parameter.TEMPERATURE] == {"Cel", "[degF]"}


def test_every_acvpu_level_has_a_loinc_answer() -> None:
    loinc_levels = [answer.level for answer in ACVPU_ANSWERS if answer.system == LOINC]
    assert sorted(loinc_levels) == sorted(Acvpu)
    borrowed = [answer.code for answer in ACVPU_ANSWERS if not answer.normative]
    assert borrowed == ["LA6560-2"]


def test_answer_codes_are_unique() -> None:
    keys = [(answer.system, answer.code) for answer in ACVPU_ANSWERS]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize(("fahrenheit", "celsius"), [("32", "0"), ("212", "100"), ("98.6", "37")])
def test_fahrenheit_to_celsius(fahrenheit: str, celsius: str) -> None:
    assert fahrenheit_to_celsius(Decimal(fahrenheit)) == Decimal(celsius)


@pytest.mark.parametrize(
    ("code", "value", "unit", "expected"),
    [
        ("3151-8", 0, "L/min", False),
        ("3151-8", 0.5, "L/min", True),
        ("3150-0", 21, "%", False),
        ("3150-0", 28, "%", True),
        ("3150-0", 28, "L/min", None),
        ("9279-1", 2, "L/min", None),
        ("3151-8", -1, "L/min", None),
        ("3151-8", float("nan"), "L/min", None),
    ],
)
def test_indicates_supplemental_oxygen(code: str, value: float, unit: str, expected: bool | None) -> None:
    assert indicates_supplemental_oxygen(code, value, unit) is expected
