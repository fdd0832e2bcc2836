"""R4 invariants over REST: error constraints reject writes, warning ones only show in $validate."""

from __future__ import annotations

from fhir_factories import FHIR_JSON, observation, post
from fhir_factories import stored_count as stored
from flask.testing import FlaskClient
from sqlalchemy import Engine

OBS_6 = (
    "Constraint obs-6 failed: dataAbsentReason SHALL only be present if Observation.value[x] is not present"
    " (at `Observation`)."
)


def test_create_breaking_obs_6_is_rejected_and_nothing_is_stored(client: FlaskClient, engine: Engine) -> None:
    absent = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "unknown"}]}
    response = post(client, observation(valueString="7", dataAbsentReason=absent))
    assert response.status_code == 400
    issues = response.get_json()["issue"]
    assert [(i["severity"], i["code"], i["expression"], i["diagnostics"]) for i in issues] == [
        ("error", "invariant", ["Observation"], OBS_6)
    ]
    assert stored(engine) == 0


def test_patient_contact_breaking_pat_1_is_rejected(client: FlaskClient, engine: Engine) -> None:
    relationship = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0131", "code": "C"}]}]
    response = post(client, {"resourceType": "Patient", "contact": [{"relationship": relationship}]})
    assert response.status_code == 400
    (issue,) = response.get_json()["issue"]
    assert issue["expression"] == ["Patient.contact[0]"] and "pat-1" in issue["diagnostics"]
    assert stored(engine) == 0


def test_warning_constraint_shows_in_validate_and_the_resource_is_stored(client: FlaskClient, engine: Engine) -> None:
    # nor-1 (warning): a NutritionOrder should order an oral diet, a supplement or an enteral formula.
    order = {
        "resourceType": "NutritionOrder",
        "status": "active",
        "intent": "order",
        "patient": {"reference": "Patient/p1"},
        "dateTime": "2020-01-01",
    }
    validated = client.post("/fhir/NutritionOrder/$validate", json=order, headers={"Content-Type": FHIR_JSON})
    assert validated.status_code == 200
    issues = validated.get_json()["issue"]
    assert [(i["severity"], i["code"], i["expression"]) for i in issues] == [
        ("warning", "invariant", ["NutritionOrder"])
    ]
    assert issues[0]["diagnostics"].startswith("Constraint nor-1 failed:")
    assert post(client, order).status_code == 201
    assert stored(engine) == 1
