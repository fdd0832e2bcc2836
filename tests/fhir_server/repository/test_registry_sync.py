"""Custom SearchParameters written through the repository: checked, indexed, searchable, seen by other processes.

A second ``create_app`` on the same database has its own engine, hence its own
snapshot, exactly as another gunicorn worker or ``fhir-server`` command would.
"""

from __future__ import annotations

import gc
import time
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from fhir_factories import outcome_text, patient, post, put
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import DBAPIError

from fhir_server.app import create_app
from fhir_server.db import make_session_factory, unit_of_work
from fhir_server.repository import SqlRepository, registry_sync
from fhir_server.repository.reindex import reindex_batch

MMN_URL = "http://example.org/SearchParameter/patient-mothers-maiden-name"
MMN_EXTENSION = "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName"
MARITAL_URL = "http://example.org/SearchParameter/patient-marital-status"
STRICT = {"Prefer": "handling=strict"}


def search_parameter(sp_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "SearchParameter",
        "id": sp_id,
        "url": MARITAL_URL,
        "name": "MaritalStatus",
        "status": "active",
        "description": "The patient's marital status.",
        "code": "marital",
        "base": ["Patient"],
        "type": "token",
        "expression": "Patient.maritalStatus",
        **fields,
    }


def mothers_maiden_name(sp_id: str = "mmn") -> dict[str, Any]:
    return search_parameter(
        sp_id, url=MMN_URL, name="MothersMaidenName", code="mothers-maiden-name", type="string",
        expression=f"Patient.extension('{MMN_EXTENSION}')",
    )  # fmt: skip


def married(pid: str) -> dict[str, Any]:
    status = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "code": "M"}]}
    return patient(id=pid, maritalStatus=status)


def ids(client: FlaskClient, url: str, **headers: str) -> list[str]:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return sorted(e["resource"]["id"] for e in response.get_json().get("entry", []) if e["search"]["mode"] == "match")


@pytest.fixture
def other_client(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FlaskClient]:
    """A second app on the same database, checking the marker every 50 ms instead of every second."""
    monkeypatch.setattr(registry_sync, "CHECK_INTERVAL", 0.05)
    other = create_app({"database_url": database_url, "base_url": "http://fhir.test/fhir", "auth": "off"})
    yield other.test_client()
    other.extensions["fhir_server"].engine.dispose()


def test_posted_parameter_is_indexed_and_searchable(client: FlaskClient) -> None:
    assert post(client, mothers_maiden_name()).status_code == 201
    extension = [{"url": MMN_EXTENSION, "valueString": "Windsor"}]
    assert put(client, patient(id="w", extension=extension)).status_code == 201
    assert put(client, patient(id="s", extension=[{"url": MMN_EXTENSION, "valueString": "Smith"}])).status_code == 201
    assert ids(client, "/fhir/Patient?mothers-maiden-name=winds", **STRICT) == ["w"]
    assert ids(client, "/fhir/Patient?mothers-maiden-name:exact=Smith") == ["s"]


def test_capability_statement_lists_the_custom_parameter(client: FlaskClient) -> None:
    assert put(client, search_parameter("marital")).status_code == 201
    resources = client.get("/fhir/metadata").get_json()["rest"][0]["resource"]
    patient_entry = next(entry for entry in resources if entry["type"] == "Patient")
    assert {"name": "marital", "definition": MARITAL_URL, "type": "token"} in patient_entry["searchParam"]
    observation_entry = next(entry for entry in resources if entry["type"] == "Observation")
    assert "marital" not in {param["name"] for param in observation_entry["searchParam"]}


def test_resources_stored_before_the_parameter_are_found_after_a_reindex(app: Flask, client: FlaskClient) -> None:
    assert put(client, married("before")).status_code == 201
    assert put(client, search_parameter("marital")).status_code == 201
    assert put(client, married("after")).status_code == 201
    assert ids(client, "/fhir/Patient?marital=M") == ["after"]
    with unit_of_work(app.extensions["fhir_server"].sessions) as session:
        reindex_batch(SqlRepository(session), "Patient", 0)
    assert ids(client, "/fhir/Patient?marital=M") == ["after", "before"]


def test_another_process_sees_the_parameter_come_and_go(client: FlaskClient, other_client: FlaskClient) -> None:
    unknown = other_client.get("/fhir/Patient?marital=M", headers=STRICT)
    assert unknown.status_code == 400
    assert "`marital` is not a search parameter of `Patient`." in outcome_text(unknown)
    assert put(client, search_parameter("marital")).status_code == 201
    time.sleep(0.06)
    assert put(other_client, married("written-elsewhere")).status_code == 201  # indexed by the other process
    assert ids(other_client, "/fhir/Patient?marital=M", **STRICT) == ["written-elsewhere"]
    assert put(other_client, search_parameter("marital", status="retired")).status_code == 200
    assert client.get("/fhir/Patient?marital=M", headers=STRICT).status_code == 400  # the writer's own process: at once
    time.sleep(0.06)
    assert other_client.get("/fhir/Patient?marital=M", headers=STRICT).status_code == 400


