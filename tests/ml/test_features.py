"""Hourly features from synthetic FHIR Observations: bins, masks, time since last seen."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from ml.features import HOURS, STATIC_NAMES, VARIABLE_NAMES, Normalisation, extract, model_inputs

START = datetime(2024, 3, 1, 6, 0, tzinfo=UTC)
LOINC = "http://loinc.org"


def obs(code: str, value: float, unit: str, minutes: float, *, oid: str | None = None, **extra: Any) -> dict[str, Any]:
    """Return a final Observation with a LOINC code and a quantity, ``minutes`` after START."""
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "effectiveDateTime": (START + timedelta(minutes=minutes)).isoformat(),
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
        **extra,
    }
    if oid is not None:
        observation["id"] = oid
    return observation


def col(name: str) -> int:
    return VARIABLE_NAMES.index(name)


def test_values_are_binned_hourly_with_means_sums_and_logs() -> None:
    features = extract(
        [
            obs("8867-4", 80, "/min", 10, oid="hr1"),
            obs("8867-4", 90, "/min", 50, oid="hr2"),
            obs("8867-4", 100, "/min", 61),
            obs("9187-6", 30, "mL", 5),
            obs("9187-6", 40, "mL", 55),
            obs("8310-5", 98.6, "[degF]", 120),
            obs("8867-4", 70, "/min", 48 * 60),  # exactly 48:00 goes in the last bin
            obs("8867-4", 75, "/min", 48 * 60 + 1),  # after the window
            obs("8867-4", 75, "/min", -5),  # before admission
        ],
        start=START,
    )
    assert features.values.shape == (HOURS, len(VARIABLE_NAMES))
    assert features.values[0, col("HR")] == pytest.approx(85)
    assert features.values[1, col("HR")] == pytest.approx(100)
    assert features.values[47, col("HR")] == pytest.approx(70)
    assert features.values[0, col("Urine")] == pytest.approx(math.log1p(70))
    assert features.values[2, col("Temp")] == pytest.approx(37.0)
    assert np.isnan(features.values[3, col("HR")])
    assert features.basis == ("Observation/hr1", "Observation/hr2")
    assert features.last_hour == pytest.approx(48)


def test_blood_pressure_method_and_units_decide_the_variable() -> None:
    invasive = {"method": {"coding": [{"system": "http://snomed.info/sct", "code": "77938009"}]}}
    panel = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
        "effectiveDateTime": START.isoformat(),
        "component": [
            {
                "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                "valueQuantity": {"value": 140, "code": "mm[Hg]"},
            }
        ],
    }
    features = extract(
        [
            obs("8480-6", 120, "mm[Hg]", 0, **invasive),
            obs("8480-6", 999, "mm[Hg]", 0),  # impossible: dropped
            obs("8480-6", 16, "kPa", 0),  # wrong unit: dropped
            obs("8867-4", 80, "/min", 0, status="preliminary"),  # not final: dropped
            panel,
        ],
        start=START,
    )
    assert features.values[0, col("SysABP")] == 120
    assert features.values[0, col("NISysABP")] == 140
    assert np.isnan(features.values[0, col("HR")])


def test_static_descriptors_come_from_patient_encounter_and_observations() -> None:
    features = extract(
        [
            obs("30525-0", 64, "a", 0),
            obs("8302-2", 170, "cm", 0),
            obs("29463-7", 80, "kg", 30),
            obs("29463-7", 82, "kg", 300),
        ],
        start=START,
        patient={"resourceType": "Patient", "gender": "male"},
        encounter={
            "serviceType": {"coding": [{"system": "https://physionet.org/challenge-2012/ICUType", "code": "3"}]}
        },
    )
    assert (features.age, features.height, features.weight) == (64, 170, 80)
    assert (features.gender, features.icu_type) == ("male", 3)
    # Weight is also a time series; Age and Height are not.
    assert features.values[0, col("Weight")] == 80
    assert features.values[5, col("Weight")] == 82


def test_model_inputs_carry_values_forward_with_masks_and_time_since() -> None:
    patients = [
        extract([obs("8867-4", 80, "/min", 30), obs("8867-4", 100, "/min", 3 * 60 + 5)], start=START),
        extract([obs("8867-4", 60, "/min", 0)], start=START),
    ]
    normalisation = Normalisation.fit(patients)
    hr = col("HR")
    assert normalisation.mean[hr] == pytest.approx(80)
    assert normalisation.std[hr] == pytest.approx(np.std([80, 100, 60]))
    # Never observed: neutral statistics.
    assert (normalisation.mean[col("pH")], normalisation.std[col("pH")]) == (0.0, 1.0)
    sequence, static = model_inputs(patients, normalisation)
    v = len(VARIABLE_NAMES)
    assert sequence.shape == (2, HOURS, 3 * v)
    assert static.shape == (2, len(STATIC_NAMES))
    z80 = 0.0
    z100 = (100 - 80) / normalisation.std[hr]
    first = sequence[0]
    assert list(first[:5, hr]) == pytest.approx([z80, z80, z80, z100, z100])
    assert list(first[:5, v + hr]) == [1, 0, 0, 1, 0]
    assert list(first[:5, 2 * v + hr] * HOURS) == pytest.approx([0, 1, 2, 0, 1])
    # A variable never seen: value 0 (the mean), mask 0, time since counts up.
    assert list(first[:3, 2 * v + col("pH")] * HOURS) == pytest.approx([1, 2, 3])
    assert not first[:, col("pH")].any()


def test_normalisation_round_trips_through_json() -> None:
    normalisation = Normalisation.fit([extract([obs("8867-4", 80, "/min", 30)], start=START)])
    assert Normalisation.from_json(normalisation.to_json()) == normalisation
    data = normalisation.to_json()
    data["variables"] = ["HR"]
    with pytest.raises(ValueError, match="other variables"):
        Normalisation.from_json(data)
