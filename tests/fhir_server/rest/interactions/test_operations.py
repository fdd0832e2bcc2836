"""$everything and $lastn: patient-operation-everything.html, observation-operation-lastn.html"""

from __future__ import annotations

from typing import Any

import orjson
from fhir_factories import FHIR_JSON, outcome_text, patient
from flask.testing import FlaskClient


def put(client: FlaskClient, resource: dict[str, Any]) -> None:
    response = client.put(
        f"/fhir/{resource['resourceType']}/{resource['id']}",
        data=orjson.dumps(resource),
        headers={"Content-Type": FHIR_JSON},
    )
    assert response.status_code in (200, 201), response.get_json()


def obs(oid: str, subject: str, code: str, when: str, category: str = "vital-signs") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "category": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": category}]}
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": subject},
        "effectiveDateTime": when,
    }


def seed(client: FlaskClient) -> None:
    put(client, {"resourceType": "Organization", "id": "org", "name": "Clinic"})
    put(client, patient(id="p1", managingOrganization={"reference": "Organization/org"}))
    put(client, patient(id="p2"))
    for n, day in enumerate(["01", "02", "03"]):
        put(client, obs(f"h{n}", "Patient/p1", "8302-2", f"2024-01-{day}"))
        put(client, obs(f"w{n}", "Patient/p1", "29463-7", f"2024-02-{day}"))
    put(client, obs("lab", "Patient/p1", "2345-7", "2024-03-01", category="laboratory"))
    put(client, obs("other", "Patient/p2", "8302-2", "2024-05-01"))
    put(
        client,
        {
            "resourceType": "Encounter",
            "id": "e1",
            "status": "finished",
            "class": {"code": "AMB"},
            "subject": {"reference": "Patient/p1"},
        },
    )


def ids(bundle: dict[str, Any], mode: str = "match") -> set[str]:
    return {
        f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"] if e["search"]["mode"] == mode
    }


def test_everything_returns_patient_compartment_and_references(client: FlaskClient) -> None:
    seed(client)
    body = client.get("/fhir/Patient/p1/$everything").get_json()
    assert body["type"] == "searchset"
    assert ids(body) == {"Patient/p1", "Encounter/e1", "Observation/lab"} | {
        f"Observation/{k}{n}" for k in "hw" for n in range(3)
    }
    assert "Organization/org" in ids(body, "include")


def test_everything_type_since_and_paging(client: FlaskClient) -> None:
    seed(client)
    only = client.get("/fhir/Patient/p1/$everything?_type=Encounter").get_json()
    assert ids(only) == {"Encounter/e1"}
    later = client.get("/fhir/Patient/p1/$everything?_since=2999-01-01T00:00:00Z").get_json()
    assert ids(later) == set()
    seen: set[str] = set()
    page = client.get("/fhir/Patient/p1/$everything?_count=3").get_json()
    pages = 0
    while True:
        pages += 1
        seen |= ids(page)
        nxt = [link["url"] for link in page["link"] if link["relation"] == "next"]
        if not nxt:
            break
        page = client.get(nxt[0].replace("http://fhir.test", "")).get_json()
    assert pages >= 3 and len(seen) == 9


def test_everything_of_missing_patient_is_404(client: FlaskClient) -> None:
    response = client.get("/fhir/Patient/nobody/$everything")
    assert response.status_code == 404
    assert outcome_text(response) == "Resource `Patient/nobody` was not found."


def test_lastn_returns_newest_per_code(client: FlaskClient) -> None:
    seed(client)
    body = client.get("/fhir/Observation/$lastn?patient=Patient/p1&category=vital-signs").get_json()
    assert ids(body) == {"Observation/h2", "Observation/w2"}
    two = client.get("/fhir/Observation/$lastn?patient=Patient/p1&max=2").get_json()
    assert ids(two) == {"Observation/h2", "Observation/h1", "Observation/w2", "Observation/w1", "Observation/lab"}
    coded = client.get("/fhir/Observation/$lastn?subject=Patient/p2&code=http://loinc.org|8302-2&max=5").get_json()
    assert ids(coded) == {"Observation/other"}


def test_lastn_needs_a_patient_and_a_positive_max(client: FlaskClient) -> None:
    response = client.get("/fhir/Observation/$lastn?category=vital-signs")
    assert response.status_code == 400
    assert (
        outcome_text(response) == "$lastn needs a `patient` or `subject` parameter naming whose Observations to return."
    )
    assert client.get("/fhir/Observation/$lastn?patient=Patient/p1&max=0").status_code == 400