def test_deleting_a_replacement_brings_the_official_parameter_back(client: FlaskClient) -> None:
    given_as_family = search_parameter("family", url="http://example.org/family", code="family", type="string",
                                       expression="Patient.name.given")  # fmt: skip
    assert put(client, given_as_family).status_code == 201
    assert put(client, patient(id="p1", name=[{"family": "Fam", "given": ["Giv"]}])).status_code == 201
    assert ids(client, "/fhir/Patient?family=giv") == ["p1"]
    assert client.delete("/fhir/SearchParameter/family").status_code in (200, 204)
    assert put(client, patient(id="p2", name=[{"family": "Fam", "given": ["Giv"]}])).status_code == 201
    assert ids(client, "/fhir/Patient?family=fam") == ["p2"]  # p1 keeps its old rows until a reindex
    resources = client.get("/fhir/metadata").get_json()["rest"][0]["resource"]
    family = next(
        p for p in next(e for e in resources if e["type"] == "Patient")["searchParam"] if p["name"] == "family"
    )
    assert family["definition"] == "http://hl7.org/fhir/SearchParameter/individual-family"


def test_an_unusable_parameter_is_refused_with_its_reason(client: FlaskClient) -> None:
    broken = search_parameter("broken", expression="Observation.code")
    response = put(client, broken)
    assert response.status_code == 400
    assert (
        outcome_text(response)
        == f"The `expression` of SearchParameter `{MARITAL_URL}` has no branch for its base `Patient`."
    )
    assert response.get_json()["issue"][0]["expression"] == ["SearchParameter.expression"]
    assert put(client, {**broken, "status": "draft"}).status_code == 400  # checked before it is switched on
    assert put(client, {**broken, "status": "retired"}).status_code == 201  # a document only
    assert client.get("/fhir/SearchParameter/broken").status_code == 200
    validated = client.post(
        "/fhir/SearchParameter/$validate", json=broken, headers={"Content-Type": "application/fhir+json"}
    )
    assert validated.status_code == 200
    assert validated.get_json()["issue"] == response.get_json()["issue"]


def test_a_second_parameter_with_the_same_code_is_refused(client: FlaskClient) -> None:
    assert put(client, search_parameter("first")).status_code == 201
    response = put(client, search_parameter("second", url="http://example.org/second"))
    assert response.status_code == 400
    assert outcome_text(response) == (
        "The SearchParameter `http://example.org/second` cannot be active: `SearchParameter/first` "
        f"(`{MARITAL_URL}`) already defines the code `marital` on `Patient`."
    )
    assert put(client, search_parameter("first", description="Edited.")).status_code == 200  # itself is no clash


def test_a_copy_of_an_official_definition_is_stored_as_a_document(client: FlaskClient) -> None:
    copy = search_parameter("gender", url="http://hl7.org/fhir/SearchParameter/individual-gender", code="gender",
                            expression="Patient.gender | Person.gender | Practitioner.gender | RelatedPerson.gender",
                            status="draft")  # fmt: skip
    assert put(client, copy).status_code == 201


def test_a_transaction_with_an_unusable_parameter_stores_nothing(client: FlaskClient) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": patient(), "request": {"method": "POST", "url": "Patient"}},
            {
                "resource": search_parameter("bad", code="_bad"),
                "request": {"method": "PUT", "url": "SearchParameter/bad"},
            },
        ],
    }
    response = client.post("/fhir", json=bundle, headers={"Content-Type": "application/fhir+json"})
    assert response.status_code == 400
    assert "has code `_bad`: codes beginning with `_` are reserved" in outcome_text(response)
    assert ids(client, "/fhir/Patient") == []


def test_between_checks_a_repository_costs_no_query(app: Flask, engine: Engine) -> None:
    sessions = make_session_factory(engine)
    with sessions() as session:
        SqlRepository(session)  # the first one reads the marker
        statements: list[str] = []

        def seen(*args: Any) -> None:
            statements.append(args[2])

        event.listen(engine, "before_cursor_execute", seen)
        try:
            for _ in range(100):
                SqlRepository(session)
        finally:
            event.remove(engine, "before_cursor_execute", seen)
    assert statements == []


def test_a_replaced_registry_is_freed_with_its_plans(app: Flask, client: FlaskClient) -> None:
    engine = app.extensions["fhir_server"].engine
    assert put(client, search_parameter("marital")).status_code == 201
    assert put(client, married("m")).status_code == 201  # builds the Patient extraction plan
    replaced = weakref.ref(registry_sync.custom_parameters(engine).registry)
    assert put(client, mothers_maiden_name()).status_code == 201
    assert registry_sync.custom_parameters(engine).registry is not replaced()
    gc.collect()
    assert replaced() is None


def test_a_failed_check_keeps_the_last_snapshot_but_a_failed_first_load_raises(
    app: Flask, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    known = registry_sync.custom_parameters(engine)
    monkeypatch.setattr(registry_sync, "_MARKER", text("SELECT count(*) FROM no_such_table"))
    assert registry_sync.custom_parameters(engine, fresh=True) is known
    registry_sync._syncs.pop(engine)
    with pytest.raises(DBAPIError):
        registry_sync.custom_parameters(engine)
