"""Convert PhysioNet Challenge 2012 records to FHIR R4 resources.

A record (one ``set-?/NNNNNN.txt`` file, CSV ``Time,Parameter,Value``) becomes
one Patient, one Encounter for the ICU stay, one Observation per accepted
measurement (found again by ``Observation?subject=`` search). Everything is a pure
function of the text, so ids are deterministic and re-importing a record
updates it instead of duplicating it.

Ids (all FHIR ids of at most 64 characters):

* Patient ``physionet2012-<RecordID>``
* Encounter ``physionet2012-<RecordID>-icu``
* Observation ``physionet2012-<RecordID>-L<line>``, ``line`` being the
  measurement's 1-based line in the source file, so an id never moves when
  the missing-value rules change

Times: the challenge gives only hours and minutes since ICU admission; every
record is anchored at :data:`DEFAULT_ANCHOR` (configurable) so that
``effectiveDateTime`` is an instant. Values are coded as
:mod:`ml.physionet_codes` describes, which also documents the missing-value
rules. Outcomes (``Outcomes-?.txt``) go to ``Encounter.hospitalization``
(``exp`` for an in-hospital death) and ``Patient.deceasedDateTime``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fhir_server.quality.plausibility import withhold_value
from ml._physionet_fhir import (
    encounter_resource,
    observation_resource,
    patient_resource,
)
from ml.physionet_codes import VARIABLES

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

__all__ = [
    "DEFAULT_ANCHOR",
    "ID_PREFIX",
    "NOT_RECORDED",
    "Measurement",
    "Outcome",
    "Record",
    "RecordError",
    "RowError",
    "accepted",
    "encounter_id",
    "implausible",
    "parse_outcomes",
    "parse_record",
    "patient_id",
    "read_record",
    "record_to_fhir",
]

#: Admission instant every record is anchored at (the challenge has no dates).
DEFAULT_ANCHOR = datetime(2012, 1, 1, tzinfo=UTC)
#: Prefix of every id the converter assigns.
ID_PREFIX = "physionet2012"
_DESCRIPTORS = frozenset({"RecordID", "Age", "Gender", "Height", "ICUType", "Weight"})


class RecordError(ValueError):
    """A record or outcomes file cannot be read; the message names the line."""


class RowError(RecordError):
    """One row of a record cannot be used; :attr:`reason` is its category (``bad time``...)."""

    def __init__(self, line: int, reason: str, message: str) -> None:
        super().__init__(message)
        #: The row's 1-based line in the file.
        self.line = line
        #: The category, e.g. ``empty parameter name`` or ``value not a number``.
        self.reason = reason


def patient_id(record_id: int) -> str:
    """Return the Patient id assigned to a challenge RecordID."""
    return f"{ID_PREFIX}-{record_id}"


def encounter_id(record_id: int) -> str:
    """Return the Encounter id assigned to a challenge RecordID."""
    return f"{ID_PREFIX}-{record_id}-icu"


@dataclass(frozen=True)
class Measurement:
    """One time-stamped value from a record, as written in the file."""

    #: Minutes since ICU admission.
    minute: int
    #: Challenge parameter name.
    parameter: str
    value: float
    #: 1-based line number in the source file.
    line: int


@dataclass(frozen=True)
class Outcome:
    """One row of an ``Outcomes-?.txt`` file."""

    record_id: int
    in_hospital_death: bool
    #: Days from ICU admission to death, ``None`` when the patient survived.
    survival_days: int | None


@dataclass
class Record:
    """One ICU stay: descriptors and time series."""

    record_id: int
    #: ``0`` female, ``1`` male, ``None`` not recorded.
    gender: int | None = None
    #: ICU type 1-4, ``None`` when not recorded.
    icu_type: int | None = None
    #: Measurements in file order: time series plus the Age, Height and
    #: Weight descriptors (at minute 0).
    measurements: list[Measurement] = field(default_factory=list)


def _minutes(text: str, line: int) -> int:
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and minutes.isdigit()):
        raise RowError(line, "bad time", f"Line {line}: time `{text}` is not HH:MM.")
    return int(hours) * 60 + int(minutes)


def _row(record: Record | None, row: list[str], line: int) -> Record | None:
    """Apply one data row to ``record``; return the record (a new one for the RecordID row).

    :raises RowError: the row cannot be used.
    """
    if len(row) != 3:
        raise RowError(line, "wrong number of fields", f"Line {line}: expected 3 fields, got {len(row)}.")
    minute = _minutes(row[0], line)
    name = row[1]
    if not name.strip():
        raise RowError(line, "empty parameter name", f"Line {line}: the parameter name at `{row[0]}` is empty.")
    try:
        value = float(row[2])
    except ValueError:
        raise RowError(line, "value not a number", f"Line {line}: value `{row[2]}` is not a number.") from None
    if name == "RecordID":
        return Record(int(value))
    if record is None:
        raise RowError(line, "row before the RecordID", f"Line {line}: `{name}` comes before the RecordID.")
    if minute == 0 and name in ("Gender", "ICUType"):
        # -1 (not recorded) and anything outside the coded values mean unknown.
        known = {"Gender": (0, 1), "ICUType": (1, 2, 3, 4)}[name]
        code = int(value) if value in known else None
        if name == "Gender":
            record.gender = code
        else:
            record.icu_type = code
    elif name in VARIABLES and (minute == 0 or name not in _DESCRIPTORS - {"Weight"}):
        record.measurements.append(Measurement(minute, name, value, line))
    else:
        raise RowError(line, "unknown parameter", f"Line {line}: unknown parameter `{name}` at `{row[0]}`.")
    return record


def parse_record(text: str, skipped: list[RowError] | None = None) -> Record:
    """Parse one record file's text.

    :param skipped: collect unusable rows here and go on without them; without
        it the first such row raises.
    :raises RecordError: when the header or the RecordID is missing or
        malformed, or (without ``skipped``) a row is unusable, naming the line.
    """
    rows = csv.reader(text.splitlines())
    header = next(rows, None)
    if header != ["Time", "Parameter", "Value"]:
        raise RecordError(f"Line 1: expected header `Time,Parameter,Value`, got `{header}`.")
    record: Record | None = None
    for line, row in enumerate(rows, start=2):
        if not row:
            continue
        try:
            record = _row(record, row, line)
        except RowError as exc:
            if skipped is None or (record is None and row[1:2] == ["RecordID"]):
                raise
            skipped.append(exc)
    if record is None:
        raise RecordError("The record has no RecordID.")
    return record


def read_record(path: Path, skipped: list[RowError] | None = None) -> Record:
    """Read and parse one record file.

    :param skipped: as for :func:`parse_record`.
    :raises RecordError: as :func:`parse_record`, with the file named.
    """
    try:
        return parse_record(path.read_text(), skipped)
    except RecordError as exc:
        raise RecordError(f"{path}: {exc}") from exc


def parse_outcomes(text: str) -> dict[int, Outcome]:
    """Parse an ``Outcomes-?.txt`` file into outcomes by RecordID.

    :raises RecordError: on a malformed header or row, naming the line.
    """
    rows = csv.DictReader(text.splitlines())
    needed = {"RecordID", "Survival", "In-hospital_death"}
    if not needed <= set(rows.fieldnames or ()):
        raise RecordError(f"Line 1: outcomes header lacks {sorted(needed)}.")
    outcomes: dict[int, Outcome] = {}
    for line, row in enumerate(rows, start=2):
        try:
            record_id = int(row["RecordID"])
            survival = int(row["Survival"])
            death = int(row["In-hospital_death"])
        except (TypeError, ValueError):
            raise RecordError(f"Line {line}: outcome row `{row}` is malformed.") from None
        outcomes[record_id] = Outcome(record_id, death == 1, survival if survival >= 0 else None)
    return outcomes


#: The challenge's value for "not recorded" (a missing height, weight...): not a measurement.
NOT_RECORDED = -1.0


def _scaled(measurement: Measurement) -> float:
    # round() keeps 0.35 * 100 at 35.0 rather than 35.00000000000001.
    return round(measurement.value * VARIABLES[measurement.parameter].scale, 6)


def accepted(record: Record) -> Iterable[tuple[Measurement, float]]:
    """Yield each measurement that is a real value, with its value in FHIR units.

    Values outside the variable's range (:mod:`ml.physionet_codes`) are not: see :func:`implausible`.
    """
    for measurement in record.measurements:
        variable, value = VARIABLES[measurement.parameter], _scaled(measurement)
        if variable.low <= value <= variable.high:
            yield measurement, value


def implausible(record: Record) -> Iterable[tuple[Measurement, float, str]]:
    """Yield each measurement outside its variable's possible range, its value and why it is withheld.

    ``-1`` is the challenge's "not recorded" and yields nothing; anything else out of range
    (a heart rate of 0, a temperature of 0 or 98.6 "Cel") is a recording error, stored withheld.
    """
    for measurement in record.measurements:
        variable, value = VARIABLES[measurement.parameter], _scaled(measurement)
        if measurement.value == NOT_RECORDED or variable.low <= value <= variable.high:
            continue
        unit = f" {variable.unit}" if variable.unit else ""
        yield (
            measurement,
            value,
            (
                f"Recorded value {value:g}{unit} of {measurement.parameter} withheld: outside "
                f"{variable.low:g}-{variable.high:g}{unit}, the possible range for {variable.display.lower()}."
            ),
        )


def record_to_fhir(
    record: Record,
    outcome: Outcome | None = None,
    *,
    anchor: datetime = DEFAULT_ANCHOR,
) -> list[dict[str, Any]]:
    """Return the record as FHIR R4 resources: Patient, Encounter, then Observations.

    :param outcome: the record's outcome, if known; it sets the discharge
        disposition and the date of death.
    :param anchor: the admission instant; must be timezone-aware.
    :raises ValueError: if ``anchor`` has no time zone.
    """
    if anchor.utcoffset() is None:
        raise ValueError(f"The anchor `{anchor.isoformat()}` has no time zone.")
    pid, eid = patient_id(record.record_id), encounter_id(record.record_id)

    def observation(measurement: Measurement, value: float) -> dict[str, Any]:
        return observation_resource(
            f"{pid}-L{measurement.line}",
            VARIABLES[measurement.parameter],
            value,
            anchor + timedelta(minutes=measurement.minute),
            patient=pid,
            encounter=eid,
        )

    observations = [observation(measurement, value) for measurement, value in accepted(record)]
    for measurement, value, reason in implausible(record):
        # Stored, so the error is visible and traceable to its row, but without the value.
        flagged = observation(measurement, value)
        withhold_value(flagged, reason)
        observations.append(flagged)
    return [
        patient_resource(pid, record.record_id, record.gender, outcome, anchor),
        encounter_resource(eid, pid, record.icu_type, outcome, anchor),
        *observations,
    ]
