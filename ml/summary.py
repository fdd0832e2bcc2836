"""Per-variable summary statistics over the 48-hour window, for the tree model.

The recurrent network reads the hourly sequence; gradient-boosted trees read a
flat row per patient instead: for each of the 37 challenge variables the
first, last, minimum, maximum and mean of its hourly values, how many hours it
was observed in, and its least-squares slope per hour, followed by the static
descriptors. Values are the raw (log-transformed, unstandardised) bin values of
:class:`ml.features.PatientFeatures`, so no training statistic is needed here,
and a variable never observed is ``NaN``, which the trees route by themselves
(missingness is informative in ICU data: a lab not drawn is a sign too).

Everything is vectorised over patients: building the rows of 1,000 patients
takes a few milliseconds.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

import numpy as np

from ml.features import HOURS, VARIABLE_NAMES

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

    from ml.features import PatientFeatures

__all__ = ["STATISTICS", "SUMMARY_NAMES", "summary_matrix"]

#: Statistics per variable, in column order.
STATISTICS: tuple[str, ...] = ("first", "last", "min", "max", "mean", "count", "slope")
#: Static columns after the per-variable ones (gender: 1 male, 0 female; ICU type 1-4).
_STATIC: tuple[str, ...] = ("age", "height", "weight", "male", "icu_type")
#: Every column of :func:`summary_matrix`, ``<variable>_<statistic>`` then the statics.
SUMMARY_NAMES: tuple[str, ...] = tuple(f"{v}_{s}" for v in VARIABLE_NAMES for s in STATISTICS) + _STATIC


def summary_matrix(features: Sequence[PatientFeatures]) -> NDArray[np.float32]:
    """Return one row of :data:`SUMMARY_NAMES` per patient (``NaN`` where undefined)."""
    count = len(features)
    if count == 0:
        return np.zeros((0, len(SUMMARY_NAMES)), dtype=np.float32)
    values = np.stack([f.values for f in features]).astype(np.float64)  # (N, 48, V)
    observed = ~np.isnan(values)
    seen = observed.sum(axis=1)  # (N, V)
    hours = np.arange(HOURS, dtype=np.float64)[None, :, None]
    # First and last observed hour per variable, by masking the hour index.
    first_hour = np.where(observed, hours, HOURS).min(axis=1).clip(max=HOURS - 1).astype(int)
    last_hour = np.where(observed, hours, -1).max(axis=1).clip(min=0).astype(int)
    first = np.take_along_axis(values, first_hour[:, None, :], axis=1)[:, 0, :]
    last = np.take_along_axis(values, last_hour[:, None, :], axis=1)[:, 0, :]
    with warnings.catch_warnings():
        # All-NaN columns (a variable never seen) give NaN, which is what we want.
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high, mean = np.nanmin(values, axis=1), np.nanmax(values, axis=1), np.nanmean(values, axis=1)
        slope = _slope(values, observed, seen)
    stats = np.stack([first, last, low, high, mean, seen.astype(np.float64), slope], axis=2)  # (N, V, S)
    stats[:, :, :2] = np.where(seen[:, :, None] > 0, stats[:, :, :2], np.nan)
    static = np.array([_static(f) for f in features], dtype=np.float64)
    return np.concatenate([stats.reshape(count, -1), static], axis=1).astype(np.float32)


def _slope(values: NDArray[np.float64], observed: NDArray[np.bool_], seen: NDArray[np.int64]) -> NDArray[np.float64]:
    # Least-squares slope over the observed hours only: cov(t, x) / var(t).
    hours = np.broadcast_to(np.arange(HOURS, dtype=np.float64)[None, :, None], values.shape)
    n = np.maximum(seen, 1)
    t_mean = np.where(observed, hours, 0.0).sum(axis=1) / n
    x_mean = np.where(observed, values, 0.0).sum(axis=1) / n
    dt = np.where(observed, hours - t_mean[:, None, :], 0.0)
    dx = np.where(observed, values - x_mean[:, None, :], 0.0)
    variance = (dt * dt).sum(axis=1)
    return np.where((seen >= 2) & (variance > 0), (dt * dx).sum(axis=1) / np.where(variance > 0, variance, 1.0), np.nan)


def _static(patient: PatientFeatures) -> list[float]:
    male = math.nan if patient.gender is None else float(patient.gender == "male")
    icu = math.nan if patient.icu_type is None else float(patient.icu_type)
    return [patient.age, patient.height, patient.weight, male, icu]
