"""create: http://hl7.org/fhir/R4/http.html#create"""

from __future__ import annotations

import orjson
from fhir_factories import FHIR_JSON, outcome_text, patient, post
from flask.testing import FlaskClient
from sqlalchemy import Engine, text


def test_create_returns_201_with_location_etag_and_stored_body(client: FlaskClient, engine: Engine) -> None:
    response = post(client, patient(id="ignored-by-server"))
    assert response.status_code == 201
    body = response.get_json()
    assert body["id"] != "ignored-by-server"
    assert body["meta"]["versionId"] == "1"
    assert body["meta"]["lastUpdated"].endswith("+00:00")
    assert response.headers["Location"] == f"http://fhir.test/fhir/Patient/{body['id']}/_history/1"
    assert response.headers["ETag"] == 'W/"1"'
    assert response.headers["Last-Modified"].endswith("GMT")
    assert response.headers["Content-Type"] == "application/fhir+json; charset=utf-8"
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT fhir_id, version_id, content FROM resource")).all()
    assert [(r.fhir_id, r.version_id) for r in rows] == [(body["id"], 1)]
    assert orjson.loads(rows[0].content) == body


def test_create_keeps_client_meta_but_owns_version_and_timestamp(client: FlaskClient) -> None:
    tag = {"system": "http://example.org/tags", "code": "vip"}
    body = post(client, patient(meta={"versionId": "99", "tag": [tag]})).get_json()
    assert body["meta"]["versionId"] == "1"
    assert body["meta"]["tag"] == [tag]


def test_create_rejects_type_mismatch_between_url_and_body(client: FlaskClient) -> None:
    response = client.post("/fhir/Observation", data=orjson.dumps(patient()), headers={"Content-Type": FHIR_JSON})
    assert response.status_code == 400
    assert "`Patient`" in outcome_text(response) and "`Observation`" in outcome_text(response)


def test_create_of_unknown_type_is_404(client: FlaskClient) -> None:
    response = client.post("/fhir/Spaceship", data=b"{}", headers={"Content-Type": FHIR_JSON})
    assert response.status_code == 404
    assert outcome_text(response) == "Resource type `Spaceship` is not supported by this FHIR R4 server."


def test_r4b_only_type_is_not_an_r4_type(client: FlaskClient) -> None:
    response = client.post("/fhir/SubscriptionTopic", data=b"{}", headers={"Content-Type": FHIR_JSON})
    assert response.status_code == 404


def test_malformed_json_is_400_with_outcome(client: FlaskClient) -> None:
    response = client.post("/fhir/Patient", data=b'{"resourceType": "Patient",', headers={"Content-Type": FHIR_JSON})
    assert response.status_code == 400
    assert "not valid JSON" in outcome_text(response)


def test_unknown_element_names_its_path(client: FlaskClient, engine: Engine) -> None:
    response = post(client, patient(favouriteColour="blue"))
    assert response.status_code == 400
    issues = response.get_json()["issue"]
    assert any(issue.get("expression") == ["Patient.favouriteColour"] for issue in issues), issues
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM resource")).scalar() == 0


def test_invalid_date_and_wrong_type_are_each_reported(client: FlaskClient) -> None:
    response = post(client, patient(birthDate="2020-13-01", name=[{"family": 3}]))
    assert response.status_code == 400
    expressions = {e for issue in response.get_json()["issue"] for e in issue.get("expression", [])}
    assert {"Patient.birthDate", "Patient.name[0].family"} <= expressions


def test_reference_of_wrong_shape_is_rejected(client: FlaskClient) -> None:
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "weight"},
        "subject": {"reference": "not a reference"},
    }
    response = post(client, observation)
    assert response.status_code == 400
    assert any(i.get("expression") == ["Observation.subject.reference"] for i in response.get_json()["issue"])


def test_non_json_content_type_is_415(client: FlaskClient) -> None:
    response = client.post("/fhir/Patient", data=b"<Patient/>", headers={"Content-Type": "application/fhir+xml"})
    assert response.status_code == 415
    assert "application/fhir+xml" in outcome_text(response)


def test_missing_content_type_is_415(client: FlaskClient) -> None:
    response = client.post("/fhir/Patient", data=orjson.dumps(patient()))
    assert response.status_code == 415


def test_plain_application_json_is_accepted(client: FlaskClient) -> None:
    response = client.post("/fhir/Patient", data=orjson.dumps(patient()), headers={"Content-Type": "application/json"})
    assert response.status_code == 201


def test_prefer_return_minimal_sends_no_body(client: FlaskClient) -> None:
    response = post(client, patient(), Prefer="return=minimal")
    assert response.status_code == 201
    assert response.data == b""
    assert "/_history/1" in response.headers["Location"]


def test_prefer_return_operation_outcome(client: FlaskClient) -> None:
    response = post(client, patient(), Prefer="return=OperationOutcome")
    assert response.status_code == 201
    assert outcome_text(response).startswith("Created `Patient/")
