"""vread: http://hl7.org/fhir/R4/http.html#vread"""

from __future__ import annotations

from fhir_factories import outcome_text, patient, post, put
from flask.testing import FlaskClient


def test_vread_returns_each_version_as_it_was(client: FlaskClient) -> None:
    v1 = post(client, patient(gender="male"))
    v2 = put(client, {**v1.get_json(), "gender": "female"})
    resource_id = v1.get_json()["id"]
    first = client.get(f"/fhir/Patient/{resource_id}/_history/1")
    assert first.status_code == 200 and first.data == v1.data
    assert first.headers["ETag"] == 'W/"1"'
    assert client.get(f"/fhir/Patient/{resource_id}/_history/2").data == v2.data


def test_vread_of_unknown_version_is_404_naming_it(client: FlaskClient) -> None:
    resource_id = post(client, patient()).get_json()["id"]
    response = client.get(f"/fhir/Patient/{resource_id}/_history/9")
    assert response.status_code == 404
    assert outcome_text(response) == f"Resource `Patient/{resource_id}` with version `9` was not found."
    assert client.get(f"/fhir/Patient/{resource_id}/_history/abc").status_code == 404
