"""A ``patient/`` token reaches its patient's compartment only, through the operations too.

The matrix of ``test_patient_reach.py`` for ``$everything``, ``$lastn``,
``$risk-assessment`` and ``$validate``: patient A's token is tried against
patient B's data. Each attempt is refused (403), answered as if B's data did not
exist (404), or comes back with A's data only; no entry, include, total, paging
link or message names B's resources, and no operation writes into B's compartment.
Each case is paired with a positive one on A's own data, so an operation that
returned nothing at all would fail too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from auth.test_patient_reach import LAB, VITALS, ids, observation
from flask.testing import FlaskClient

Headers = dict[str, str]
Mint = Callable[..., Headers]
#: Markers of B's stored data: none may appear in an answer to A's token, except that an
#: error message may echo an id the request itself named. (A's resources refer to B's,
#: so an entry of A's may hold the reference `Patient/B`, never B's resource.)
B_DATA = ("FamB", "B-vital", "B-lab", "B-panel", "B-enc", "B-risk", "B-dated")


def is_b(resource: dict[str, Any]) -> bool:
    rid = str(resource.get("id", ""))
    return rid == "B" or rid.startswith("B-")


def dated(oid: str, patient: str, when: str, value: float) -> dict[str, Any]:
    """A heart-rate Observation of ``patient`` at ``when``, for ``$lastn``."""
    return {
        **observation(oid, patient, VITALS),
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
    }


@pytest.fixture
def two_patients(store: Callable[[dict[str, Any]], str]) -> None:
    """A and B, each with Observations, an Encounter and a RiskAssessment; A's data also points at B's."""
    store({"resourceType": "Organization", "id": "org", "name": "Hospital"})
    for pid in ("A", "B"):
        other = "B" if pid == "A" else "A"
        store(
            {
                "resourceType": "Patient",
                "id": pid,
                "name": [{"family": f"Fam{pid}"}],
                "managingOrganization": {"reference": "Organization/org"},
                # A link to the other patient: `_include=*` must not follow it out of the compartment.
                "link": [{"other": {"reference": f"Patient/{other}"}, "type": "seealso"}],
            }
        )
        store(observation(f"{pid}-vital", pid, VITALS))
        store(observation(f"{pid}-lab", pid, LAB))
        for n, day in enumerate(("2024-01-01", "2024-01-02", "2024-01-03")):
            store(dated(f"{pid}-dated-{n}", pid, f"{day}T10:00:00Z", 60 + n))
        store(
            {
                "resourceType": "Encounter",
                "id": f"{pid}-enc",
                "status": "finished",
                "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
                "subject": {"reference": f"Patient/{pid}"},
            }
        )
        store(
            {
                "resourceType": "RiskAssessment",
                "id": f"{pid}-risk",
                "status": "final",
                "subject": {"reference": f"Patient/{pid}"},
            }
        )
        # A panel holding the other patient's Observation: `_include=*` must not bring that in.
        store(
            {
                "resourceType": "Observation",
                "id": f"{pid}-panel",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "85353-1"}]},
                "subject": {"reference": f"Patient/{pid}"},
                "hasMember": [{"reference": f"Observation/{other}-vital"}],
            }
        )


def assert_no_b(body: Any, named: str = "") -> None:
    """No resource of B in a response (entries, includes, nested Bundles) and no message about B.

    ``named``: what the request itself said, which a message may echo.
    """
    if isinstance(body, list):
        for item in body:
            assert_no_b(item, named)
        return
    if not isinstance(body, dict):
        return
    if body.get("resourceType") == "Bundle":
        for entry in body.get("entry", []):
            assert_no_b(entry.get("resource"), named)
            assert_no_b(entry.get("response", {}).get("outcome"), named)
            assert not is_b(entry.get("resource") or {}), entry
        assert "FamB" not in json.dumps(body.get("entry", []))
        return
    assert not is_b(body), body
    if body.get("resourceType") == "OperationOutcome":
        text = json.dumps(body)
        for marker in (*B_DATA, "Patient/B"):
            if marker not in named:
                assert marker not in text, (marker, text)
    assert "FamB" not in json.dumps(body)


def assert_refused(response: Any, *statuses: int, named: str = "") -> None:
    """A 403 or 404 (as given) with an OperationOutcome that names nothing of B but what the request did."""
    assert response.status_code in statuses, (response.status_code, response.get_data(as_text=True))
    outcome = response.get_json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert_no_b(outcome, named)


def assert_as_if_missing(
    client: FlaskClient, method: str, path: str, headers: Headers, b: str = "B", **kwargs: Any
) -> None:
    """``path`` about B (id ``b``) is answered exactly as the same request about a patient that does not exist."""
    answers = []
    for url in (path, path.replace(b, "ghost")):
        response = client.open(url, method=method, headers=headers, **kwargs)
        assert response.status_code in (403, 404), (url, response.get_data(as_text=True))
        outcome = response.get_json()
        assert outcome["resourceType"] == "OperationOutcome"
        issues = [(i["severity"], i["code"], i.get("diagnostics", "")) for i in outcome["issue"]]
        answers.append((response.status_code, json.dumps(issues).replace("ghost", b)))
    assert answers[0] == answers[1], answers


def pages(client: FlaskClient, path: str, headers: Headers) -> Iterator[dict[str, Any]]:
    """Every page of a searchset, following its ``next`` links."""
    url: str | None = path
    seen = 0
    while url is not None:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.get_data(as_text=True))
        bundle = response.get_json()
        yield bundle
        following = [link["url"] for link in bundle.get("link", []) if link["relation"] == "next"]
        parts = urlsplit(following[0]) if following else None
        url = f"{parts.path}?{parts.query}" if parts else None
        seen += 1
        assert seen < 50, "paging does not end"


A_EVERYTHING = {
    "Patient/A",
    "Observation/A-vital",
    "Observation/A-lab",
    "Observation/A-panel",
    "Observation/A-dated-0",
    "Observation/A-dated-1",
    "Observation/A-dated-2",
    "Encounter/A-enc",
    "RiskAssessment/A-risk",
    "Organization/org",
}


# -- $everything ------------------------------------------------------------------------


@pytest.mark.usefixtures("two_patients")
def test_everything_of_another_patient_is_404(smart_client: FlaskClient, mint: Mint) -> None:
    token = mint("patient/*.rs", patient="A")
    for path in [
        "/fhir/Patient/B/$everything",
        "/fhir/Patient/B/$everything?_type=Observation",
        "/fhir/Patient/B/$everything?_count=1",
        "/fhir/Patient/B/$everything?_since=2000-01-01T00:00:00Z",
    ]:
        response = smart_client.get(path, headers=token)
        assert_refused(response, 404, named=path)
        assert response.get_json()["issue"][0]["code"] == "not-found"
        assert_as_if_missing(smart_client, "GET", path, token)
    # A's own paging cursor does not open B's compartment.
    first = smart_client.get("/fhir/Patient/A/$everything?_count=1", headers=token).get_json()
    cursor = next(link["url"] for link in first["link"] if link["relation"] == "next").split("_cursor=")[1]
    stolen = f"/fhir/Patient/B/$everything?_count=1&_cursor={cursor}"
    assert_refused(smart_client.get(stolen, headers=token), 404, named=stolen)


@pytest.mark.usefixtures("two_patients")
def test_type_level_everything_is_not_an_open_door(smart_client: FlaskClient, mint: Mint) -> None:
    """``Patient/$everything`` (all patients) is not supported: it must not answer with B's data."""
    token = mint("patient/*.rs", patient="A")
    for path in ["/fhir/Patient/$everything", "/fhir/Patient/$everything?_count=1"]:
        response = smart_client.get(path, headers=token)
        assert response.status_code in (400, 403, 404, 405), (path, response.get_data(as_text=True))
        assert_no_b(response.get_json())


