"""Build NEWS2 :class:`~ml.news2.VitalSigns` from FHIR Observations.

For each NEWS2 parameter the latest usable reading at or before the scoring
time is taken, matched by :data:`ml.vitals_codes.VITAL_CODES` (panel
components included). Units are passed through for the scorer to check, so a
reading in the wrong unit is reported as invalid rather than silently dropped.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ml.news2 import Measurement, Parameter, VitalSigns
from ml.vitals_codes import ACVPU_ANSWERS, VITAL_CODES, indicates_supplemental_oxygen

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

_USABLE_STATUSES = ("final", "amended", "corrected")
_CODES = {(v.system, v.code, v.panel): v.parameter for v in VITAL_CODES}
_ANSWERS = {(a.system, a.code): a.level for a in ACVPU_ANSWERS}


def _time(observation: dict[str, Any]) -> datetime | None:
    text = observation.get("effectiveDateTime") or (observation.get("effectivePeriod") or {}).get("start")
    if not isinstance(text, str) or len(text) < 16:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.utcoffset() is not None else None


def _parameters(code: dict[str, Any], panel: str | None) -> Iterator[tuple[Parameter, str]]:
    for coding in code.get("coding") or ():
        parameter = _CODES.get((coding.get("system"), coding.get("code"), panel))
        if parameter is not None:
            yield parameter, coding["code"]


def _value(parameter: Parameter, loinc: str, element: dict[str, Any]) -> tuple[Any, str | None] | None:
    if parameter is Parameter.CONSCIOUSNESS:
        for coding in (element.get("valueCodeableConcept") or {}).get("coding") or ():
            level = _ANSWERS.get((coding.get("system"), coding.get("code")))
            if level is not None:
                return level, None
        return None
    quantity = element.get("valueQuantity")
    if not isinstance(quantity, dict) or not isinstance(quantity.get("value"), (int, float)):
        return None
    unit = quantity.get("code")
    if parameter is Parameter.SUPPLEMENTAL_OXYGEN:
        on_oxygen = indicates_supplemental_oxygen(loinc, Decimal(str(quantity["value"])), str(unit))
        return None if on_oxygen is None else (on_oxygen, None)
    return float(quantity["value"]), unit


def _readings(observation: dict[str, Any]) -> Iterator[tuple[Parameter, Measurement[Any]]]:
    taken_at = _time(observation)
    if observation.get("status") not in _USABLE_STATUSES or taken_at is None:
        return
    oid = observation.get("id")
    source = f"Observation/{oid}" if isinstance(oid, str) else None
    elements: list[tuple[dict[str, Any], str | None]] = [(observation, None)]
    panels = [c.get("code") for c in (observation.get("code") or {}).get("coding") or ()]
    for component in observation.get("component") or ():
        elements.extend((component, panel) for panel in panels if isinstance(panel, str))
    for element, panel in elements:
        for parameter, loinc in _parameters(element.get("code") or {}, panel):
            found = _value(parameter, loinc, element)
            if found is not None:
                yield parameter, Measurement(found[0], found[1], taken_at, source)


def vital_signs(observations: Iterable[dict[str, Any]], as_of: datetime | None = None) -> VitalSigns:
    """Return the latest reading of each NEWS2 parameter, at or before ``as_of`` if given."""
    latest: dict[Parameter, Measurement[Any]] = {}
    for observation in observations:
        for parameter, measurement in _readings(observation):
            if as_of is not None and measurement.taken_at > as_of:
                continue
            current = latest.get(parameter)
            if current is None or measurement.taken_at >= current.taken_at:
                latest[parameter] = measurement
    return VitalSigns(**{parameter.value: measurement for parameter, measurement in latest.items()})


def latest_time(observations: Iterable[dict[str, Any]]) -> datetime | None:
    """Return the time of the latest NEWS2 reading, the natural time to score at."""
    times = [m.taken_at for o in observations for _, m in _readings(o)]
    return max(times) if times else None
