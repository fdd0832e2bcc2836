"""patch: http://hl7.org/fhir/R4/http.html#patch"""

from __future__ import annotations

from typing import Any

import orjson
from fhir_factories import FHIR_JSON, outcome_text, patient, put
from flask.testing import FlaskClient
from werkzeug.test import TestResponse


def send(
    client: FlaskClient, body: Any, content_type: str = "application/json-patch+json", **headers: str
) -> TestResponse:
    return client.patch("/fhir/Patient/p", data=orjson.dumps(body), headers={"Content-Type": content_type, **headers})


def operation(**parts: Any) -> dict[str, Any]:
    return {"name": "operation", "part": [{"name": k, **v} for k, v in parts.items()]}


def test_json_patch_writes_a_patch_version(client: FlaskClient) -> None:
    put(client, patient(id="p"))
    response = send(
        client,
        [
            {"op": "replace", "path": "/name/0/family", "value": "Jones"},
            {"op": "add", "path": "/gender", "value": "other"},
        ],
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["name"][0]["family"] == "Jones" and body["gender"] == "other" and body["meta"]["versionId"] == "2"
    history = client.get("/fhir/Patient/p/_history").get_json()
    assert history["entry"][0]["request"]["method"] == "PATCH"
    assert client.get("/fhir/Patient?family=Jones").get_json()["total"] == 1


def test_fhirpath_patch(client: FlaskClient) -> None:
    put(client, patient(id="p"))
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            operation(
                type={"valueCode": "add"},
                path={"valueString": "Patient"},
                name={"valueString": "telecom"},
                value={"valueContactPoint": {"system": "phone", "value": "555"}},
            ),
            operation(type={"valueCode": "delete"}, path={"valueString": "Patient.birthDate"}),
            operation(
                type={"valueCode": "replace"},
                path={"valueString": "Patient.name[0].given[0]"},
                value={"valueString": "Bea"},
            ),
        ],
    }
    response = send(client, parameters, FHIR_JSON)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (
        body["telecom"] == [{"system": "phone", "value": "555"}]
        and "birthDate" not in body
        and body["name"][0]["given"] == ["Bea"]
    )


def test_if_match_on_patch(client: FlaskClient) -> None:
    put(client, patient(id="p"))
    stale = send(client, [{"op": "add", "path": "/gender", "value": "male"}], **{"If-Match": 'W/"2"'})
    assert stale.status_code == 412
    assert "is at version `1`, not the If-Match version `2`" in outcome_text(stale)
    assert send(client, [{"op": "add", "path": "/gender", "value": "male"}], **{"If-Match": 'W/"1"'}).status_code == 200


def test_patched_result_is_validated(client: FlaskClient) -> None:
    put(client, patient(id="p"))
    response = send(client, [{"op": "replace", "path": "/birthDate", "value": "not-a-date"}])
    assert response.status_code == 400
    assert client.get("/fhir/Patient/p").headers["ETag"] == 'W/"1"'


def test_failed_test_operation_is_422(client: FlaskClient) -> None:
    put(client, patient(id="p"))
    response = send(client, [{"op": "test", "path": "/gender", "value": "male"}])
    assert response.status_code == 422
    assert outcome_text(response) == "JSON Patch operation 0: the path element `gender` does not exist."


def test_patch_of_missing_resource_is_404_and_changing_id_is_422(client: FlaskClient) -> None:
    assert send(client, []).status_code == 404
    put(client, patient(id="p"))
    response = send(client, [{"op": "replace", "path": "/id", "value": "q"}])
    assert response.status_code == 422
    assert outcome_text(response) == "The patch must not change the `resourceType` or `id` of `Patient/p`."


def test_patch_with_xml_is_415(client: FlaskClient) -> None:
    put(client, patient(id="p"))
    assert client.patch("/fhir/Patient/p", data=b"<x/>", headers={"Content-Type": "application/xml"}).status_code == 415
