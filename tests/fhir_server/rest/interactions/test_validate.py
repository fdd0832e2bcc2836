"""$validate: http://hl7.org/fhir/R4/resource-operation-validate.html"""

from __future__ import annotations

from fhir_factories import FHIR_JSON, patient
from flask.testing import FlaskClient


def test_valid_resource_gives_informational_outcome_and_is_not_stored(client: FlaskClient) -> None:
    response = client.post("/fhir/Patient/$validate", json=patient(), headers={"Content-Type": FHIR_JSON})
    assert response.status_code == 200
    assert response.get_json()["issue"][0]["severity"] == "information"
    assert client.get("/fhir/Patient/_history").get_json().get("entry", []) == []


def test_invalid_resource_gives_200_with_the_same_issues_as_create(client: FlaskClient) -> None:
    bad = patient(birthDate="2020-13-01", colour="red")
    validated = client.post("/fhir/Patient/$validate", json=bad, headers={"Content-Type": FHIR_JSON})
    created = client.post("/fhir/Patient", json=bad, headers={"Content-Type": FHIR_JSON})
    assert validated.status_code == 200 and created.status_code == 400
    assert validated.get_json()["issue"] == created.get_json()["issue"]


def test_parameters_form_and_instance_level(client: FlaskClient) -> None:
    params = {
        "resourceType": "Parameters",
        "parameter": [{"name": "resource", "resource": patient(id="p1")}, {"name": "mode", "valueCode": "update"}],
    }
    ok = client.post("/fhir/Patient/p1/$validate", json=params, headers={"Content-Type": FHIR_JSON})
    assert ok.get_json()["issue"][0]["severity"] == "information"
    mismatch = client.post("/fhir/Patient/p2/$validate", json=params, headers={"Content-Type": FHIR_JSON})
    assert mismatch.status_code == 200
    assert mismatch.get_json()["issue"][0]["expression"] == ["id"]
