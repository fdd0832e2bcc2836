"""Small valid resources and request helpers for the tests."""

from __future__ import annotations

from typing import Any

import orjson
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from werkzeug.test import TestResponse

FHIR_JSON = "application/fhir+json"


def patient(**fields: Any) -> dict[str, Any]:
    """A small valid Patient."""
    return {
        "resourceType": "Patient",
        "name": [{"family": "Smith", "given": ["Ann"]}],
        "birthDate": "1970-01-01",
        **fields,
    }


def post(client: FlaskClient, resource: dict[str, Any], **headers: str) -> TestResponse:
    """POST ``resource`` to its type's endpoint."""
    return client.post(
        f"/fhir/{resource['resourceType']}", data=orjson.dumps(resource), headers={"Content-Type": FHIR_JSON, **headers}
    )


def put(client: FlaskClient, resource: dict[str, Any], **headers: str) -> TestResponse:
    """PUT ``resource`` to its instance URL."""
    return client.put(
        f"/fhir/{resource['resourceType']}/{resource['id']}",
        data=orjson.dumps(resource),
        headers={"Content-Type": FHIR_JSON, **headers},
    )


def outcome_text(response: TestResponse) -> str:
    """All diagnostics of an OperationOutcome response, joined."""
    body = response.get_json(force=True)
    assert body["resourceType"] == "OperationOutcome", body
    return " | ".join(issue.get("diagnostics", "") for issue in body["issue"])


def observation(**fields: Any) -> dict[str, Any]:
    """A small valid Observation (a LOINC heart rate, final)."""
    code = {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}
    return {"resourceType": "Observation", "status": "final", "code": code, **fields}


def stored_count(engine: Engine) -> int:
    """How many resource versions the database holds."""
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM resource")).scalar_one())
