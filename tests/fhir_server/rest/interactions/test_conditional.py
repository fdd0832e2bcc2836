"""conditional create, update, delete: http://hl7.org/fhir/R4/http.html#ccreate, #cond-update"""

from __future__ import annotations

import dataclasses

import orjson
from fhir_factories import FHIR_JSON, outcome_text, patient, post
from flask import Flask
from flask.testing import FlaskClient

MRN = [{"system": "urn:mrn", "value": "5"}]


def put_where(client: FlaskClient, query: str, body: dict[str, object]) -> object:
    return client.put(f"/fhir/Patient?{query}", data=orjson.dumps(body), headers={"Content-Type": FHIR_JSON})


def test_if_none_exist_creates_when_nothing_matches_then_returns_the_match(client: FlaskClient) -> None:
    first = post(client, patient(identifier=MRN), **{"If-None-Exist": "identifier=urn:mrn|5"})
    assert first.status_code == 201
    again = post(client, patient(identifier=MRN), **{"If-None-Exist": "identifier=urn:mrn|5"})
    assert again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]
    assert client.get("/fhir/Patient").get_json()["total"] == 1


def test_if_none_exist_with_two_matches_is_412(client: FlaskClient) -> None:
    post(client, patient(identifier=MRN))
    post(client, patient(identifier=MRN))
    response = post(client, patient(identifier=MRN), **{"If-None-Exist": "identifier=urn:mrn|5"})
    assert response.status_code == 412
    assert (
        outcome_text(response)
        == "The If-None-Exist criteria `Patient?identifier=urn:mrn|5` match more than one resource, so nothing was created."
    )


def test_unknown_parameter_in_criteria_is_rejected_not_ignored(client: FlaskClient) -> None:
    response = post(client, patient(), **{"If-None-Exist": "nonsense=1"})
    assert response.status_code == 400


def test_conditional_update_creates_updates_and_refuses_ambiguity(client: FlaskClient) -> None:
    created = put_where(client, "identifier=urn:mrn|5", patient(identifier=MRN))
    assert created.status_code == 201
    updated = put_where(client, "identifier=urn:mrn|5", patient(identifier=MRN, gender="male"))
    assert updated.status_code == 200
    assert updated.get_json()["id"] == created.get_json()["id"] and updated.get_json()["meta"]["versionId"] == "2"
    post(client, patient(identifier=MRN))
    ambiguous = put_where(client, "identifier=urn:mrn|5", patient(identifier=MRN))
    assert ambiguous.status_code == 412
    assert "match more than one resource; nothing was updated" in outcome_text(ambiguous)


def test_conditional_update_with_a_different_body_id_is_400(client: FlaskClient) -> None:
    put_where(client, "identifier=urn:mrn|5", patient(identifier=MRN))
    response = put_where(client, "identifier=urn:mrn|5", patient(id="other", identifier=MRN))
    assert response.status_code == 400
    assert "but the body's id is `other`" in outcome_text(response)


def test_conditional_delete_single_mode(client: FlaskClient) -> None:
    assert client.delete("/fhir/Patient?identifier=urn:mrn|5").status_code == 200
    target = post(client, patient(identifier=MRN)).get_json()
    response = client.delete("/fhir/Patient?identifier=urn:mrn|5")
    assert response.status_code == 200
    assert outcome_text(response) == f"Deleted `Patient/{target['id']}`."
    assert client.get(f"/fhir/Patient/{target['id']}").status_code == 410
    post(client, patient(identifier=MRN))
    post(client, patient(identifier=MRN))
    many = client.delete("/fhir/Patient?identifier=urn:mrn|5")
    assert many.status_code == 412
    assert client.get("/fhir/Patient?identifier=urn:mrn|5").get_json()["total"] == 2


def test_conditional_delete_multiple_mode_when_configured(app: Flask, client: FlaskClient) -> None:
    state = app.extensions["fhir_server"]
    app.extensions["fhir_server"] = dataclasses.replace(
        state, settings=dataclasses.replace(state.settings, conditional_delete_max=5)
    )
    for _ in range(3):
        post(client, patient(identifier=MRN))
    assert client.delete("/fhir/Patient?identifier=urn:mrn|5").status_code == 200
    assert client.get("/fhir/Patient?identifier=urn:mrn|5").get_json()["total"] == 0
    statement = client.get("/fhir/metadata").get_json()
    entry = next(e for e in statement["rest"][0]["resource"] if e["type"] == "Patient")
    assert entry["conditionalDelete"] == "multiple"


def test_conditional_delete_without_criteria_is_400(client: FlaskClient) -> None:
    response = client.delete("/fhir/Patient")
    assert response.status_code == 400
    assert "hold no search parameter" in outcome_text(response)


def test_system_paths_are_not_conditional_targets(client: FlaskClient) -> None:
    response = client.delete("/fhir/_history")
    assert response.status_code == 405
    assert outcome_text(response) == "`DELETE [base]/_history` is not a FHIR interaction."
