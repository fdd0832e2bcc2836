"""The NEWS2 scoring chart as data, and the lookups over it.

Source: Royal College of Physicians, *National Early Warning Score (NEWS) 2:
Standardising the assessment of acute-illness severity in the NHS*, London,
2017, Chart 1 "The NEWS scoring system". Every band below was checked against
that chart, row by row::

    Parameter         3       2       1          0           1          2        3
    Respiration rate  <=8             9-11       12-20                  21-24    >=25
    SpO2 scale 1      <=91    92-93   94-95      >=96
    SpO2 scale 2      <=83    84-85   86-87      88-92       93-94      95-96    >=97
                                                 >=93 air    on O2      on O2    on O2
    Air or oxygen?            Oxygen             Air
    Systolic BP       <=90    91-100  101-110    111-219                         >=220
    Pulse             <=40            41-50      51-90       91-110     111-130  >=131
    Consciousness                                Alert                           CVPU
    Temperature       <=35.0          35.1-36.0  36.1-38.0   38.1-39.0  >=39.1

The chart is printed at whole numbers (temperature: one decimal), so a band's
inclusive upper bound is enough to place any value already rounded to that
precision: bands are read lowest first and the first one whose ``upper`` is not
exceeded wins. Rounding happens before lookup, in :mod:`ml._news2_inputs`.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Mapping


class Parameter(StrEnum):
    """The seven NEWS2 physiological parameters, in chart order.

    Each value is also the matching field name on :class:`ml.news2.VitalSigns`.
    """

    RESPIRATION_RATE = "respiration_rate"
    SPO2 = "spo2"
    SUPPLEMENTAL_OXYGEN = "supplemental_oxygen"
    SYSTOLIC_BP = "systolic_bp"
    PULSE = "pulse"
    CONSCIOUSNESS = "consciousness"
    TEMPERATURE = "temperature"


class Acvpu(StrEnum):
    """The ACVPU consciousness scale used by NEWS2.

    ``NEW_CONFUSION`` means new-onset or worsening confusion, disorientation or
    delirium. The RCP advises treating confusion in an acutely ill patient as
    new until shown otherwise; that judgement is the recorder's, not this
    scorer's.
    """

    ALERT = "A"
    NEW_CONFUSION = "C"
    VOICE = "V"
    PAIN = "P"
    UNRESPONSIVE = "U"


class RiskBand(StrEnum):
    """Clinical risk bands that the RCP attaches to a NEWS2 result."""

    LOW = "low"
    LOW_MEDIUM = "low-medium"
    MEDIUM = "medium"
    HIGH = "high"


class Band(NamedTuple):
    """One cell of a numeric chart row."""

    #: Inclusive upper bound, at the row's chart precision.
    upper: Decimal
    #: Sub-score for values in this band.
    score: int


#: Upper bound of a row's last band: the chart's "≥ n" cells are open-ended.
_OPEN = Decimal("Infinity")

#: Chart precision: whole numbers everywhere except temperature.
_WHOLE = Decimal(1)
_TENTH = Decimal("0.1")


def _row(*bounded: tuple[int | str, int], top: int) -> tuple[Band, ...]:
    """Build a chart row from its bounded cells and the score of its open top cell.

    :param bounded: ``(inclusive upper bound, score)`` pairs, lowest first.
    :param top: score of the chart's final "≥ n" cell, which has no upper bound.
    """
    return (
        *(Band(Decimal(upper), score) for upper, score in bounded),
        Band(_OPEN, top),
    )


RESPIRATION_RATE_BANDS = _row((8, 3), (11, 1), (20, 0), (24, 2), top=3)
SPO2_SCALE_1_BANDS = _row((91, 3), (93, 2), (95, 1), top=0)
#: Scale 2 on air: 88-92 and every value >= 93 score 0.
SPO2_SCALE_2_AIR_BANDS = _row((83, 3), (85, 2), (87, 1), top=0)
#: Scale 2 on oxygen: above the 88-92 target, saturation scores again.
SPO2_SCALE_2_OXYGEN_BANDS = _row((83, 3), (85, 2), (87, 1), (92, 0), (94, 1), (96, 2), top=3)
SYSTOLIC_BP_BANDS = _row((90, 3), (100, 2), (110, 1), (219, 0), top=3)
PULSE_BANDS = _row((40, 3), (50, 1), (90, 0), (110, 1), (130, 2), top=3)
# Strings, not floats, so the tenths are exact rather than binary approximations.
TEMPERATURE_BANDS = _row(("35.0", 3), ("36.0", 1), ("38.0", 0), ("39.0", 1), top=2)

#: Rows for the parameters whose score depends on nothing but their own value.
NUMERIC_BANDS: Mapping[Parameter, tuple[Band, ...]] = {
    Parameter.RESPIRATION_RATE: RESPIRATION_RATE_BANDS,
    Parameter.SYSTOLIC_BP: SYSTOLIC_BP_BANDS,
    Parameter.PULSE: PULSE_BANDS,
    Parameter.TEMPERATURE: TEMPERATURE_BANDS,
}

#: The precision each numeric parameter is printed at on the chart.
PRECISION: Mapping[Parameter, Decimal] = {
    Parameter.RESPIRATION_RATE: _WHOLE,
    Parameter.SPO2: _WHOLE,
    Parameter.SYSTOLIC_BP: _WHOLE,
    Parameter.PULSE: _WHOLE,
    Parameter.TEMPERATURE: _TENTH,
}

#: "Air or oxygen?" row.
SUPPLEMENTAL_OXYGEN_SCORE = 2
AIR_SCORE = 0

#: Consciousness row: only Alert scores 0.
CONSCIOUSNESS_SCORES: Mapping[Acvpu, int] = {
    Acvpu.ALERT: 0,
    Acvpu.NEW_CONFUSION: 3,
    Acvpu.VOICE: 3,
    Acvpu.PAIN: 3,
    Acvpu.UNRESPONSIVE: 3,
}

#: A single parameter at this score is the RCP's "red score" trigger.
RED_SCORE = 3
#: Aggregate thresholds for the medium (urgent) and high (emergency) bands.
MEDIUM_THRESHOLD = 5
HIGH_THRESHOLD = 7


def band_score(bands: tuple[Band, ...], value: Decimal) -> int:
    """Return the sub-score of the first band whose upper bound is not exceeded.

    :param bands: a chart row, lowest band first, ending with an open band.
    :param value: the measurement, already rounded to the row's precision.
    """
    for band in bands:
        if value <= band.upper:
            return band.score
    # Unreachable: every row ends with an open band; kept so a malformed row
    # fails loudly instead of scoring 0.
    raise ValueError(f"Value `{value}` is above every band of the chart row.")


def spo2_score(value: Decimal, *, scale_2: bool, on_oxygen: bool | None) -> int | None:
    """Score an SpO2 reading on scale 1 or scale 2.

    On scale 2 a reading of 93% or more scores 0 on air but 1-3 on oxygen, so
    the oxygen status is needed there; elsewhere it does not matter.

    :param value: SpO2 in percent, rounded to a whole number.
    :param scale_2: use scale 2 (prescribed target range 88-92%, e.g.
        hypercapnic respiratory failure).
    :param on_oxygen: whether the patient is on supplemental oxygen, or
        ``None`` when that is not known.
    :returns: the sub-score, or ``None`` when it depends on an unknown oxygen
        status.
    """
    if not scale_2:
        return band_score(SPO2_SCALE_1_BANDS, value)
    air_score = band_score(SPO2_SCALE_2_AIR_BANDS, value)
    oxygen_score = band_score(SPO2_SCALE_2_OXYGEN_BANDS, value)
    if air_score == oxygen_score:
        return air_score
    if on_oxygen is None:
        return None
    return oxygen_score if on_oxygen else air_score


def risk_band(aggregate: int, sub_scores: Mapping[Parameter, int]) -> RiskBand:
    """Return the RCP clinical risk band for a complete set of sub-scores.

    :param aggregate: the NEWS2 total.
    :param sub_scores: every parameter's sub-score, used for the red-score rule.
    """
    if aggregate >= HIGH_THRESHOLD:
        return RiskBand.HIGH
    if aggregate >= MEDIUM_THRESHOLD:
        return RiskBand.MEDIUM
    if any(score >= RED_SCORE for score in sub_scores.values()):
        return RiskBand.LOW_MEDIUM
    return RiskBand.LOW
