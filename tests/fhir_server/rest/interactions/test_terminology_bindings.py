"""Terminology bindings over REST: required ones reject writes, extensible ones only warn in $validate."""

from __future__ import annotations

from typing import Any

from fhir_factories import FHIR_JSON, patient, post, put
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

GENDER_MISS = (
    "Value `nope` of `Patient.gender` is not in the value set"
    " http://hl7.org/fhir/ValueSet/administrative-gender (required binding)."
)


def stored(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM resource")).scalar_one())


def observation(**extra: Any) -> dict[str, Any]:
    code = {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}
    return {"resourceType": "Observation", "status": "final", "code": code, **extra}


def test_create_with_a_code_outside_a_required_binding_is_rejected(client: FlaskClient, engine: Engine) -> None:
    response = post(client, patient(gender="nope"))
    assert response.status_code == 400
    issues = response.get_json()["issue"]
    assert [(i["severity"], i["code"], i["expression"], i["diagnostics"]) for i in issues] == [
        ("error", "code-invalid", ["Patient.gender"], GENDER_MISS)
    ]
    assert stored(engine) == 0


def test_update_and_transaction_are_held_to_required_bindings(client: FlaskClient, engine: Engine) -> None:
    assert put(client, patient(id="p1", telecom=[{"system": "pigeon", "value": "coo"}])).status_code == 400
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": patient(), "request": {"method": "POST", "url": "Patient"}},
            {"resource": observation(status="bogus"), "request": {"method": "POST", "url": "Observation"}},
        ],
    }
    response = client.post("/fhir", json=bundle, headers={"Content-Type": FHIR_JSON})
    assert response.status_code == 400
    assert "`bogus`" in response.get_data(as_text=True)
    assert stored(engine) == 0


def test_extensible_miss_is_a_validate_warning_and_the_resource_is_still_stored(
    client: FlaskClient, engine: Engine
) -> None:
    interpretation = [{"coding": [{"system": "http://example.org/flags", "code": "odd"}]}]
    resource = observation(interpretation=interpretation)
    validated = client.post("/fhir/Observation/$validate", json=resource, headers={"Content-Type": FHIR_JSON})
    assert validated.status_code == 200
    issues = validated.get_json()["issue"]
    assert [(i["severity"], i["code"], i["expression"]) for i in issues] == [
        ("warning", "code-invalid", ["Observation.interpretation[0]"])
    ]
    assert "http://hl7.org/fhir/ValueSet/observation-interpretation (extensible binding)" in issues[0]["diagnostics"]
    created = post(client, resource)
    assert created.status_code == 201
    assert created.get_json()["interpretation"] == interpretation
    assert stored(engine) == 1


def test_validate_reports_a_required_miss_as_an_error(client: FlaskClient) -> None:
    validated = client.post("/fhir/Patient/$validate", json=patient(gender="nope"), headers={"Content-Type": FHIR_JSON})
    assert validated.status_code == 200
    assert [(i["severity"], i["expression"]) for i in validated.get_json()["issue"]] == [("error", ["Patient.gender"])]
