"""Builders for the RiskAssessment and Flag resources that scoring writes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ml.news2 import RiskBand

if TYPE_CHECKING:
    from datetime import datetime

    from ml.model import TrainedModel
    from ml.news2 import News2Result

#: Code system naming this server's scoring methods (RiskAssessment.method).
METHOD_SYSTEM = "urn:fhir-server:ml:method"
_RISK_SYSTEM = "http://terminology.hl7.org/CodeSystem/risk-probability"
_RISK_DISPLAY = {"low": "Low likelihood", "moderate": "Moderate likelihood", "high": "High likelihood"}
# The RCP's four bands onto HL7's risk-probability codes: "low-medium" (a
# single parameter scoring 3) is an urgent ward review, so it counts as moderate.
_BAND_RISK = {
    RiskBand.LOW: "low",
    RiskBand.LOW_MEDIUM: "moderate",
    RiskBand.MEDIUM: "moderate",
    RiskBand.HIGH: "high",
}
#: Default probability at or above which a Flag is raised. A placeholder for
#: a site to set: it should come from the alert rate a ward can act on.
DEFAULT_THRESHOLD = 0.3
#: Below this probability the model's risk is called low (about half the
#: challenge's 14 % mortality).
LOW_RISK_BELOW = 0.07


def _reference(resource_type: str, resource_id: str) -> dict[str, str]:
    return {"reference": f"{resource_type}/{resource_id}"}


def _risk(code: str, text: str) -> dict[str, Any]:
    return {"coding": [{"system": _RISK_SYSTEM, "code": code, "display": _RISK_DISPLAY[code]}], "text": text}


def _base(rid: str, patient: str, encounter: str | None, method: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "RiskAssessment",
        "id": rid,
        "status": "final",
        "method": method,
        "subject": _reference("Patient", patient),
    }
    if encounter is not None:
        resource["encounter"] = _reference("Encounter", encounter)
    return resource


def news2_assessment(rid: str, patient: str, encounter: str | None, result: News2Result) -> dict[str, Any]:
    """Return the NEWS2 RiskAssessment: a prediction when complete, else a preliminary note."""
    method = {
        "coding": [{"system": METHOD_SYSTEM, "code": "news2", "display": "National Early Warning Score 2"}],
        "text": "NEWS2 (Royal College of Physicians, 2017)",
    }
    resource = _base(rid, patient, encounter, method)
    resource["occurrenceDateTime"] = result.as_of.isoformat(timespec="seconds")
    if result.source_ids:
        resource["basis"] = [{"reference": source} for source in result.source_ids]
    if result.aggregate is None or result.band is None:
        resource["status"] = "preliminary"
        resource["note"] = [{"text": "NEWS2 not scored: " + " ".join(result.messages)}]
        return resource
    text = f"NEWS2 {result.aggregate} ({result.band.value} clinical risk)"
    prediction: dict[str, Any] = {
        "outcome": {"text": "Clinical deterioration"},
        "qualitativeRisk": _risk(_BAND_RISK[result.band], text),
    }
    if result.response is not None:
        prediction["rationale"] = f"{text}. {result.response.text}"
    resource["prediction"] = [prediction]
    return resource


def model_assessment(
    rid: str,
    patient: str,
    encounter: str | None,
    probability: float,
    basis: tuple[str, ...],
    *,
    occurrence: datetime,
    complete: bool,
    threshold: float,
    model: TrainedModel,
) -> dict[str, Any]:
    """Return the model's RiskAssessment of in-hospital death."""
    method = {
        "coding": [
            {
                "system": METHOD_SYSTEM,
                "code": model.name,
                "display": f"In-hospital mortality ensemble (GRU-D + boosted trees) {model.version}",
            }
        ],
        "text": (
            f"In-hospital mortality ensemble {model.version} (GRU-D networks and boosted trees), "
            "trained on PhysioNet Challenge 2012 data"
        ),
    }
    resource = _base(rid, patient, encounter, method)
    # Scoring before 48 hours of data is outside what the model was validated on.
    resource["status"] = "final" if complete else "preliminary"
    resource["occurrenceDateTime"] = occurrence.isoformat(timespec="seconds")
    if basis:
        resource["basis"] = [{"reference": source} for source in basis]
    level = "high" if probability >= threshold else "low" if probability < LOW_RISK_BELOW else "moderate"
    rounded = round(probability, 4)
    resource["prediction"] = [
        {
            "outcome": {
                "coding": [{"system": "http://snomed.info/sct", "code": "419099009", "display": "Dead"}],
                "text": "In-hospital death",
            },
            "probabilityDecimal": rounded,
            "qualitativeRisk": _risk(level, f"{level} ({rounded:.1%}; high from {threshold:.0%})"),
        }
    ]
    return resource


def flag_resource(
    fid: str,
    patient: str,
    encounter: str | None,
    probability: float,
    threshold: float,
    *,
    occurrence: datetime,
    active: bool,
) -> dict[str, Any]:
    """Return the high-risk Flag, active or (when the risk fell) inactive."""
    flag: dict[str, Any] = {
        "resourceType": "Flag",
        "id": fid,
        "status": "active" if active else "inactive",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/flag-category",
                        "code": "clinical",
                        "display": "Clinical",
                    }
                ]
            }
        ],
        "code": {"text": f"High predicted risk of in-hospital death: {probability:.1%} (threshold {threshold:.0%})"},
        "subject": _reference("Patient", patient),
        "period": {"start": occurrence.isoformat(timespec="seconds")},
    }
    if encounter is not None:
        flag["encounter"] = _reference("Encounter", encounter)
    return flag