@pytest.mark.usefixtures("two_patients")
def test_own_everything_returns_the_compartment_and_nothing_of_b(smart_client: FlaskClient, mint: Mint) -> None:
    token = mint("patient/*.rs", patient="A")
    response = smart_client.get("/fhir/Patient/A/$everything", headers=token)
    assert response.status_code == 200, response.get_data(as_text=True)
    bundle = response.get_json()
    assert ids(bundle) == A_EVERYTHING
    assert_no_b(bundle)
    assert {link["relation"] for link in bundle["link"]} == {"self"}
    if "total" in bundle:
        assert bundle["total"] == len([e for e in bundle["entry"] if e["search"]["mode"] == "match"])
    # Page by page, following `next`: the same resources, never B's, and no page's total counts B's.
    seen: set[str] = set()
    for page in pages(smart_client, "/fhir/Patient/A/$everything?_count=1", token):
        assert_no_b(page)
        seen |= ids(page)
        if "total" in page:
            assert page["total"] <= len(A_EVERYTHING)
    assert seen == A_EVERYTHING
    # _type and _since narrow within the compartment.
    narrowed = smart_client.get("/fhir/Patient/A/$everything?_type=Observation,Encounter", headers=token).get_json()
    matched = {
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in narrowed["entry"]
        if e["search"]["mode"] == "match"
    }
    assert matched == {r for r in A_EVERYTHING if r.startswith(("Observation/", "Encounter/"))}
    assert ids(narrowed) - matched == {"Patient/A"}  # the subject, as an include
    assert_no_b(narrowed)
    # The same operation with a system token sees B's data behind A's references: the fixture can leak.
    wide = smart_client.get("/fhir/Patient/A/$everything", headers=mint("system/*.rs")).get_json()
    assert {"Patient/B", "Observation/B-vital"} <= ids(wide)


