"""Model inputs from FHIR resources: hourly bins over the first 48 hours of a stay.

:func:`extract` turns a patient's Observations (plus Patient and Encounter)
into :class:`PatientFeatures`: per hour and per challenge variable the value
(mean of the hour, sum for urine output, on a log scale for skewed labs), and
static descriptors. :class:`Normalisation` holds the means and standard
deviations fitted on the training split only, and :func:`model_inputs` turns
features into the arrays the model reads:

* ``sequence`` (N, 48, 3V): per variable the standardised value carried
  forward from its last observation (0, the training mean, before the first),
  the mask (1 where observed in that hour) and the hours since it was last
  observed, divided by 48;
* ``static`` (N, 11): age, height and admission weight standardised, with
  known-flags for height and weight, gender (female, male) and ICU type one-hot.

Training, evaluation and live scoring all call these functions on FHIR JSON,
so the model never sees data by any other path.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ml._observation_values import readings
from ml.physionet_codes import TIME_SERIES

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from datetime import datetime

    from numpy.typing import NDArray

__all__ = [
    "HOURS",
    "STATIC_NAMES",
    "VARIABLE_NAMES",
    "Normalisation",
    "PatientFeatures",
    "extract",
    "icu_type",
    "model_inputs",
]

#: Length of the observation window, in hourly bins.
HOURS = 48
#: Time-series variables, in input order.
VARIABLE_NAMES: tuple[str, ...] = tuple(variable.name for variable in TIME_SERIES)
#: Columns of the static input.
STATIC_NAMES: tuple[str, ...] = (
    "age", "height", "height_known", "weight", "weight_known",
    "female", "male", "icu_1", "icu_2", "icu_3", "icu_4",
)  # fmt: skip
_INDEX = {name: i for i, name in enumerate(VARIABLE_NAMES)}
_ICU_TYPE_SYSTEM = "https://physionet.org/challenge-2012/ICUType"


@dataclass
class PatientFeatures:
    """One patient's raw (unstandardised) features."""

    #: (48, V) bin values after the log transform; NaN where not observed.
    values: NDArray[np.float32]
    #: Age, height and admission weight; NaN where unknown.
    age: float = math.nan
    height: float = math.nan
    weight: float = math.nan
    #: ``female``, ``male`` or ``None``.
    gender: str | None = None
    #: ICU type 1-4 or ``None``.
    icu_type: int | None = None
    #: ``Observation/<id>`` of every reading used, first-seen order.
    basis: tuple[str, ...] = ()
    #: Hours from admission to the latest reading used (0 when none).
    last_hour: float = 0.0


def icu_type(encounter: dict[str, Any] | None) -> int | None:
    """Return the challenge ICU type coded in an Encounter's serviceType, if any."""
    codings = ((encounter or {}).get("serviceType") or {}).get("coding") or ()
    for coding in codings:
        if coding.get("system") == _ICU_TYPE_SYSTEM and coding.get("code") in ("1", "2", "3", "4"):
            return int(coding["code"])
    return None


def extract(
    observations: Iterable[dict[str, Any]],
    *,
    start: datetime,
    patient: dict[str, Any] | None = None,
    encounter: dict[str, Any] | None = None,
) -> PatientFeatures:
    """Bin a patient's Observations into the first :data:`HOURS` hours after ``start``.

    Readings before ``start`` or more than 48 hours after it are ignored (a
    reading at exactly 48:00, which the challenge has, goes in the last bin).

    :param start: ICU admission, timezone-aware.
    :param patient: the Patient, for gender.
    :param encounter: the Encounter, for the ICU type.
    """
    sums = np.zeros((HOURS, len(VARIABLE_NAMES)), dtype=np.float64)
    counts = np.zeros_like(sums)
    statics: dict[str, float] = {}
    weights: list[tuple[float, float]] = []
    basis: dict[str, None] = {}
    last_hour = 0.0
    for observation in observations:
        for reading in readings(observation):
            hour = (reading.taken_at - start).total_seconds() / 3600
            if not 0 <= hour <= HOURS:
                continue
            name = reading.variable.name
            if reading.source is not None:
                basis[reading.source] = None
            last_hour = max(last_hour, hour)
            if name in ("Age", "Height"):
                statics.setdefault(name, reading.value)
                continue
            if name == "Weight":
                weights.append((hour, reading.value))
            column = _INDEX[name]
            row = min(int(hour), HOURS - 1)
            sums[row, column] += reading.value
            counts[row, column] += 1
    return PatientFeatures(
        values=_combine(sums, counts),
        age=statics.get("Age", math.nan),
        height=statics.get("Height", math.nan),
        weight=min(weights)[1] if weights else math.nan,
        gender=(patient or {}).get("gender") if (patient or {}).get("gender") in ("female", "male") else None,
        icu_type=icu_type(encounter),
        basis=tuple(basis),
        last_hour=last_hour,
    )


