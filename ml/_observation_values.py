"""Read a challenge variable, a value and a time out of a FHIR Observation.

The same rules serve imported PhysioNet data and live data from any writer:
an Observation counts when its code is in :mod:`ml.physionet_codes` (by the
challenge's own code system or by LOINC), its unit is the expected UCUM unit
and its value lies in the variable's accepted range. Blood pressures are told
apart by ``Observation.method`` (invasive vs non-invasive; no method counts as
non-invasive, the usual ward case). Components of a panel, e.g. the FHIR
blood pressure panel 85354-9, are read like Observations of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ml.physionet_codes import INVASIVE, PARAMETER_SYSTEM, STATIC_VARIABLES, TIME_SERIES, VARIABLES
from ml.vitals_codes import FAHRENHEIT, LOINC, fahrenheit_to_celsius

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ml.physionet_codes import ChallengeVariable


@dataclass(frozen=True, slots=True)
class Reading:
    """One accepted value of one challenge variable."""

    variable: ChallengeVariable
    value: float
    taken_at: datetime
    #: ``Observation/<id>``, or ``None`` for an Observation without an id.
    source: str | None


def _by_loinc() -> dict[str, tuple[ChallengeVariable, ...]]:
    table: dict[str, list[ChallengeVariable]] = {}
    for variable in (*TIME_SERIES, *STATIC_VARIABLES):
        if variable.loinc is not None:
            table.setdefault(variable.loinc, []).append(variable)
    return {code: tuple(found) for code, found in table.items()}


_BY_LOINC = _by_loinc()


def _variable(code: dict[str, Any], invasive: bool) -> ChallengeVariable | None:
    codings = code.get("coding") or ()
    for coding in codings:
        if coding.get("system") == PARAMETER_SYSTEM and coding.get("code") in VARIABLES:
            return VARIABLES[coding["code"]]
    for coding in codings:
        if coding.get("system") != LOINC:
            continue
        candidates = _BY_LOINC.get(coding.get("code", ""), ())
        if len(candidates) == 1:
            return candidates[0]
        for candidate in candidates:
            if (candidate.method == INVASIVE) == invasive:
                return candidate
    return None


def _value(element: dict[str, Any], variable: ChallengeVariable) -> float | None:
    if variable.unit is None:
        flag = element.get("valueBoolean")
        return 1.0 if flag is True else None
    quantity = element.get("valueQuantity")
    if not isinstance(quantity, dict):
        return None
    number, unit = quantity.get("value"), quantity.get("code")
    if not isinstance(number, (int, float)) or isinstance(number, bool):
        return None
    value = float(number)
    if variable.unit == "Cel" and unit == FAHRENHEIT:
        value, unit = float(fahrenheit_to_celsius(Decimal(str(number)))), "Cel"
    if unit != variable.unit or not variable.low <= value <= variable.high:
        return None
    return value


def _time(observation: dict[str, Any]) -> datetime | None:
    text = observation.get("effectiveDateTime")
    if text is None:
        text = (observation.get("effectivePeriod") or {}).get("start")
    if not isinstance(text, str) or len(text) < 16:
        # A date without a time cannot be placed in an hourly bin.
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.utcoffset() is not None else None


def _is_invasive(observation: dict[str, Any]) -> bool:
    codings = (observation.get("method") or {}).get("coding") or ()
    return any(coding.get("code") == INVASIVE for coding in codings)


def readings(observation: dict[str, Any]) -> Iterator[Reading]:
    """Yield the accepted challenge-variable readings of one Observation.

    Observations that are not ``final``, ``amended`` or ``corrected``, lack a
    timezone-aware time, have an unknown code, a different unit or an
    impossible value yield nothing.
    """
    if observation.get("status") not in ("final", "amended", "corrected"):
        return
    taken_at = _time(observation)
    if taken_at is None:
        return
    oid = observation.get("id")
    source = f"Observation/{oid}" if isinstance(oid, str) else None
    invasive = _is_invasive(observation)
    for element in (observation, *(observation.get("component") or ())):
        variable = _variable(element.get("code") or {}, invasive)
        if variable is None:
            continue
        value = _value(element, variable)
        if value is not None:
            yield Reading(variable, value, taken_at, source)