@pytest.mark.usefixtures("two_patients")
def test_everything_needs_the_scopes_it_reads_with(smart_client: FlaskClient, mint: Mint) -> None:
    observations_only = mint("patient/Observation.rs", patient="A")
    assert_refused(smart_client.get("/fhir/Patient/A/$everything", headers=observations_only), 403)
    assert_refused(
        smart_client.get("/fhir/Patient/B/$everything", headers=observations_only), 403, 404, named="Patient/B"
    )
    nobody = mint("patient/*.rs")
    assert_refused(smart_client.get("/fhir/Patient/A/$everything", headers=nobody), 403)


# -- $lastn -----------------------------------------------------------------------------


@pytest.mark.usefixtures("two_patients")
def test_lastn_of_another_patient_is_empty(smart_client: FlaskClient, mint: Mint) -> None:
    token = mint("patient/*.rs", patient="A")
    for query in [
        "patient=B",
        "patient=Patient/B",
        "subject=Patient/B",
        "patient=B&max=3",
        "patient=B&category=vital-signs",
        "patient=B&code=http://loinc.org|8867-4",
        "subject:Patient.family=FamB",
        "patient=ghost",
    ]:
        response = smart_client.get(f"/fhir/Observation/$lastn?{query}", headers=token)
        assert response.status_code == 200, (query, response.get_data(as_text=True))
        bundle = response.get_json()
        assert ids(bundle) == set(), query
        assert bundle["total"] == 0, query
        assert {link["relation"] for link in bundle["link"]} == {"self"}
        assert_no_b(bundle)


@pytest.mark.usefixtures("two_patients")
def test_lastn_without_a_patient_gives_only_the_token_patients_data(smart_client: FlaskClient, mint: Mint) -> None:
    token = mint("patient/*.rs", patient="A")
    for query in ["", "category=vital-signs", "code=http://loinc.org|8867-4&max=2"]:
        response = smart_client.get(f"/fhir/Observation/$lastn?{query}", headers=token)
        if response.status_code == 200:
            bundle = response.get_json()
            assert ids(bundle) and all(i.startswith("Observation/A-") for i in ids(bundle)), query
            assert_no_b(bundle)
        else:  # $lastn may insist on a patient or subject; the refusal names nothing of B.
            assert_refused(response, 400)


@pytest.mark.usefixtures("two_patients")
def test_own_lastn_returns_the_newest_of_a_and_nothing_of_b(smart_client: FlaskClient, mint: Mint) -> None:
    token = mint("patient/*.rs", patient="A")
    newest = smart_client.get("/fhir/Observation/$lastn?patient=A&category=vital-signs", headers=token).get_json()
    assert ids(newest) == {"Observation/A-dated-2"}
    assert newest["total"] == 1
    for query in ["patient=A&max=10", "patient=A,B&max=10", "subject=Patient/A,Patient/B&max=10"]:
        bundle = smart_client.get(f"/fhir/Observation/$lastn?{query}", headers=token).get_json()
        expected = {"Observation/A-vital", "Observation/A-lab", "Observation/A-panel"}
        expected |= {f"Observation/A-dated-{n}" for n in range(3)}
        assert ids(bundle) == expected, query
        assert bundle["total"] == len(expected)
        assert_no_b(bundle)
        assert {link["relation"] for link in bundle["link"]} == {"self"}
    # A system token sees both patients: the same query is not empty for want of data.
    wide = smart_client.get("/fhir/Observation/$lastn?patient=A,B&max=10", headers=mint("system/*.rs")).get_json()
    assert "Observation/B-dated-2" in ids(wide)


