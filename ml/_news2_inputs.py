"""Check and normalise one NEWS2 input before it is scored.

Each measurement ends up either *accepted* (a value ready for the chart) or
*rejected* as missing, invalid or stale, with a sentence saying why. Nothing is
ever filled in or defaulted: a rejected input withholds the aggregate score.

Rounding: the RCP chart is printed in whole numbers (temperature in tenths of a
degree), so a value between two printed bands, e.g. a respiration rate of
20.5, cannot be placed as given. We round it to the chart's precision, half
up, which is how it would have been written on the paper chart (20.5 -> 21,
38.05 -> 38.1). Rounding uses the decimal text of the value, so a float such
as 38.05 rounds as written instead of as its binary approximation. Fahrenheit
temperatures are converted to Celsius first and rounded once.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeAlias

from ml._news2_chart import PRECISION, Acvpu, Parameter
from ml.vitals_codes import ACCEPTED_UNITS, FAHRENHEIT, fahrenheit_to_celsius

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime, timedelta

    from ml.news2 import Measurement

#: A value the chart can score: a rounded number, an oxygen flag or an ACVPU level.
ChartValue: TypeAlias = Decimal | bool | Acvpu


class Problem(StrEnum):
    """Why an input cannot be used."""

    MISSING = "missing"
    INVALID = "invalid"
    STALE = "stale"


@dataclass(frozen=True)
class Accepted:
    """An input that may be scored."""

    #: The value as the chart reads it (rounded, in chart units).
    value: ChartValue
    #: Where it came from, e.g. ``Observation/123``.
    source_id: str | None


@dataclass(frozen=True)
class Rejected:
    """An input that may not be scored, and why."""

    problem: Problem
    #: A whole sentence naming the parameter and source.
    message: str


#: ACVPU letters as plain strings: a caller's "C" counts as Acvpu.NEW_CONFUSION.
_ACVPU_LETTERS = frozenset(level.value for level in Acvpu)

_ZERO = Decimal(0)
_PERCENT_MAX = Decimal(100)

#: Physically possible readings, checked before rounding; ``None`` is unbounded.
#: Counts, pressures and saturations cannot be negative and a saturation cannot
#: exceed 100%. Any finite temperature is left to the chart, which scores
#: extremes as 3 rather than rejecting them.
_LIMITS: Mapping[Parameter, tuple[Decimal | None, Decimal | None]] = {
    Parameter.RESPIRATION_RATE: (_ZERO, None),
    Parameter.SPO2: (_ZERO, _PERCENT_MAX),
    Parameter.SYSTOLIC_BP: (_ZERO, None),
    Parameter.PULSE: (_ZERO, None),
    Parameter.TEMPERATURE: (None, None),
}


def check_measurement(
    parameter: Parameter,
    measurement: Measurement[Any] | None,
    *,
    as_of: datetime,
    max_age: timedelta,
) -> Accepted | Rejected:
    """Accept a measurement for scoring, or say why it cannot be used.

    An invalid value is reported even when the measurement is also stale,
    because it points at a data problem that a fresh reading may repeat.

    :param parameter: which NEWS2 parameter the measurement is for.
    :param measurement: the measurement, or ``None`` when there is none.
    :param as_of: the time the score is for; must be timezone-aware.
    :param max_age: the oldest a measurement may be, relative to ``as_of``.
    """
    if measurement is None:
        return Rejected(Problem.MISSING, f"No `{parameter}` measurement was given.")
    label = _label(parameter, measurement)
    value = _normalise(parameter, measurement, label)
    if isinstance(value, Rejected):
        return value
    timing = _check_timing(measurement.taken_at, label, as_of=as_of, max_age=max_age)
    if timing is not None:
        return timing
    return Accepted(value, measurement.source_id)


def _label(parameter: Parameter, measurement: Measurement[Any]) -> str:
    """Name a measurement in messages: "The `pulse` measurement `Observation/7`"."""
    if measurement.source_id is None:
        return f"The `{parameter}` measurement"
    return f"The `{parameter}` measurement `{measurement.source_id}`"


def _normalise(parameter: Parameter, measurement: Measurement[Any], label: str) -> ChartValue | Rejected:
    """Turn a measurement's value into the form the chart scores."""
    value = measurement.value
    if parameter is Parameter.SUPPLEMENTAL_OXYGEN:
        # Only a real bool: 0/1 or "yes" could be a flow rate or free text.
        if isinstance(value, bool):
            return value
        return Rejected(Problem.INVALID, f"{label} has value `{value!r}`; expected True or False.")
    if parameter is Parameter.CONSCIOUSNESS:
        if isinstance(value, str) and value in _ACVPU_LETTERS:
            return Acvpu(value)
        return Rejected(
            Problem.INVALID,
            f"{label} has value `{value!r}`; expected one of A, C, V, P, U.",
        )
    return _normalise_number(parameter, measurement, label)


def _normalise_number(parameter: Parameter, measurement: Measurement[Any], label: str) -> Decimal | Rejected:
    """Check a numeric value's unit and range, then round it to chart precision."""
    value, unit = measurement.value, measurement.unit
    accepted_units = ACCEPTED_UNITS[parameter]
    if unit not in accepted_units:
        expected = ", ".join(f"`{code}`" for code in sorted(accepted_units))
        return Rejected(Problem.INVALID, f"{label} has unit `{unit}`; expected one of {expected}.")
    # bool is an int subclass; True as a pulse is a caller bug, not 1 beat/min.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return Rejected(Problem.INVALID, f"{label} has value `{value!r}`; expected a number.")
    number = Decimal(str(value))
    if not number.is_finite():
        return Rejected(Problem.INVALID, f"{label} has value `{value}`; expected a finite number.")
    if unit == FAHRENHEIT:
        number = fahrenheit_to_celsius(number)
    low, high = _LIMITS[parameter]
    if (low is not None and number < low) or (high is not None and number > high):
        return Rejected(
            Problem.INVALID,
            f"{label} has value `{value}`, which is not physically possible.",
        )
    try:
        return number.quantize(PRECISION[parameter], rounding=ROUND_HALF_UP)
    except InvalidOperation:
        # Only absurdly large values exceed the decimal context's precision.
        return Rejected(
            Problem.INVALID,
            f"{label} has value `{value}`, which is too large to score.",
        )


def _check_timing(taken_at: datetime, label: str, *, as_of: datetime, max_age: timedelta) -> Rejected | None:
    """Reject a zoneless time, one after ``as_of``, or one older than ``max_age``."""
    if taken_at.utcoffset() is None:
        # Comparing naive and aware times is undefined; refusing beats assuming UTC.
        return Rejected(
            Problem.INVALID,
            f"{label} has a taken_at time `{taken_at}` with no time zone.",
        )
    if taken_at > as_of:
        return Rejected(
            Problem.INVALID,
            f"{label} was taken at `{taken_at.isoformat()}`, after the scoring time `{as_of.isoformat()}`.",
        )
    age = as_of - taken_at
    if age > max_age:
        return Rejected(
            Problem.STALE,
            f"{label} was taken at `{taken_at.isoformat()}`, {age} before the scoring time; the limit is {max_age}.",
        )
    return None
