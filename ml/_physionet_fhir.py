"""Builders for the FHIR R4 resources one PhysioNet record becomes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ml.physionet_codes import PARAMETER_SYSTEM, RECORD_ID_SYSTEM
from ml.vitals_codes import LOINC, UCUM

if TYPE_CHECKING:
    from ml.physionet import Outcome
    from ml.physionet_codes import ChallengeVariable

#: Code system of the challenge's ICU types (Encounter.serviceType).
ICU_TYPE_SYSTEM = "https://physionet.org/challenge-2012/ICUType"
ICU_TYPES = {
    1: "Coronary care unit",
    2: "Cardiac surgery recovery unit",
    3: "Medical ICU",
    4: "Surgical ICU",
}
_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
_DISPOSITION_SYSTEM = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
_METHOD_DISPLAY = {
    "77938009": "Arterial pressure monitoring, invasive method",
    "17146006": "Arterial pressure monitoring, non-invasive method",
}


def _instant(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _reference(resource_type: str, resource_id: str) -> dict[str, str]:
    return {"reference": f"{resource_type}/{resource_id}"}


def patient_resource(
    pid: str, record_id: int, gender: int | None, outcome: Outcome | None, anchor: datetime
) -> dict[str, Any]:
    """Return the Patient: RecordID identifier, gender, date of death if known."""
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [{"system": RECORD_ID_SYSTEM, "value": str(record_id)}],
    }
    if gender is not None:
        patient["gender"] = "male" if gender == 1 else "female"
    if outcome is not None and outcome.survival_days is not None:
        # Survival is whole days after admission: a date, not an instant.
        patient["deceasedDateTime"] = (anchor + timedelta(days=outcome.survival_days)).date().isoformat()
    elif outcome is not None and outcome.in_hospital_death:
        patient["deceasedBoolean"] = True
    return patient


def encounter_resource(
    eid: str, pid: str, icu_type: int | None, outcome: Outcome | None, anchor: datetime
) -> dict[str, Any]:
    """Return the ICU stay Encounter; finished with a disposition when the outcome is known."""
    encounter: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": eid,
        "status": "finished" if outcome is not None else "unknown",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "ACUTE",
            "display": "inpatient acute",
        },
        "subject": _reference("Patient", pid),
        "period": {"start": _instant(anchor)},
    }
    if icu_type is not None:
        encounter["serviceType"] = {
            "coding": [{"system": ICU_TYPE_SYSTEM, "code": str(icu_type), "display": ICU_TYPES[icu_type]}]
        }
    if outcome is not None:
        # "exp" (expired) is the only disposition the challenge tells us; for
        # survivors the destination is unknown, hence "oth".
        code, display = ("exp", "Expired") if outcome.in_hospital_death else ("oth", "Other")
        encounter["hospitalization"] = {
            "dischargeDisposition": {"coding": [{"system": _DISPOSITION_SYSTEM, "code": code, "display": display}]}
        }
    return encounter


def observation_resource(
    oid: str,
    variable: ChallengeVariable,
    value: float,
    taken_at: datetime,
    *,
    patient: str,
    encounter: str,
) -> dict[str, Any]:
    """Return one measurement as an Observation coded per :mod:`ml.physionet_codes`."""
    coding = [{"system": PARAMETER_SYSTEM, "code": variable.name, "display": variable.display}]
    if variable.loinc is not None:
        coding.insert(0, {"system": LOINC, "code": variable.loinc, "display": variable.display})
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "category": [{"coding": [{"system": _CATEGORY_SYSTEM, "code": variable.category}]}],
        "code": {"coding": coding, "text": variable.display},
        "subject": _reference("Patient", patient),
        "encounter": _reference("Encounter", encounter),
        "effectiveDateTime": _instant(taken_at),
    }
    if variable.unit is None:
        observation["valueBoolean"] = value >= 1
    else:
        number: float | int = int(value) if value.is_integer() else value
        observation["valueQuantity"] = {"value": number, "unit": variable.unit, "system": UCUM, "code": variable.unit}
    if variable.method is not None:
        observation["method"] = {
            "coding": [
                {"system": variable.method_system, "code": variable.method, "display": _METHOD_DISPLAY[variable.method]}
            ]
        }
    return observation
