"""read and conditional read: http://hl7.org/fhir/R4/http.html#read, #cread"""

from __future__ import annotations

from fhir_factories import outcome_text, patient, post
from flask.testing import FlaskClient


def test_read_returns_the_stored_resource_and_validators(client: FlaskClient) -> None:
    created = post(client, patient())
    response = client.get(f"/fhir/Patient/{created.get_json()['id']}")
    assert response.status_code == 200
    assert response.data == created.data
    assert response.headers["ETag"] == 'W/"1"'
    assert response.headers["Last-Modified"] == created.headers["Last-Modified"]


def test_read_of_unknown_id_is_404_naming_it(client: FlaskClient) -> None:
    response = client.get("/fhir/Patient/nope")
    assert response.status_code == 404
    assert outcome_text(response) == "Resource `Patient/nope` was not found."
    assert response.headers["Content-Type"].startswith("application/fhir+json")


def test_read_of_unknown_type_is_404(client: FlaskClient) -> None:
    assert client.get("/fhir/Patients/1").status_code == 404


def test_if_none_match_gives_304(client: FlaskClient) -> None:
    resource_id = post(client, patient()).get_json()["id"]
    response = client.get(f"/fhir/Patient/{resource_id}", headers={"If-None-Match": 'W/"1"'})
    assert response.status_code == 304
    assert response.data == b""
    assert client.get(f"/fhir/Patient/{resource_id}", headers={"If-None-Match": 'W/"7"'}).status_code == 200


def test_if_modified_since(client: FlaskClient) -> None:
    created = post(client, patient())
    url = f"/fhir/Patient/{created.get_json()['id']}"
    assert client.get(url, headers={"If-Modified-Since": created.headers["Last-Modified"]}).status_code == 304
    assert client.get(url, headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}).status_code == 200
    assert client.get(url, headers={"If-Modified-Since": "yesterday"}).status_code == 400


def test_summary_true_keeps_summary_elements_and_tags_subsetted(client: FlaskClient) -> None:
    resource = patient(text={"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">Ann</div>'})
    resource["photo"] = [{"contentType": "image/png", "data": "iVBORw0KGgo="}]
    resource_id = post(client, resource).get_json()["id"]
    body = client.get(f"/fhir/Patient/{resource_id}?_summary=true").get_json()
    assert "name" in body and "birthDate" in body
    assert "photo" not in body and "text" not in body
    assert {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"} in body["meta"][
        "tag"
    ]
    data = client.get(f"/fhir/Patient/{resource_id}?_summary=data").get_json()
    assert "text" not in data and "photo" in data
    text_only = client.get(f"/fhir/Patient/{resource_id}?_summary=text").get_json()
    assert set(text_only) == {"resourceType", "id", "meta", "text"}


def test_elements_returns_only_named_elements(client: FlaskClient) -> None:
    resource_id = post(client, patient(gender="female")).get_json()["id"]
    body = client.get(f"/fhir/Patient/{resource_id}?_elements=gender").get_json()
    assert set(body) == {"resourceType", "id", "meta", "gender"}


def test_summary_count_is_not_valid_on_read(client: FlaskClient) -> None:
    resource_id = post(client, patient()).get_json()["id"]
    assert client.get(f"/fhir/Patient/{resource_id}?_summary=count").status_code == 400


def test_pretty_printing(client: FlaskClient) -> None:
    resource_id = post(client, patient()).get_json()["id"]
    pretty = client.get(f"/fhir/Patient/{resource_id}?_pretty=true")
    assert b"\n  " in pretty.data
    assert pretty.get_json()["id"] == resource_id


def test_format_and_accept_negotiation(client: FlaskClient) -> None:
    resource_id = post(client, patient()).get_json()["id"]
    url = f"/fhir/Patient/{resource_id}"
    assert (
        client.get(url, headers={"Accept": "application/json"}).headers["Content-Type"].startswith("application/json")
    )
    assert client.get(url + "?_format=json").headers["Content-Type"].startswith("application/fhir+json")
    assert client.get(url + "?_format=xml").status_code == 406
    assert client.get(url, headers={"Accept": "application/fhir+xml"}).status_code == 406
    assert client.get(url, headers={"Accept": "application/fhir+json; fhirVersion=3.0"}).status_code == 406
    assert client.get(url, headers={"Accept": "text/html, */*;q=0.8"}).status_code == 200
