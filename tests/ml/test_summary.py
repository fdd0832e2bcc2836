"""Per-variable summary rows for the trees."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ml.features import HOURS, VARIABLE_NAMES, PatientFeatures
from ml.summary import STATISTICS, SUMMARY_NAMES, summary_matrix


def _column(variable: str, statistic: str) -> int:
    return SUMMARY_NAMES.index(f"{variable}_{statistic}")


def test_statistics_of_one_variable_and_missing_ones() -> None:
    values = np.full((HOURS, len(VARIABLE_NAMES)), np.nan, dtype=np.float32)
    hr = VARIABLE_NAMES.index("HR")
    values[2, hr], values[5, hr], values[11, hr] = 80.0, 90.0, 110.0
    patient = PatientFeatures(values=values, age=70.0, gender="female", icu_type=3)
    row = summary_matrix([patient])[0]
    got = {s: float(row[_column("HR", s)]) for s in STATISTICS}
    hours, readings = np.array([2.0, 5.0, 11.0]), np.array([80.0, 90.0, 110.0])
    slope = float(np.polyfit(hours, readings, 1)[0])
    assert got == pytest.approx(
        {"first": 80, "last": 110, "min": 80, "max": 110, "mean": 280 / 3, "count": 3, "slope": slope}
    )
    never_seen = [row[_column("pH", s)] for s in STATISTICS]
    assert all(math.isnan(v) for i, v in enumerate(never_seen) if STATISTICS[i] != "count")
    assert row[_column("pH", "count")] == 0
    assert list(row[-5:][[0, 3, 4]]) == [70.0, 0.0, 3.0]
    assert math.isnan(row[-4])  # height unknown


def test_shape_and_empty_batch() -> None:
    assert summary_matrix([]).shape == (0, len(SUMMARY_NAMES))
    assert len(SUMMARY_NAMES) == len(VARIABLE_NAMES) * len(STATISTICS) + 5
