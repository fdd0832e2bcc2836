"""``POST Patient|Encounter/[id]/$risk-assessment`` over the Flask test client (both backends).

Imports TensorFlow (through the shipped model), like ``test_scoring.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from testdata import PHYSIONET_DIR

pytest.importorskip("tensorflow", reason="the ml extra (TensorFlow) is not installed")

from conformance.validation import validate_resource
from fhir_server.db import make_session_factory, unit_of_work
from fhir_server.rest.interactions.risk_assessment import OPERATION_DEFINITION
from ml.dataset import features_for_file
from ml.physionet import read_record, record_to_fhir
from ml.service import shared_model
from ml.store import store_resources

DATA = PHYSIONET_DIR
RECORD = DATA / "set-a" / "132551.txt"
PID = "physionet2012-132551"
JSON = {"Content-Type": "application/fhir+json"}


def _import(engine: Engine) -> None:
    with unit_of_work(make_session_factory(engine)) as session:
        store_resources(session, record_to_fhir(read_record(RECORD)))


def _by_id(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["resource"]["resourceType"] + "/" + e["resource"]["id"]: e["resource"] for e in bundle["entry"]}


def test_patient_operation_stores_and_returns_the_assessments(client: FlaskClient, engine: Engine) -> None:
    _import(engine)
    response = client.post(f"/fhir/Patient/{PID}/$risk-assessment")
    assert response.status_code == 200, response.get_data(as_text=True)
    bundle = response.get_json()
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "collection")
    found = _by_id(bundle)
    assert set(found) == {
        f"RiskAssessment/{PID}-news2",
        f"RiskAssessment/{PID}-mortality",
        f"Flag/{PID}-mortality-flag",
    }
    mortality = found[f"RiskAssessment/{PID}-mortality"]
    expected = float(shared_model().predict([features_for_file(RECORD)])[0])
    assert mortality["prediction"][0]["probabilityDecimal"] == pytest.approx(expected, abs=1e-4)
    assert mortality["occurrenceDateTime"].startswith("2012-01-0")
    assert len(mortality["basis"]) > 100
    assert validate_resource(mortality) == []
    # It was stored: the same version can be read back.
    stored = client.get(f"/fhir/RiskAssessment/{PID}-mortality").get_json()
    assert stored["meta"]["versionId"] == mortality["meta"]["versionId"] == "1"
    assert bundle["entry"][0]["fullUrl"].startswith("http://fhir.test/fhir/RiskAssessment/")


def test_encounter_operation_and_threshold_parameter(client: FlaskClient, engine: Engine) -> None:
    _import(engine)
    client.post(f"/fhir/Patient/{PID}/$risk-assessment")
    body = {"resourceType": "Parameters", "parameter": [{"name": "threshold", "valueDecimal": 0.99}]}
    response = client.post(f"/fhir/Encounter/{PID}-icu/$risk-assessment", json=body, headers=JSON)
    assert response.status_code == 200, response.get_data(as_text=True)
    found = _by_id(response.get_json())
    # Below the stricter threshold the earlier Flag is made inactive, as a new version.
    flag = found[f"Flag/{PID}-mortality-flag"]
    assert (flag["status"], flag["meta"]["versionId"]) == ("inactive", "2")
    assert found[f"RiskAssessment/{PID}-mortality"]["encounter"] == {"reference": f"Encounter/{PID}-icu"}


def test_errors_name_the_problem(client: FlaskClient) -> None:
    missing = client.post("/fhir/Patient/ghost/$risk-assessment")
    assert missing.status_code == 404
    assert missing.get_json()["issue"][0]["diagnostics"] == "Resource `Patient/ghost` was not found."
    wrong_type = client.post("/fhir/Observation/x/$risk-assessment")
    assert wrong_type.status_code == 405
    assert "defined on Patient and Encounter, not `Observation`" in wrong_type.get_json()["issue"][0]["diagnostics"]
    body = {"resourceType": "Parameters", "parameter": [{"name": "threshold", "valueDecimal": 2}]}
    bad = client.post("/fhir/Patient/ghost/$risk-assessment", json=body, headers=JSON)
    assert bad.status_code == 400
    assert bad.get_json()["issue"][0]["diagnostics"] == "`threshold` must be a valueDecimal between 0 and 1, not `2`."


def test_capability_statement_describes_the_operation(client: FlaskClient) -> None:
    statement = client.get("/fhir/metadata").get_json()
    listed = {
        entry["type"]: entry
        for entry in statement["rest"][0]["resource"]
        if any(op["name"] == "risk-assessment" for op in entry.get("operation", ()))
    }
    assert sorted(listed) == ["Encounter", "Patient"]
    operation = next(op for op in listed["Patient"]["operation"] if op["name"] == "risk-assessment")
    assert operation["definition"] == OPERATION_DEFINITION["url"]
    assert "collection Bundle" in operation["documentation"]
    assert validate_resource(OPERATION_DEFINITION) == []
