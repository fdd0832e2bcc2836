"""Every access through the FHIR API becomes a searchable AuditEvent; none holds a token."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from conformance.validation import validate_resource
from fhir_server.audit.drain import drain_all


def drain(app: Flask) -> int:
    return drain_all(app.extensions["fhir_server"].sessions)


def search(client: FlaskClient, query: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = client.get(f"/fhir/AuditEvent?{query}&_count=100", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [e["resource"] for e in response.get_json().get("entry", [])]


def test_reads_writes_refusals_and_failures_are_audited(
    smart_app: Flask, smart_client: FlaskClient, mint: Callable[..., dict[str, str]], store: Callable[..., str]
) -> None:
    store({"resourceType": "Patient", "id": "A"})
    store({"resourceType": "Patient", "id": "B"})
    patient_token = mint("patient/*.rs", patient="A")
    assert smart_client.get("/fhir/Patient/A", headers=patient_token).status_code == 200
    assert smart_client.get("/fhir/Patient/B", headers=patient_token).status_code == 404
    assert smart_client.get("/fhir/Observation?code=8867-4", headers=patient_token).status_code == 200
    writer = mint("system/Patient.cu")
    assert smart_client.post("/fhir/Patient", json={"resourceType": "Patient"}, headers=writer).status_code == 201
    assert smart_client.get("/fhir/Patient").status_code == 401
    assert drain(smart_app) == 5

    auditor = mint("system/AuditEvent.rs")
    events = search(smart_client, "_sort=date", auditor)
    assert [(e["subtype"][0]["code"], e["action"], e["outcome"]) for e in events] == [
        ("read", "R", "0"),
        ("read", "R", "4"),
        ("search-type", "R", "0"),
        ("create", "C", "0"),
        ("search-type", "R", "4"),
    ]
    for event in events:
        assert validate_resource(event) == []
    first = events[0]
    requestor = first["agent"][0]
    assert requestor["requestor"] is True and requestor["altId"] == "test-app"
    assert requestor["network"]["address"] == "127.0.0.1"
    assert {"reference": "Patient/A"} in [e["what"] for e in first["entity"]]
    assert events[-1]["agent"][0]["who"] == {"display": "unauthenticated"}
    (searched,) = [e for e in events[2]["entity"] if "query" in e]
    assert base64.b64decode(searched["query"]).decode() == "Observation?code=8867-4" and "name" not in searched
    # Searchable by the parameters an auditor needs.
    assert len(search(smart_client, "patient=Patient/A", auditor)) == 3
    assert len(search(smart_client, "outcome=4", auditor)) == 2
    assert len(search(smart_client, "subtype=create", auditor)) == 1
    assert len(search(smart_client, "type=rest&date=ge2020-01-01", auditor)) == 5
    assert len(search(smart_client, "entity=Patient/B", auditor)) == 1
    # Who asked: the client (agent altId) and where from; the unauthenticated request has neither client.
    assert len(search(smart_client, "altid=test-app", auditor)) == 4
    assert len(search(smart_client, "address=127.0.0.1", auditor)) == 5
    assert len(search(smart_client, "agent-name=client test-app", auditor)) == 4
    # Reading the audit trail is itself an access, and needs an AuditEvent scope.
    assert smart_client.get("/fhir/AuditEvent", headers=patient_token).status_code == 403


def test_no_audit_event_holds_a_token(
    smart_app: Flask, smart_client: FlaskClient, mint: Callable[..., dict[str, str]]
) -> None:
    headers = mint("system/*.rs")
    token = headers["Authorization"].split()[1]
    smart_client.get("/fhir/Patient?name=x", headers=headers)
    smart_client.get("/fhir/Patient", headers={"Authorization": "Bearer " + token[:-5] + "xxxxx"})
    drain(smart_app)
    with smart_app.extensions["fhir_server"].engine.connect() as connection:
        from sqlalchemy import text

        stored = [
            bytes(r[0])
            for r in connection.execute(text("SELECT content FROM resource WHERE resource_type = 'AuditEvent'"))
        ]
    assert len(stored) == 2
    assert not any(token[:40].encode() in content for content in stored)
