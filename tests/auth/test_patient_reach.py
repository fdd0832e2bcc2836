"""A ``patient/`` token reaches its patient's compartment only, on every interaction.

Patient A's token is tried against patient B's data: each attempt is refused
(403), answered as if B's data did not exist (404), or comes back empty, and no
include, total, link or message names B's resources.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

VITALS = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}
LAB = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}


def observation(oid: str, patient: str, category: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "category": [category],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{patient}"},
    }


@pytest.fixture
def two_patients(store: Callable[[dict[str, Any]], str]) -> None:
    store({"resourceType": "Organization", "id": "org", "name": "Hospital"})
    for pid in ("A", "B"):
        store(
            {
                "resourceType": "Patient",
                "id": pid,
                "name": [{"family": f"Fam{pid}"}],
                "managingOrganization": {"reference": "Organization/org"},
            }
        )
        store(observation(f"{pid}-vital", pid, VITALS))
        store(observation(f"{pid}-lab", pid, LAB))


def ids(bundle: dict[str, Any]) -> set[str]:
    return {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle.get("entry", [])}


def no_b(bundle: dict[str, Any]) -> None:
    """Nothing of B in the entries, and no paging link beyond the request's own ``self`` echo."""
    text = json.dumps(bundle.get("entry", []))
    assert "Patient/B" not in text and "B-vital" not in text and "B-lab" not in text
    assert {link["relation"] for link in bundle.get("link", [])} <= {"self"}


@pytest.mark.usefixtures("two_patients")
def test_reads_of_another_patients_data_are_404(smart_client: FlaskClient, mint: Callable[..., dict[str, str]]) -> None:
    token = mint("patient/*.rs", patient="A")
    assert smart_client.get("/fhir/Observation/A-vital", headers=token).status_code == 200
    assert smart_client.get("/fhir/Patient/A", headers=token).status_code == 200
    for path in [
        "/fhir/Observation/B-vital",
        "/fhir/Patient/B",
        "/fhir/Observation/B-vital/_history/1",
        "/fhir/Observation/B-vital/_history",
    ]:
        response = smart_client.get(path, headers=token)
        assert response.status_code == 404, path
        assert response.get_json()["issue"][0]["code"] == "not-found"
    # Reference data outside every patient compartment stays readable.
    assert smart_client.get("/fhir/Organization/org", headers=token).status_code == 200


@pytest.mark.usefixtures("two_patients")
def test_searches_includes_totals_and_history_stay_in_the_compartment(
    smart_client: FlaskClient, mint: Callable[..., dict[str, str]]
) -> None:
    token = mint("patient/*.rs", patient="A")
    queries = {
        "/fhir/Observation?_total=accurate": {"Observation/A-vital", "Observation/A-lab"},
        "/fhir/Observation?subject=Patient/B&_total=accurate": set(),
        "/fhir/Observation?subject:Patient.family=FamB": set(),
        "/fhir/Patient?_total=accurate": {"Patient/A"},
        "/fhir/Patient?_has:Observation:subject:code=8867-4": {"Patient/A"},
        "/fhir/Observation?_include=Observation:subject": {"Observation/A-vital", "Observation/A-lab", "Patient/A"},
        "/fhir/Organization?_revinclude=Patient:organization": {"Organization/org", "Patient/A"},
        "/fhir/Patient/B/Observation": set(),
        "/fhir?_type=Observation,Patient": {"Observation/A-vital", "Observation/A-lab", "Patient/A"},
        "/fhir/Observation/_history": {"Observation/A-vital", "Observation/A-lab"},
        "/fhir/_history": {"Observation/A-vital", "Observation/A-lab", "Patient/A", "Organization/org"},
    }
    for path, expected in queries.items():
        response = smart_client.get(path, headers=token)
        assert response.status_code == 200, (path, response.get_data(as_text=True))
        bundle = response.get_json()
        assert ids(bundle) == expected, path
        if "total" in bundle and "_history" not in path:
            assert (
                bundle["total"] == len([e for e in bundle["entry"] if e.get("search", {}).get("mode") != "include"])
                if bundle.get("entry")
                else bundle["total"] == 0
            )
        no_b(bundle)
    count = smart_client.get("/fhir/Observation?_summary=count", headers=token).get_json()
    assert count["total"] == 2


@pytest.mark.usefixtures("two_patients")
def test_writes_to_another_patients_compartment_are_refused(
    smart_client: FlaskClient, mint: Callable[..., dict[str, str]]
) -> None:
    token = mint("patient/*.cruds", patient="A")
    created = smart_client.post("/fhir/Observation", json=observation("x", "A", VITALS), headers=token)
    assert created.status_code == 201
    assert smart_client.post("/fhir/Observation", json=observation("x", "B", VITALS), headers=token).status_code == 403
    moved = observation("A-vital", "B", VITALS)
    assert smart_client.put("/fhir/Observation/A-vital", json=moved, headers=token).status_code == 403
    taken = observation("B-vital", "A", VITALS)
    assert smart_client.put("/fhir/Observation/B-vital", json=taken, headers=token).status_code == 404
    assert smart_client.delete("/fhir/Observation/B-vital", headers=token).status_code == 404
    patch = [{"op": "replace", "path": "/status", "value": "amended"}]
    patched = smart_client.patch(
        "/fhir/Observation/B-vital", json=patch, headers={**token, "Content-Type": "application/json-patch+json"}
    )
    assert patched.status_code == 404
    transaction = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": observation("t1", "B", VITALS), "request": {"method": "PUT", "url": "Observation/t1"}}],
    }
    refused = smart_client.post("/fhir", json=transaction, headers=token)
    assert refused.status_code == 403
    assert smart_client.delete("/fhir/Observation?subject=Patient/B", headers=token).status_code in (200, 204)
    # B's data is untouched by all of the above.
    check = mint("system/*.rs")
    assert smart_client.get("/fhir/Observation/B-vital", headers=check).get_json()["status"] == "final"
    assert smart_client.get("/fhir/Observation/t1", headers=check).status_code == 404


@pytest.mark.usefixtures("two_patients")
def test_v2_scope_query_and_v1_scopes(smart_client: FlaskClient, mint: Callable[..., dict[str, str]]) -> None:
    vitals_only = mint("patient/Observation.rs?category=vital-signs", patient="A")
    bundle = smart_client.get("/fhir/Observation", headers=vitals_only).get_json()
    assert ids(bundle) == {"Observation/A-vital"}
    assert smart_client.get("/fhir/Observation/A-lab", headers=vitals_only).status_code == 404
    assert smart_client.get("/fhir/Patient/A", headers=vitals_only).status_code == 403
    v1 = mint("patient/Observation.read", patient="A")
    assert ids(smart_client.get("/fhir/Observation", headers=v1).get_json()) == {
        "Observation/A-vital",
        "Observation/A-lab",
    }
    assert smart_client.post("/fhir/Observation", json=observation("n", "A", LAB), headers=v1).status_code == 403


@pytest.mark.usefixtures("two_patients")
def test_a_patient_scope_without_a_patient_in_context_reaches_nothing(
    smart_client: FlaskClient, mint: Callable[..., dict[str, str]]
) -> None:
    assert smart_client.get("/fhir/Observation", headers=mint("patient/*.rs")).status_code == 403