def _combine(sums: NDArray[np.float64], counts: NDArray[np.float64]) -> NDArray[np.float32]:
    observed = counts > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(observed, sums / counts, np.nan)
    for column, variable in enumerate(TIME_SERIES):
        if variable.combine == "sum":
            values[:, column] = np.where(observed[:, column], sums[:, column], np.nan)
        if variable.log:
            values[:, column] = np.log1p(values[:, column])
    return values.astype(np.float32)


@dataclass
class Normalisation:
    """Means and standard deviations fitted on the training split."""

    #: Per time-series variable, over observed bins (after the log transform).
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    #: Age, height, weight.
    static_mean: list[float] = field(default_factory=list)
    static_std: list[float] = field(default_factory=list)

    @classmethod
    def fit(cls, features: Sequence[PatientFeatures]) -> Normalisation:
        """Fit on training features only, so no statistic leaks from test data."""
        stacked = np.stack([f.values for f in features]).reshape(-1, len(VARIABLE_NAMES))
        statics = np.array([[f.age, f.height, f.weight] for f in features], dtype=np.float64)
        return cls(
            mean=_nan_stat(np.nanmean, stacked, 0.0),
            std=_nan_stat(np.nanstd, stacked, 1.0),
            static_mean=_nan_stat(np.nanmean, statics, 0.0),
            static_std=_nan_stat(np.nanstd, statics, 1.0),
        )

    def to_json(self) -> dict[str, Any]:
        """Return the statistics as JSON-ready data, keyed by variable name."""
        return {
            "variables": list(VARIABLE_NAMES),
            "mean": self.mean,
            "std": self.std,
            "static": ["age", "height", "weight"],
            "static_mean": self.static_mean,
            "static_std": self.static_std,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Normalisation:
        """Read statistics written by :meth:`to_json`.

        :raises ValueError: if they were fitted on different variables.
        """
        if tuple(data["variables"]) != VARIABLE_NAMES:
            raise ValueError("The normalisation statistics were fitted on other variables than this code reads.")
        return cls(data["mean"], data["std"], data["static_mean"], data["static_std"])


def _nan_stat(function: Any, data: NDArray[Any], fallback: float) -> list[float]:
    # A variable never observed in training gets a neutral statistic instead
    # of NaN, and a constant one (MechVent is always 1) a unit spread instead
    # of a division by zero.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = function(data, axis=0)
    usable = [math.isfinite(v) and (fallback == 0.0 or v > 1e-6) for v in result]
    return [float(v) if ok else fallback for v, ok in zip(result, usable, strict=True)]


def model_inputs(
    features: Sequence[PatientFeatures], normalisation: Normalisation
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Return ``(sequence, static)`` arrays for the model; see the module docstring.

    Vectorised over patients and hours: carrying values forward is a running
    maximum of "hour last observed", then one gather.
    """
    count, variables = len(features), len(VARIABLE_NAMES)
    rows = [_static_row(f, normalisation) for f in features]
    static = np.array(rows, dtype=np.float32).reshape(count, len(STATIC_NAMES))
    if count == 0:
        return np.zeros((0, HOURS, 3 * variables), dtype=np.float32), static
    values = np.stack([f.values for f in features])  # (N, 48, V)
    observed = ~np.isnan(values)
    mean, std = np.asarray(normalisation.mean), np.asarray(normalisation.std)
    standard = np.where(observed, (values - mean) / std, 0.0)
    hours = np.arange(HOURS)[None, :, None]
    last_seen = np.maximum.accumulate(np.where(observed, hours, -1), axis=1)
    carried = np.where(last_seen >= 0, np.take_along_axis(standard, last_seen.clip(min=0), axis=1), 0.0)
    # Before the first observation the count starts at 1 in hour 0, as if last seen at hour -1.
    since = (hours - last_seen) / HOURS
    sequence = np.concatenate([carried, observed, since], axis=2).astype(np.float32)
    return sequence, static


def _static_row(patient: PatientFeatures, normalisation: Normalisation) -> list[float]:
    age, height, weight = (
        0.0 if math.isnan(value) else (value - m) / s
        for value, m, s in zip(
            (patient.age, patient.height, patient.weight),
            normalisation.static_mean,
            normalisation.static_std,
            strict=True,
        )
    )
    icu = [float(patient.icu_type == code) for code in (1, 2, 3, 4)]
    return [
        age, height, float(not math.isnan(patient.height)), weight, float(not math.isnan(patient.weight)),
        float(patient.gender == "female"), float(patient.gender == "male"), *icu,
    ]  # fmt: skip
