"""delete: http://hl7.org/fhir/R4/http.html#delete"""

from __future__ import annotations

from fhir_factories import outcome_text, patient, post, put
from flask.testing import FlaskClient


def test_delete_then_read_is_410_and_history_keeps_it(client: FlaskClient) -> None:
    resource_id = post(client, patient()).get_json()["id"]
    response = client.delete(f"/fhir/Patient/{resource_id}")
    assert response.status_code == 200
    assert response.headers["ETag"] == 'W/"2"'
    assert outcome_text(response).startswith(f"Deleted `Patient/{resource_id}`")
    gone = client.get(f"/fhir/Patient/{resource_id}")
    assert gone.status_code == 410
    assert "was deleted" in outcome_text(gone)
    entries = client.get(f"/fhir/Patient/{resource_id}/_history").get_json()["entry"]
    assert [e["request"]["method"] for e in entries] == ["DELETE", "POST"]
    assert "resource" not in entries[0]
    assert client.get(f"/fhir/Patient/{resource_id}/_history/1").status_code == 200
    assert client.get(f"/fhir/Patient/{resource_id}/_history/2").status_code == 410


def test_delete_of_missing_resource_changes_nothing(client: FlaskClient) -> None:
    response = client.delete("/fhir/Patient/never-was")
    assert response.status_code == 200
    assert "nothing changed" in outcome_text(response)


def test_delete_twice_adds_one_version(client: FlaskClient) -> None:
    resource_id = post(client, patient()).get_json()["id"]
    client.delete(f"/fhir/Patient/{resource_id}")
    client.delete(f"/fhir/Patient/{resource_id}")
    assert len(client.get(f"/fhir/Patient/{resource_id}/_history").get_json()["entry"]) == 2


def test_update_after_delete_revives_with_next_version(client: FlaskClient) -> None:
    created = post(client, patient()).get_json()
    client.delete(f"/fhir/Patient/{created['id']}")
    response = put(client, created)
    assert response.status_code == 200
    assert response.get_json()["meta"]["versionId"] == "3"


def test_delete_with_prefer_minimal_is_204(client: FlaskClient) -> None:
    resource_id = post(client, patient()).get_json()["id"]
    response = client.delete(f"/fhir/Patient/{resource_id}", headers={"Prefer": "return=minimal"})
    assert response.status_code == 204 and response.data == b""


def test_delete_with_stale_if_match_is_412(client: FlaskClient) -> None:
    resource_id = post(client, patient()).get_json()["id"]
    response = client.delete(f"/fhir/Patient/{resource_id}", headers={"If-Match": 'W/"5"'})
    assert response.status_code == 412
    assert client.get(f"/fhir/Patient/{resource_id}").status_code == 200
