"""National Early Warning Score 2 (NEWS2), Royal College of Physicians 2017.

:func:`score_news2` scores a patient's :class:`VitalSigns` against the RCP's
published chart (see :mod:`ml._news2_chart` for the table, transcribed and
checked band by band) and returns a :class:`News2Result` with the sub-scores,
the aggregate, the clinical risk band and the recommended response.

A score is produced only when all seven parameters are present, valid and
fresh; otherwise the result lists what is missing, invalid or stale and has no
aggregate, band or response. Nothing is ever guessed or carried forward.

Values between the chart's printed bands (e.g. a respiration rate of 20.5) are
rounded half up to the chart's precision: whole numbers, and tenths of a degree
for temperature. See :mod:`ml._news2_inputs`.

NEWS2 is validated for adults (16 and over) and not for pregnancy; whether it
applies to a patient is the caller's decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ml._news2_chart import (
    AIR_SCORE,
    CONSCIOUSNESS_SCORES,
    NUMERIC_BANDS,
    SUPPLEMENTAL_OXYGEN_SCORE,
    Acvpu,
    Parameter,
    RiskBand,
    band_score,
    risk_band,
    spo2_score,
)
from ml._news2_inputs import Accepted, ChartValue, Problem, check_measurement
from ml._news2_response import ClinicalResponse, response_for

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = [
    "DEFAULT_MAX_AGE",
    "Acvpu",
    "ClinicalResponse",
    "Measurement",
    "News2Result",
    "Parameter",
    "RiskBand",
    "VitalSigns",
    "score_news2",
]

#: How old a measurement may be, by default, and still count towards a score.
DEFAULT_MAX_AGE = timedelta(hours=24)

# Covariant: a frozen Measurement[int] is a fine Measurement[float], since
# nothing can write a float back into it.
V_co = TypeVar("V_co", covariant=True)


@dataclass(frozen=True)
class Measurement(Generic[V_co]):
    """One observed value and where it came from."""

    #: The value: a number for the numeric parameters, ``True``/``False`` for
    #: supplemental oxygen, an :class:`Acvpu` level for consciousness.
    value: V_co
    #: UCUM unit code, e.g. ``"/min"`` or ``"Cel"``; ignored for the coded and
    #: boolean parameters. See :data:`ml.vitals_codes.ACCEPTED_UNITS`.
    unit: str | None
    #: When it was observed; must be timezone-aware.
    taken_at: datetime
    #: Identifier of the source record, e.g. ``"Observation/123"``.
    source_id: str | None = None


@dataclass(frozen=True)
class VitalSigns:
    """The seven NEWS2 inputs for one patient; any of them may be absent.

    Field names equal the :class:`Parameter` values.
    """

    #: Breaths per minute (``/min``).
    respiration_rate: Measurement[float] | None = None
    #: Peripheral oxygen saturation in percent (``%``).
    spo2: Measurement[float] | None = None
    #: ``True`` when the patient is on supplemental oxygen, ``False`` on air.
    supplemental_oxygen: Measurement[bool] | None = None
    #: Systolic blood pressure (``mm[Hg]``).
    systolic_bp: Measurement[float] | None = None
    #: Pulse / heart rate, beats per minute (``/min``).
    pulse: Measurement[float] | None = None
    #: ACVPU level; only *new* confusion counts as ``C``.
    consciousness: Measurement[Acvpu] | None = None
    #: Body temperature (``Cel``, or ``[degF]`` which is converted).
    temperature: Measurement[float] | None = None

    def get(self, parameter: Parameter) -> Measurement[Any] | None:
        """Return the measurement given for ``parameter``, if any.

        :param parameter: the NEWS2 parameter.
        """
        measurement: Measurement[Any] | None = getattr(self, parameter.value)
        return measurement


def _frozen(mapping: dict[Parameter, Any]) -> Mapping[Parameter, Any]:
    """Wrap a dict read-only, so a frozen result stays unchanged."""
    return MappingProxyType(mapping)


@dataclass(frozen=True)
class News2Result:
    """The outcome of scoring, complete or not."""

    #: The time the score is for; freshness is measured against it.
    as_of: datetime
    #: Whether SpO2 was scored on scale 2.
    spo2_scale_2: bool
    #: Sub-score of every parameter that could be scored, in chart order.
    sub_scores: Mapping[Parameter, int] = field(default_factory=lambda: _frozen({}))
    #: The values the chart was read with (rounded, temperature in Celsius).
    scored_values: Mapping[Parameter, ChartValue] = field(default_factory=lambda: _frozen({}))
    #: NEWS2 total (0-20); ``None`` unless every parameter was scored.
    aggregate: int | None = None
    #: Clinical risk band; ``None`` when there is no aggregate.
    band: RiskBand | None = None
    #: RCP recommended response; ``None`` when there is no aggregate.
    response: ClinicalResponse | None = None
    #: Distinct source ids of the measurements behind :attr:`sub_scores`.
    source_ids: tuple[str, ...] = ()
    #: Parameters with no measurement.
    missing: tuple[Parameter, ...] = ()
    #: Parameters whose measurement is older than the allowed age.
    stale: tuple[Parameter, ...] = ()
    #: Parameters whose measurement cannot be read (unit, value or time).
    invalid: tuple[Parameter, ...] = ()
    #: One sentence per problem found, naming the parameter and source.
    messages: tuple[str, ...] = ()

    @property
    def is_complete(self) -> bool:
        """Return whether an aggregate score was produced."""
        return self.aggregate is not None


def score_news2(
    vitals: VitalSigns,
    *,
    as_of: datetime,
    spo2_scale_2: bool = False,
    max_age: timedelta = DEFAULT_MAX_AGE,
) -> News2Result:
    """Score vital signs with NEWS2.

    :param vitals: the measurements to score.
    :param as_of: the time the score is for; must be timezone-aware. A
        measurement older than ``max_age`` at this time is stale, and one taken
        after it is invalid.
    :param spo2_scale_2: score SpO2 on scale 2. Only for patients whose
        88-92% target range a clinician has prescribed, e.g. in hypercapnic
        respiratory failure; this is configuration, never inferred.
    :param max_age: the oldest a measurement may be; 24 hours by default.
    :raises ValueError: if ``as_of`` has no time zone or ``max_age`` is not
        positive.
    """
    if as_of.utcoffset() is None:
        raise ValueError(f"The scoring time `{as_of.isoformat()}` has no time zone.")
    if max_age <= timedelta(0):
        raise ValueError(f"The maximum measurement age `{max_age}` is not positive.")

    accepted: dict[Parameter, Accepted] = {}
    problems: dict[Problem, list[Parameter]] = {problem: [] for problem in Problem}
    messages: list[str] = []
    for parameter in Parameter:
        outcome = check_measurement(parameter, vitals.get(parameter), as_of=as_of, max_age=max_age)
        if isinstance(outcome, Accepted):
            accepted[parameter] = outcome
        else:
            problems[outcome.problem].append(parameter)
            messages.append(outcome.message)

    on_oxygen = _on_oxygen(accepted)
    sub_scores: dict[Parameter, int] = {}
    for parameter, input_ in accepted.items():
        score = _sub_score(parameter, input_.value, scale_2=spo2_scale_2, on_oxygen=on_oxygen)
        if score is None:
            messages.append(
                f"The `{parameter}` value `{input_.value}` cannot be scored on scale 2 "
                "without knowing whether the patient is on supplemental oxygen."
            )
        else:
            sub_scores[parameter] = score

    aggregate = sum(sub_scores.values()) if len(sub_scores) == len(Parameter) else None
    band = None if aggregate is None else risk_band(aggregate, sub_scores)
    response = None if aggregate is None or band is None else response_for(aggregate, band)
    return News2Result(
        as_of=as_of,
        spo2_scale_2=spo2_scale_2,
        sub_scores=_frozen(sub_scores),
        scored_values=_frozen({parameter: accepted[parameter].value for parameter in sub_scores}),
        aggregate=aggregate,
        band=band,
        response=response,
        source_ids=_distinct_sources(accepted[parameter] for parameter in sub_scores),
        missing=tuple(problems[Problem.MISSING]),
        stale=tuple(problems[Problem.STALE]),
        invalid=tuple(problems[Problem.INVALID]),
        messages=tuple(messages),
    )


def _on_oxygen(accepted: Mapping[Parameter, Accepted]) -> bool | None:
    """Return the accepted oxygen status, or ``None`` when it is unknown."""
    oxygen = accepted.get(Parameter.SUPPLEMENTAL_OXYGEN)
    if oxygen is None or not isinstance(oxygen.value, bool):
        return None
    return oxygen.value


def _sub_score(parameter: Parameter, value: ChartValue, *, scale_2: bool, on_oxygen: bool | None) -> int | None:
    """Read one parameter's sub-score from the chart; ``None`` if it cannot be known."""
    match value:
        case bool():
            return SUPPLEMENTAL_OXYGEN_SCORE if value else AIR_SCORE
        case Acvpu():
            return CONSCIOUSNESS_SCORES[value]
        case _ if parameter is Parameter.SPO2:
            return spo2_score(value, scale_2=scale_2, on_oxygen=on_oxygen)
        case _:
            return band_score(NUMERIC_BANDS[parameter], value)


def _distinct_sources(inputs: Iterable[Accepted]) -> tuple[str, ...]:
    """Return the inputs' source ids, first-seen order, no ``None`` or repeats."""
    # A panel Observation (e.g. SpO2 with an oxygen component) may supply two inputs.
    return tuple(dict.fromkeys(input_.source_id for input_ in inputs if input_.source_id is not None))
