"""Tests for :mod:`ml.news2`: chart boundaries, bands, responses and input checks."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

import ml
from ml import news2
from ml.news2 import (
    DEFAULT_MAX_AGE,
    Acvpu,
    Measurement,
    News2Result,
    Parameter,
    RiskBand,
    VitalSigns,
    score_news2,
)

AS_OF = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
RECENT = AS_OF - timedelta(minutes=30)

#: Units used for each numeric parameter in these tests.
UNITS = {
    Parameter.RESPIRATION_RATE: "/min",
    Parameter.SPO2: "%",
    Parameter.SYSTOLIC_BP: "mm[Hg]",
    Parameter.PULSE: "/min",
    Parameter.TEMPERATURE: "Cel",
}

#: A healthy set of values that scores 0 on every parameter.
NORMAL: dict[Parameter, Any] = {
    Parameter.RESPIRATION_RATE: 16,
    Parameter.SPO2: 98,
    Parameter.SUPPLEMENTAL_OXYGEN: False,
    Parameter.SYSTOLIC_BP: 120,
    Parameter.PULSE: 70,
    Parameter.CONSCIOUSNESS: Acvpu.ALERT,
    Parameter.TEMPERATURE: 37.0,
}


def measure(parameter: Parameter, value: Any, *, taken_at: datetime = RECENT) -> Measurement[Any]:
    """Make a measurement with the test unit and a source id naming the parameter."""
    return Measurement(value, UNITS.get(parameter), taken_at, f"Observation/{parameter}")


def vitals(**overrides: Any) -> VitalSigns:
    """Make normal vital signs, with some values replaced (``None`` removes one)."""
    values = {parameter.value: value for parameter, value in NORMAL.items()}
    values.update(overrides)
    fields = {name: None if value is None else measure(Parameter(name), value) for name, value in values.items()}
    return VitalSigns(**fields)


def score(scale_2: bool = False, **overrides: Any) -> News2Result:
    """Score normal vital signs with some values replaced."""
    return score_news2(vitals(**overrides), as_of=AS_OF, spo2_scale_2=scale_2)


# --- Chart boundaries: every cell edge of every row, both sides. -------------


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        (0, 3),
        (8, 3),
        (9, 1),
        (11, 1),
        (12, 0),
        (20, 0),
        (21, 2),
        (24, 2),
        (25, 3),
        (60, 3),
    ],
)
def test_respiration_rate_bands(rate: int, expected: int) -> None:
    assert score(respiration_rate=rate).sub_scores[Parameter.RESPIRATION_RATE] == expected


@pytest.mark.parametrize(
    ("spo2", "expected"),
    [(70, 3), (91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0)],
)
@pytest.mark.parametrize("oxygen", [False, True])
def test_spo2_scale_1_bands_ignore_oxygen(spo2: int, expected: int, oxygen: bool) -> None:
    result = score(spo2=spo2, supplemental_oxygen=oxygen)
    assert result.sub_scores[Parameter.SPO2] == expected


@pytest.mark.parametrize(
    ("spo2", "on_air", "on_oxygen"),
    [
        (70, 3, 3),
        (83, 3, 3),
        (84, 2, 2),
        (85, 2, 2),
        (86, 1, 1),
        (87, 1, 1),
        (88, 0, 0),
        (92, 0, 0),
        # Above the 88-92 target only oxygen makes a high saturation score.
        (93, 0, 1),
        (94, 0, 1),
        (95, 0, 2),
        (96, 0, 2),
        (97, 0, 3),
        (100, 0, 3),
    ],
)
def test_spo2_scale_2_bands_on_air_and_oxygen(spo2: int, on_air: int, on_oxygen: int) -> None:
    assert score(scale_2=True, spo2=spo2, supplemental_oxygen=False).sub_scores[Parameter.SPO2] == on_air
    assert score(scale_2=True, spo2=spo2, supplemental_oxygen=True).sub_scores[Parameter.SPO2] == on_oxygen


@pytest.mark.parametrize(("oxygen", "expected"), [(False, 0), (True, 2)])
def test_air_or_oxygen(oxygen: bool, expected: int) -> None:
    assert score(supplemental_oxygen=oxygen).sub_scores[Parameter.SUPPLEMENTAL_OXYGEN] == expected


@pytest.mark.parametrize(
    ("systolic", "expected"),
    [
        (50, 3),
        (90, 3),
        (91, 2),
        (100, 2),
        (101, 1),
        (110, 1),
        (111, 0),
        (219, 0),
        (220, 3),
        (260, 3),
    ],
)
def test_systolic_bp_bands(systolic: int, expected: int) -> None:
    assert score(systolic_bp=systolic).sub_scores[Parameter.SYSTOLIC_BP] == expected


@pytest.mark.parametrize(
    ("pulse", "expected"),
    [
        (0, 3),
        (40, 3),
        (41, 1),
        (50, 1),
        (51, 0),
        (90, 0),
        (91, 1),
        (110, 1),
        (111, 2),
        (130, 2),
        (131, 3),
        (200, 3),
    ],
)
def test_pulse_bands(pulse: int, expected: int) -> None:
    assert score(pulse=pulse).sub_scores[Parameter.PULSE] == expected


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (Acvpu.ALERT, 0),
        (Acvpu.NEW_CONFUSION, 3),
        (Acvpu.VOICE, 3),
        (Acvpu.PAIN, 3),
        (Acvpu.UNRESPONSIVE, 3),
    ],
)
def test_consciousness(level: Acvpu, expected: int) -> None:
    assert score(consciousness=level).sub_scores[Parameter.CONSCIOUSNESS] == expected


def test_consciousness_accepts_plain_letters() -> None:
    assert score(consciousness="V").sub_scores[Parameter.CONSCIOUSNESS] == 3


@pytest.mark.parametrize(
    ("celsius", "expected"),
    [
        (30.0, 3),
        (35.0, 3),
        (35.1, 1),
        (36.0, 1),
        (36.1, 0),
        (38.0, 0),
        (38.1, 1),
        (39.0, 1),
        (39.1, 2),
        (42.0, 2),
    ],
)
def test_temperature_bands(celsius: float, expected: int) -> None:
    assert score(temperature=celsius).sub_scores[Parameter.TEMPERATURE] == expected


# --- Rounding between printed bands. -------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "parameter", "expected"),
    [
        ({"respiration_rate": 20.4}, Parameter.RESPIRATION_RATE, 0),
        ({"respiration_rate": 20.5}, Parameter.RESPIRATION_RATE, 2),
        ({"pulse": 90.5}, Parameter.PULSE, 1),
        ({"systolic_bp": 110.49}, Parameter.SYSTOLIC_BP, 1),
        ({"systolic_bp": 110.5}, Parameter.SYSTOLIC_BP, 0),
        ({"spo2": 95.5}, Parameter.SPO2, 0),
        # 38.05 as written rounds half up, despite its binary float being 38.04999...
        ({"temperature": 38.05}, Parameter.TEMPERATURE, 1),
        ({"temperature": 38.04}, Parameter.TEMPERATURE, 0),
        ({"temperature": 35.05}, Parameter.TEMPERATURE, 1),
        ({"temperature": Decimal("36.049")}, Parameter.TEMPERATURE, 1),
    ],
)
def test_values_between_bands_round_half_up(overrides: dict[str, Any], parameter: Parameter, expected: int) -> None:
    assert score(**overrides).sub_scores[parameter] == expected


@pytest.mark.parametrize(
    ("fahrenheit", "celsius", "expected"),
    [(100.4, "38.0", 0), (100.6, "38.1", 1), (95.0, "35.0", 3)],
)
def test_fahrenheit_is_converted_then_rounded(fahrenheit: float, celsius: str, expected: int) -> None:
    temperature = Measurement(fahrenheit, "[degF]", RECENT, "Observation/t")
    result = score_news2(dataclasses.replace(vitals(), temperature=temperature), as_of=AS_OF)
    assert result.scored_values[Parameter.TEMPERATURE] == Decimal(celsius)
    assert result.sub_scores[Parameter.TEMPERATURE] == expected


# --- Aggregate, bands and responses. -------------------------------------------


def test_all_normal_scores_zero_and_low() -> None:
    result = score()
    assert result.is_complete
    assert (result.aggregate, result.band) == (0, RiskBand.LOW)
    assert result.response is not None
    assert "12 hours" in result.response.monitoring
    assert list(result.sub_scores) == list(Parameter)


@pytest.mark.parametrize(
    ("overrides", "aggregate", "band", "monitoring"),
    [
        ({"pulse": 95}, 1, RiskBand.LOW, "4 to 6 hours"),
        (
            {"pulse": 95, "respiration_rate": 22, "temperature": 38.5},
            4,
            RiskBand.LOW,
            "4 to 6 hours",
        ),
        # A single red score (3) lifts an otherwise low total.
        ({"consciousness": Acvpu.NEW_CONFUSION}, 3, RiskBand.LOW_MEDIUM, "every hour"),
        ({"systolic_bp": 90, "pulse": 95}, 4, RiskBand.LOW_MEDIUM, "every hour"),
        (
            {"supplemental_oxygen": True, "respiration_rate": 22, "pulse": 95},
            5,
            RiskBand.MEDIUM,
            "every hour",
        ),
        (
            {"supplemental_oxygen": True, "spo2": 94, "systolic_bp": 105, "pulse": 115},
            6,
            RiskBand.MEDIUM,
            "every hour",
        ),
        # Medium outranks a red score.
        ({"pulse": 131, "respiration_rate": 22}, 5, RiskBand.MEDIUM, "every hour"),
        (
            {"consciousness": Acvpu.PAIN, "pulse": 135, "temperature": 39.5},
            8,
            RiskBand.HIGH,
            "continuously",
        ),
        (
            {
                "supplemental_oxygen": True,
                "spo2": 92,
                "pulse": 111,
                "temperature": 35.5,
            },
            7,
            RiskBand.HIGH,
            "continuously",
        ),
    ],
)
def test_aggregate_and_band(overrides: dict[str, Any], aggregate: int, band: RiskBand, monitoring: str) -> None:
    result = score(**overrides)
    assert (result.aggregate, result.band) == (aggregate, band)
    assert result.response is not None
    assert result.response.band is band
    assert monitoring in result.response.monitoring


def test_maximum_aggregate_is_twenty() -> None:
    worst: dict[str, Any] = {
        "respiration_rate": 30,
        "spo2": 80,
        "supplemental_oxygen": True,
        "systolic_bp": 80,
        "pulse": 150,
        "consciousness": Acvpu.UNRESPONSIVE,
        "temperature": 34.0,
    }
    assert score(**worst).aggregate == 20


def test_scale_2_on_oxygen_counts_both_rows() -> None:
    result = score(scale_2=True, spo2=97, supplemental_oxygen=True)
    assert result.spo2_scale_2
    assert (result.sub_scores[Parameter.SPO2], result.aggregate, result.band) == (
        3,
        5,
        RiskBand.MEDIUM,
    )


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({}, ["routine"]),
        ({"pulse": 95}, ["registered nurse", "assess"]),
        (
            {"consciousness": Acvpu.VOICE},
            ["Urgent ward-based response", "medical team"],
        ),
        (
            {"respiration_rate": 26, "pulse": 95, "temperature": 38.5},
            ["Urgent response", "acutely ill"],
        ),
        (
            {"respiration_rate": 26, "pulse": 135, "temperature": 38.5},
            ["Emergency", "critical-care", "airway"],
        ),
    ],
)
def test_response_text_per_band(overrides: dict[str, Any], words: list[str]) -> None:
    response = score(**overrides).response
    assert response is not None
    for word in words:
        assert word in response.text


# --- Provenance. -----------------------------------------------------------------


def test_source_ids_list_every_input_used_once() -> None:
    shared = Measurement(True, None, RECENT, "Observation/spo2-panel")
    result = score_news2(dataclasses.replace(vitals(), supplemental_oxygen=shared), as_of=AS_OF)
    assert result.source_ids == (
        "Observation/respiration_rate",
        "Observation/spo2",
        "Observation/spo2-panel",
        "Observation/systolic_bp",
        "Observation/pulse",
        "Observation/consciousness",
        "Observation/temperature",
    )


def test_source_ids_skip_unnamed_measurements() -> None:
    anonymous = Measurement(70, "/min", RECENT)
    result = score_news2(dataclasses.replace(vitals(), pulse=anonymous), as_of=AS_OF)
    assert "Observation/pulse" not in result.source_ids
    assert len(result.source_ids) == len(Parameter) - 1


# --- Missing, stale and invalid inputs: no aggregate, never a guess. ----------


def assert_incomplete(result: News2Result) -> None:
    """Check that a result withholds the aggregate and everything derived from it."""
    assert not result.is_complete
    assert (result.aggregate, result.band, result.response) == (None, None, None)


def test_nothing_given_reports_all_seven_missing() -> None:
    result = score_news2(VitalSigns(), as_of=AS_OF)
    assert_incomplete(result)
    assert result.missing == tuple(Parameter)
    assert result.sub_scores == {}
    assert result.source_ids == ()
    assert result.messages[0] == "No `respiration_rate` measurement was given."


def test_one_missing_keeps_the_other_sub_scores() -> None:
    result = score(temperature=None, pulse=135)
    assert_incomplete(result)
    assert result.missing == (Parameter.TEMPERATURE,)
    assert Parameter.TEMPERATURE not in result.sub_scores
    assert result.sub_scores[Parameter.PULSE] == 3
    assert "Observation/temperature" not in result.source_ids


def test_stale_measurement_is_reported_not_scored() -> None:
    old = Measurement(16, "/min", AS_OF - timedelta(hours=25), "Observation/old-rr")
    result = score_news2(dataclasses.replace(vitals(), respiration_rate=old), as_of=AS_OF)
    assert_incomplete(result)
    assert result.stale == (Parameter.RESPIRATION_RATE,)
    assert result.missing == ()
    assert result.messages == (
        (
            "The `respiration_rate` measurement `Observation/old-rr` was taken at "
            "`2024-02-29T11:00:00+00:00`, 1 day, 1:00:00 before the scoring time; "
            "the limit is 1 day, 0:00:00."
        ),
    )


def test_measurement_exactly_max_age_old_is_fresh() -> None:
    edge = Measurement(16, "/min", AS_OF - DEFAULT_MAX_AGE, "Observation/rr")
    result = score_news2(dataclasses.replace(vitals(), respiration_rate=edge), as_of=AS_OF)
    assert result.is_complete


def test_max_age_is_configurable() -> None:
    result = score_news2(vitals(), as_of=AS_OF, max_age=timedelta(minutes=10))
    assert_incomplete(result)
    assert result.stale == tuple(Parameter)


def test_measurement_after_as_of_is_invalid() -> None:
    future = Measurement(70, "/min", AS_OF + timedelta(minutes=1), "Observation/p")
    result = score_news2(dataclasses.replace(vitals(), pulse=future), as_of=AS_OF)
    assert_incomplete(result)
    assert result.invalid == (Parameter.PULSE,)
    assert "after the scoring time" in result.messages[0]


def test_naive_taken_at_is_invalid() -> None:
    naive = Measurement(70, "/min", datetime(2024, 3, 1, 11, 0), "Observation/p")
    result = score_news2(dataclasses.replace(vitals(), pulse=naive), as_of=AS_OF)
    assert result.invalid == (Parameter.PULSE,)
    assert "no time zone" in result.messages[0]


@pytest.mark.parametrize(
    ("field", "measurement", "fragment"),
    [
        (
            "temperature",
            Measurement(310.0, "K", RECENT, "Observation/t"),
            "has unit `K`; expected one of `Cel`, `[degF]`.",
        ),
        ("pulse", Measurement(70, None, RECENT, "Observation/p"), "has unit `None`"),
        (
            "pulse",
            Measurement(True, "/min", RECENT, "Observation/p"),
            "expected a number.",
        ),
        (
            "pulse",
            Measurement("70", "/min", RECENT, "Observation/p"),
            "expected a number.",
        ),
        (
            "pulse",
            Measurement(-1, "/min", RECENT, "Observation/p"),
            "not physically possible.",
        ),
        (
            "spo2",
            Measurement(101, "%", RECENT, "Observation/s"),
            "not physically possible.",
        ),
        (
            "respiration_rate",
            Measurement(float("nan"), "/min", RECENT, "Observation/r"),
            "finite number.",
        ),
        (
            "systolic_bp",
            Measurement(1e40, "mm[Hg]", RECENT, "Observation/b"),
            "too large to score.",
        ),
        (
            "supplemental_oxygen",
            Measurement(1, None, RECENT, "Observation/o"),
            "expected True or False.",
        ),
        (
            "consciousness",
            Measurement("X", None, RECENT, "Observation/c"),
            "expected one of A, C, V, P, U.",
        ),
    ],
)
def test_invalid_values_are_reported_with_their_source(
    field: str, measurement: Measurement[Any], fragment: str
) -> None:
    result = score_news2(dataclasses.replace(vitals(), **{field: measurement}), as_of=AS_OF)
    assert_incomplete(result)
    assert result.invalid == (Parameter(field),)
    assert result.messages[0].startswith(f"The `{field}` measurement `{measurement.source_id}` has ")
    assert fragment in result.messages[0]


def test_invalid_wins_over_stale() -> None:
    both = Measurement(-5, "/min", AS_OF - timedelta(days=3), "Observation/p")
    result = score_news2(dataclasses.replace(vitals(), pulse=both), as_of=AS_OF)
    assert (result.invalid, result.stale) == ((Parameter.PULSE,), ())


def test_message_without_source_id_still_names_the_parameter() -> None:
    anonymous = Measurement(70, "bpm", RECENT)
    result = score_news2(dataclasses.replace(vitals(), pulse=anonymous), as_of=AS_OF)
    expected = "The `pulse` measurement has unit `bpm`; expected one of `/min`, `{beats}/min`."
    assert result.messages == (expected,)


@pytest.mark.parametrize("spo2", [93, 97])
def test_scale_2_high_saturation_needs_oxygen_status(spo2: int) -> None:
    result = score(scale_2=True, spo2=spo2, supplemental_oxygen=None)
    assert_incomplete(result)
    assert result.missing == (Parameter.SUPPLEMENTAL_OXYGEN,)
    assert Parameter.SPO2 not in result.sub_scores
    assert "Observation/spo2" not in result.source_ids
    assert result.messages[-1] == (
        f"The `spo2` value `{spo2}` cannot be scored on scale 2 "
        "without knowing whether the patient is on supplemental oxygen."
    )


@pytest.mark.parametrize(("scale_2", "spo2", "expected"), [(True, 90, 0), (True, 85, 2), (False, 97, 0)])
def test_spo2_without_oxygen_status_when_it_does_not_matter(scale_2: bool, spo2: int, expected: int) -> None:
    result = score(scale_2=scale_2, spo2=spo2, supplemental_oxygen=None)
    assert result.sub_scores[Parameter.SPO2] == expected


def test_naive_as_of_is_refused() -> None:
    with pytest.raises(ValueError, match=r"The scoring time `2024-03-01T12:00:00` has no time zone\."):
        score_news2(vitals(), as_of=datetime(2024, 3, 1, 12, 0))


@pytest.mark.parametrize("max_age", [timedelta(0), timedelta(hours=-1)])
def test_non_positive_max_age_is_refused(max_age: timedelta) -> None:
    with pytest.raises(ValueError, match="is not positive"):
        score_news2(vitals(), as_of=AS_OF, max_age=max_age)


# --- Shapes. -----------------------------------------------------------------------


def test_vital_signs_fields_are_the_parameters() -> None:
    assert [field.name for field in dataclasses.fields(VitalSigns)] == [parameter.value for parameter in Parameter]


def test_result_is_read_only() -> None:
    result = score()
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.aggregate = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        result.sub_scores[Parameter.PULSE] = 3  # type: ignore[index]


def test_package_reexports_news2() -> None:
    assert ml.score_news2 is news2.score_news2
