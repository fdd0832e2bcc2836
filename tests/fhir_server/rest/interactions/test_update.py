"""update: http://hl7.org/fhir/R4/http.html#update"""

from __future__ import annotations

from fhir_factories import outcome_text, patient, post, put
from flask.testing import FlaskClient


def test_update_writes_next_version(client: FlaskClient) -> None:
    created = post(client, patient()).get_json()
    response = put(client, {**created, "gender": "female"})
    assert response.status_code == 200
    assert response.headers["ETag"] == 'W/"2"'
    body = response.get_json()
    assert body["meta"]["versionId"] == "2" and body["gender"] == "female"
    assert client.get(f"/fhir/Patient/{created['id']}").get_json() == body


def test_update_as_create_with_client_id_is_201(client: FlaskClient) -> None:
    response = put(client, patient(id="mrn-0042"))
    assert response.status_code == 201
    assert response.headers["Location"] == "http://fhir.test/fhir/Patient/mrn-0042/_history/1"
    assert client.get("/fhir/Patient/mrn-0042").status_code == 200


def test_update_id_mismatch_is_400(client: FlaskClient) -> None:
    response = client.put("/fhir/Patient/a", json=patient(id="b"), headers={"Content-Type": "application/fhir+json"})
    assert response.status_code == 400
    assert outcome_text(response) == "The resource's id `b` does not match the id `a` in the URL."


def test_update_without_id_is_400(client: FlaskClient) -> None:
    response = client.put("/fhir/Patient/a", json=patient(), headers={"Content-Type": "application/fhir+json"})
    assert response.status_code == 400


def test_update_with_invalid_id_is_400(client: FlaskClient) -> None:
    response = put(client, patient(id="bad id!"))
    assert response.status_code == 400
    assert "`bad id!` is not a valid FHIR id" in outcome_text(response)


def test_if_match_guards_against_lost_updates(client: FlaskClient) -> None:
    created = post(client, patient()).get_json()
    assert put(client, {**created, "gender": "male"}, **{"If-Match": 'W/"1"'}).status_code == 200
    stale = put(client, {**created, "gender": "female"}, **{"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert "is at version `2`, not the If-Match version `1`" in outcome_text(stale)
    assert client.get(f"/fhir/Patient/{created['id']}").get_json()["gender"] == "male"


def test_if_match_on_missing_resource_is_412(client: FlaskClient) -> None:
    assert put(client, patient(id="new"), **{"If-Match": 'W/"1"'}).status_code == 412


def test_malformed_if_match_is_400(client: FlaskClient) -> None:
    assert put(client, patient(id="x"), **{"If-Match": "banana"}).status_code == 400


def test_invalid_update_keeps_previous_version(client: FlaskClient) -> None:
    created = post(client, patient()).get_json()
    assert put(client, {**created, "birthDate": "not-a-date"}).status_code == 400
    assert client.get(f"/fhir/Patient/{created['id']}").headers["ETag"] == 'W/"1"'