@pytest.mark.usefixtures("two_patients")
def test_lastn_with_a_narrower_scope_query(smart_client: FlaskClient, mint: Mint) -> None:
    labs_only = mint("patient/Observation.rs?category=laboratory", patient="A")
    bundle = smart_client.get("/fhir/Observation/$lastn?patient=A&max=10", headers=labs_only).get_json()
    assert ids(bundle) == {"Observation/A-lab"}
    b = smart_client.get("/fhir/Observation/$lastn?patient=B&max=10", headers=labs_only).get_json()
    assert ids(b) == set()


# -- $validate --------------------------------------------------------------------------


@pytest.mark.usefixtures("two_patients")
def test_type_level_validate_checks_the_body_only(smart_client: FlaskClient, mint: Mint) -> None:
    token = mint("patient/*.rs", patient="A")
    json_headers = {**token, "Content-Type": "application/fhir+json"}
    # A body about B (as an app might draft one) is validated, and the answer is about that body only.
    draft = {"resourceType": "Patient", "id": "B", "active": True}
    response = smart_client.post("/fhir/Patient/$validate", json=draft, headers=json_headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    outcome = response.get_json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "FamB" not in json.dumps(outcome)
    assert all(issue["severity"] == "information" for issue in outcome["issue"])
    invalid = smart_client.post(
        "/fhir/Patient/$validate", json={"resourceType": "Patient", "x": 1}, headers=json_headers
    )
    assert invalid.status_code == 200
    assert any(issue["severity"] == "error" for issue in invalid.get_json()["issue"])
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "resource", "resource": observation("B-vital", "B", VITALS)},
            {"name": "mode", "valueCode": "update"},
        ],
    }
    answer = smart_client.post("/fhir/Observation/$validate", json=parameters, headers=json_headers)
    assert answer.status_code == 200
    assert_no_b({k: v for k, v in answer.get_json().items() if k != "issue"})


@pytest.mark.usefixtures("two_patients")
def test_instance_validate_does_not_reveal_another_patients_resource(smart_client: FlaskClient, mint: Mint) -> None:
    token = mint("patient/*.rs", patient="A")
    json_headers = {**token, "Content-Type": "application/fhir+json"}

    def attempt(resource_type: str, rid: str, patient: str) -> tuple[int, Any]:
        body = (
            observation(rid, patient, VITALS)
            if resource_type == "Observation"
            else {"resourceType": "Patient", "id": rid}
        )
        response = smart_client.post(f"/fhir/{resource_type}/{rid}/$validate", json=body, headers=json_headers)
        outcome = response.get_json()
        assert outcome["resourceType"] == "OperationOutcome"
        text = json.dumps(outcome)
        assert "FamB" not in text and '"status": "final"' not in text
        return response.status_code, [(i["severity"], i["code"]) for i in outcome["issue"]]

    # B's resource answers exactly as a resource that does not exist does: existence is not revealed.
    assert attempt("Observation", "B-vital", "B") == attempt("Observation", "ghost", "B")
    assert attempt("Patient", "B", "B") == attempt("Patient", "ghost", "B")
    status, _ = attempt("Observation", "B-vital", "B")
    assert status in (200, 403, 404)
    # A's own resource validates.
    assert attempt("Observation", "A-vital", "A")[0] == 200


# -- batch and transaction --------------------------------------------------------------


@pytest.mark.usefixtures("two_patients")
def test_operations_inside_a_batch_do_not_reach_b(smart_client: FlaskClient, mint: Mint) -> None:
    token = mint("patient/*.rs", patient="A")
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "GET", "url": "Patient/B/$everything"}},
            {"request": {"method": "GET", "url": "Observation/$lastn?patient=B"}},
            {"request": {"method": "GET", "url": "Observation?patient=B"}},
        ],
    }
    response = smart_client.post("/fhir", json=batch, headers=token)
    assert response.status_code in (200, 400, 403), response.get_data(as_text=True)
    body = response.get_json()
    # The answers may echo the urls asked for, but hold none of B's resources.
    assert_no_b(body, named=json.dumps(batch))
    for entry in body.get("entry", []):
        found = entry.get("resource") or {}
        if found.get("resourceType") == "Bundle":
            assert found.get("total", 0) == 0 and not found.get("entry")


# -- $risk-assessment -------------------------------------------------------------------

#: Two PhysioNet ICU stays, imported as the model scores them: A's and B's.
RISK_A, RISK_B = "physionet2012-132551", "physionet2012-132539"


