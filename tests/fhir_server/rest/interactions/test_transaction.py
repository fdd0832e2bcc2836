"""transaction and batch: http://hl7.org/fhir/R4/http.html#transaction"""

from __future__ import annotations

from typing import Any

import orjson
from fhir_factories import FHIR_JSON, outcome_text, patient, post
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from werkzeug.test import TestResponse

SPIDX = ("spidx_string", "spidx_token", "spidx_date", "spidx_reference", "spidx_number", "spidx_quantity", "spidx_uri")
A, B = "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e8", "urn:uuid:9f1a8f7e-9a2c-4c5e-8f32-3c1d2e0b7a11"


def send(client: FlaskClient, kind: str, entries: list[dict[str, Any]], **headers: str) -> TestResponse:
    bundle = {"resourceType": "Bundle", "type": kind, "entry": entries}
    return client.post("/fhir", data=orjson.dumps(bundle), headers={"Content-Type": FHIR_JSON, **headers})


def create(resource: dict[str, Any], full_url: str | None = None, **request: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"], **request},
    }
    return {**entry, "fullUrl": full_url} if full_url else entry


def observation(subject: str, code: str = "8302-2", **fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": subject},
        **fields,
    }


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("resource", "resource_history", *SPIDX)
        }


def test_transaction_creates_and_links_urn_uuid_references(client: FlaskClient) -> None:
    response = send(client, "transaction", [create(observation(A)), create(patient(), A)])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["type"] == "transaction-response"
    obs_entry, patient_entry = body["entry"]
    assert patient_entry["response"]["status"] == "201 Created"
    assert patient_entry["response"]["etag"] == 'W/"1"' and patient_entry["response"]["lastModified"]
    patient_ref = patient_entry["response"]["location"].split("/_history")[0]
    assert obs_entry["resource"]["subject"]["reference"] == patient_ref
    assert client.get(f"/fhir/Observation?subject={patient_ref}").get_json()["total"] == 1


def test_circular_urn_uuid_references_resolve(client: FlaskClient) -> None:
    first = patient(link=[{"other": {"reference": B}, "type": "seealso"}])
    second = patient(link=[{"other": {"reference": A}, "type": "seealso"}])
    body = send(client, "transaction", [create(first, A), create(second, B)]).get_json()
    a_ref, b_ref = (e["response"]["location"].split("/_history")[0] for e in body["entry"])
    assert client.get(f"/fhir/{a_ref}").get_json()["link"][0]["other"]["reference"] == b_ref
    assert client.get(f"/fhir/{b_ref}").get_json()["link"][0]["other"]["reference"] == a_ref


def test_failed_transaction_leaves_nothing_behind_not_even_index_rows(client: FlaskClient, engine: Engine) -> None:
    post(client, patient())
    before = counts(engine)
    bad = observation(A, effectiveDateTime="not-a-date")
    response = send(client, "transaction", [create(patient(), A), create(observation(A)), create(bad)])
    assert response.status_code == 400
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    assert "Bundle entry 2 (`POST Observation`) failed" in outcome_text(response)
    assert body["issue"][0]["expression"][0].startswith("Bundle.entry[2]")
    assert counts(engine) == before


def test_duplicate_full_url_is_400(client: FlaskClient, engine: Engine) -> None:
    response = send(client, "transaction", [create(patient(), A), create(patient(), A)])
    assert response.status_code == 400
    assert outcome_text(response) == f"Bundle entries 0 and 1 have the same fullUrl `{A}`; fullUrls must be unique."
    assert counts(engine)["resource"] == 0


def test_unknown_urn_uuid_reference_fails_the_transaction(client: FlaskClient) -> None:
    response = send(client, "transaction", [create(observation(B))])
    assert response.status_code == 400
    assert f"The reference `{B}` names no entry of this Bundle by its fullUrl." in outcome_text(response)


def test_conditional_reference_resolves_to_the_one_match(client: FlaskClient) -> None:
    existing = post(client, patient(identifier=[{"system": "urn:mrn", "value": "42"}])).get_json()
    body = send(client, "transaction", [create(observation("Patient?identifier=urn:mrn|42"))]).get_json()
    assert body["entry"][0]["resource"]["subject"]["reference"] == f"Patient/{existing['id']}"


def test_conditional_reference_matching_nothing_fails(client: FlaskClient, engine: Engine) -> None:
    response = send(
        client, "transaction", [create(patient()), create(observation("Patient?identifier=urn:mrn|nobody"))]
    )
    assert response.status_code == 400
    assert (
        "Bundle entry 1 (`POST Observation`) failed: The conditional reference `Patient?identifier=urn:mrn|nobody` matches no resource"
        in outcome_text(response)
    )
    assert counts(engine)["resource"] == 0


def test_conditional_reference_matching_two_fails_with_412(client: FlaskClient, engine: Engine) -> None:
    for _ in range(2):
        post(client, patient(identifier=[{"system": "urn:mrn", "value": "7"}]))
    response = send(client, "transaction", [create(observation("Patient?identifier=urn:mrn|7"))])
    assert response.status_code == 412
    assert (
        "Bundle entry 0 (`POST Observation`) failed: The conditional reference `Patient?identifier=urn:mrn|7` matches more than one"
        in outcome_text(response)
    )
    assert counts(engine)["resource"] == 2


def test_conditional_reference_to_a_conditional_create_in_the_same_bundle(client: FlaskClient) -> None:
    mrn = [{"system": "urn:mrn", "value": "99"}]
    entries = [
        create(observation("Patient?identifier=urn:mrn|99")),
        create(patient(identifier=mrn), ifNoneExist="identifier=urn:mrn|99"),
    ]
    body = send(client, "transaction", entries).get_json()
    created = body["entry"][1]["response"]["location"].split("/_history")[0]
    assert body["entry"][0]["resource"]["subject"]["reference"] == created


def test_if_none_exist_returns_the_match_without_writing(client: FlaskClient) -> None:
    existing = post(client, patient(identifier=[{"system": "urn:mrn", "value": "1"}])).get_json()
    body = send(
        client, "transaction", [create(patient(), A, ifNoneExist="identifier=urn:mrn|1"), create(observation(A))]
    ).get_json()
    assert body["entry"][0]["response"]["status"] == "200 OK"
    assert body["entry"][0]["response"]["location"] == f"Patient/{existing['id']}/_history/1"
    assert body["entry"][1]["resource"]["subject"]["reference"] == f"Patient/{existing['id']}"


def test_processing_order_and_response_order(client: FlaskClient) -> None:
    post(client, patient(id="x"))
    client.put("/fhir/Patient/gone", data=orjson.dumps(patient(id="gone")), headers={"Content-Type": FHIR_JSON})
    entries = [
        {"request": {"method": "GET", "url": "Patient?family=Smith"}},
        {"resource": patient(id="p1"), "request": {"method": "PUT", "url": "Patient/p1"}},
        {"request": {"method": "DELETE", "url": "Patient/gone"}},
        create(patient()),
    ]
    body = send(client, "transaction", entries).get_json()
    statuses = [e["response"]["status"] for e in body["entry"]]
    assert statuses == ["200 OK", "201 Created", "204 No Content", "201 Created"]
    # GET runs last: it sees the PUT and the POST, not the deleted Patient.
    search = body["entry"][0]["resource"]
    assert search["type"] == "searchset" and len(search["entry"]) == 3


def test_if_match_in_transaction_fails_with_412(client: FlaskClient) -> None:
    client.put("/fhir/Patient/v", data=orjson.dumps(patient(id="v")), headers={"Content-Type": FHIR_JSON})
    entry = {
        "resource": patient(id="v", gender="male"),
        "request": {"method": "PUT", "url": "Patient/v", "ifMatch": 'W/"2"'},
    }
    response = send(client, "transaction", [entry])
    assert response.status_code == 412
    assert "is at version `1`, not the If-Match version `2`" in outcome_text(response)