@pytest.fixture
def scored_patients(smart_app: Any) -> None:
    pytest.importorskip("tensorflow", reason="the ml extra (TensorFlow) is not installed")
    from fhir_server.db import unit_of_work
    from ml.physionet import read_record, record_to_fhir
    from ml.store import store_resources

    from testdata import PHYSIONET_DIR

    with unit_of_work(smart_app.extensions["fhir_server"].sessions) as session:
        for pid in (RISK_A, RISK_B):
            record = read_record(PHYSIONET_DIR / "set-a" / f"{pid.removeprefix('physionet2012-')}.txt")
            store_resources(session, record_to_fhir(record))


def _stored_risk(client: FlaskClient, mint: Mint) -> set[str]:
    """Every RiskAssessment and Flag stored, as a system token sees them."""
    wide = mint("system/*.rs")
    found: set[str] = set()
    for resource_type in ("RiskAssessment", "Flag"):
        found |= ids(client.get(f"/fhir/{resource_type}?_count=100", headers=wide).get_json())
    return found


@pytest.mark.usefixtures("scored_patients")
def test_risk_assessment_of_another_patient_is_404_and_writes_nothing(smart_client: FlaskClient, mint: Mint) -> None:
    token = mint("patient/*.cruds", patient=RISK_A)
    for path in [f"/fhir/Patient/{RISK_B}/$risk-assessment", f"/fhir/Encounter/{RISK_B}-icu/$risk-assessment"]:
        assert_as_if_missing(smart_client, "POST", path, token, b=RISK_B)
        response = smart_client.post(path, headers=token)
        assert response.status_code == 404
        assert response.get_json()["issue"][0]["code"] == "not-found"
    with_body = smart_client.post(
        f"/fhir/Patient/{RISK_B}/$risk-assessment",
        json={"resourceType": "Parameters", "parameter": [{"name": "threshold", "valueDecimal": 0.0}]},
        headers={**token, "Content-Type": "application/fhir+json"},
    )
    assert with_body.status_code == 404
    assert _stored_risk(smart_client, mint) == set()


@pytest.mark.usefixtures("scored_patients")
def test_risk_assessment_needs_write_scopes(smart_client: FlaskClient, mint: Mint) -> None:
    read_only = mint("patient/*.rs", patient=RISK_A)
    response = smart_client.post(f"/fhir/Patient/{RISK_A}/$risk-assessment", headers=read_only)
    assert_refused(response, 403)
    assert _stored_risk(smart_client, mint) == set()


@pytest.mark.usefixtures("scored_patients")
def test_own_risk_assessment_is_stored_in_the_own_compartment_only(smart_client: FlaskClient, mint: Mint) -> None:
    token = mint("patient/*.cruds", patient=RISK_A)
    for path in [f"/fhir/Patient/{RISK_A}/$risk-assessment", f"/fhir/Encounter/{RISK_A}-icu/$risk-assessment"]:
        response = smart_client.post(path, headers=token)
        assert response.status_code == 200, response.get_data(as_text=True)
        bundle = response.get_json()
        assert bundle["total"] == len(bundle["entry"]) >= 2
        for entry in bundle["entry"]:
            resource = entry["resource"]
            assert resource["subject"] == {"reference": f"Patient/{RISK_A}"}, resource
            assert RISK_B not in json.dumps(resource)
    stored = _stored_risk(smart_client, mint)
    assert stored and all(RISK_A in ref and RISK_B not in ref for ref in stored), stored


@pytest.mark.usefixtures("scored_patients")
def test_risk_assessment_does_not_overwrite_bs_resource_in_its_way(
    smart_client: FlaskClient, mint: Mint, store: Callable[[dict[str, Any]], str]
) -> None:
    """B's RiskAssessment stored under the id A's score would take: A's operation must not take it over."""
    squatter = {
        "resourceType": "RiskAssessment",
        "id": f"{RISK_A}-mortality",
        "status": "final",
        "subject": {"reference": f"Patient/{RISK_B}"},
    }
    store(squatter)
    token = mint("patient/*.cruds", patient=RISK_A)
    response = smart_client.post(f"/fhir/Patient/{RISK_A}/$risk-assessment", headers=token)
    assert response.status_code in (403, 404), response.get_data(as_text=True)
    assert RISK_B not in response.get_data(as_text=True)
    wide = mint("system/*.rs")
    kept = smart_client.get(f"/fhir/RiskAssessment/{RISK_A}-mortality", headers=wide).get_json()
    assert kept["subject"] == {"reference": f"Patient/{RISK_B}"} and kept["meta"]["versionId"] == "1"
    # Nothing of the refused operation was stored: it ran in one transaction.
    assert _stored_risk(smart_client, mint) == {f"RiskAssessment/{RISK_A}-mortality"}