def test_get_entry_honours_if_none_match(client: FlaskClient) -> None:
    client.put("/fhir/Patient/r", data=orjson.dumps(patient(id="r")), headers={"Content-Type": FHIR_JSON})
    entries = [
        {"request": {"method": "GET", "url": "Patient/r", "ifNoneMatch": 'W/"1"'}},
        {"request": {"method": "GET", "url": "Patient/r/_history/1"}},
    ]
    body = send(client, "batch", entries).get_json()
    assert body["entry"][0] == {
        "response": {
            "status": "304 Not Modified",
            "etag": 'W/"1"',
            "lastModified": body["entry"][1]["response"]["lastModified"],
        }
    }
    assert body["entry"][1]["resource"]["id"] == "r"


def test_prefer_minimal_omits_resources(client: FlaskClient) -> None:
    body = send(client, "transaction", [create(patient())], Prefer="return=minimal").get_json()
    assert "resource" not in body["entry"][0] and body["entry"][0]["response"]["status"] == "201 Created"


def test_two_writes_to_one_resource_fail(client: FlaskClient) -> None:
    entries = [{"resource": patient(id="d"), "request": {"method": "PUT", "url": "Patient/d"}}] * 2
    response = send(client, "transaction", entries)
    assert response.status_code == 400
    assert "Bundle entries 0 and 1 both change `Patient/d`" in outcome_text(response)


def test_batch_entries_succeed_or_fail_independently(client: FlaskClient, engine: Engine) -> None:
    entries = [
        create(patient()),
        create(observation("Patient/x", effectiveDateTime="not-a-date")),
        {"request": {"method": "GET", "url": "Patient/missing"}},
        {"resource": patient(id="ok"), "request": {"method": "PUT", "url": "Patient/ok"}},
        {"request": {"method": "FETCH", "url": "Patient"}},
    ]
    response = send(client, "batch", entries)
    assert response.status_code == 200
    body = response.get_json()
    assert body["type"] == "batch-response"
    statuses = [e["response"]["status"] for e in body["entry"]]
    assert statuses == ["201 Created", "400 Bad Request", "404 Not Found", "201 Created", "400 Bad Request"]
    assert (
        "Resource `Patient/missing` was not found."
        in body["entry"][2]["response"]["outcome"]["issue"][0]["diagnostics"]
    )
    assert counts(engine)["resource"] == 2
    assert counts(engine)["spidx_token"] > 0


def test_batch_does_not_link_entries(client: FlaskClient) -> None:
    body = send(client, "batch", [create(patient(), A), create(observation(A))]).get_json()
    assert body["entry"][0]["response"]["status"] == "201 Created"
    assert body["entry"][1]["response"]["status"] == "400 Bad Request"


def test_patch_entries_with_json_patch_and_fhirpath_patch(client: FlaskClient) -> None:
    import base64

    client.put("/fhir/Patient/pp", data=orjson.dumps(patient(id="pp")), headers={"Content-Type": FHIR_JSON})
    json_patch = base64.b64encode(orjson.dumps([{"op": "add", "path": "/gender", "value": "female"}])).decode()
    fhirpath = {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "operation",
                "part": [
                    {"name": "type", "valueCode": "replace"},
                    {"name": "path", "valueString": "Patient.birthDate"},
                    {"name": "value", "valueDate": "1980-02-02"},
                ],
            }
        ],
    }
    entries = [
        {
            "resource": {"resourceType": "Binary", "contentType": "application/json-patch+json", "data": json_patch},
            "request": {"method": "PATCH", "url": "Patient/pp"},
        },
    ]
    assert send(client, "transaction", entries).status_code == 200
    assert (
        send(
            client, "transaction", [{"resource": fhirpath, "request": {"method": "PATCH", "url": "Patient/pp"}}]
        ).status_code
        == 200
    )
    stored = client.get("/fhir/Patient/pp").get_json()
    assert stored["gender"] == "female" and stored["birthDate"] == "1980-02-02" and stored["meta"]["versionId"] == "3"


def test_bundle_of_other_type_is_400(client: FlaskClient) -> None:
    response = send(client, "collection", [])
    assert response.status_code == 400
    assert (
        outcome_text(response)
        == "The Bundle's type is `collection`; only `batch` and `transaction` Bundles can be processed."
    )
