"""``fhir-server load`` records each stored transaction as an AuditEvent: the OS user, the patients, counts."""

from __future__ import annotations

import getpass
import socket
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from audit_trail import ACTIVITY, audit_events, references, requestor
from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from fhir_server.cli import main
from fhir_server.db import make_engine, make_session_factory

URN = "urn:uuid:5b0f2a8e-4c1e-4c3a-9d55-0a5e8d1f6b21"


@pytest.fixture
def sessions(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[sessionmaker[Session]]:
    monkeypatch.setenv("FHIR_SERVER_DATABASE_URL", database_url)
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


def ndjson(path: Path, *resources: dict[str, object]) -> Path:
    path.write_bytes(b"\n".join(orjson.dumps(resource) for resource in resources))
    return path


def test_ndjson_batch_is_audited_with_its_patients_and_counts(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    good = ndjson(
        tmp_path / "a.ndjson",
        {"resourceType": "Patient", "id": "p1"},
        {"resourceType": "Patient", "id": "p2"},
        {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"},
         "subject": {"reference": "Patient/p1"}},
    )  # fmt: skip
    bad = ndjson(tmp_path / "b.ndjson", {"resourceType": "Patient", "id": "p3", "birthDate": "1999-99-99"})
    # A batch with a refused line is stored line by line: each line its own transaction and AuditEvent.
    mixed = ndjson(
        tmp_path / "c.ndjson",
        {"resourceType": "Patient", "id": "p4"},
        {"resourceType": "Patient", "id": "p5", "birthDate": "1999-99-98"},
    )
    assert CliRunner().invoke(main, ["load", str(good), str(bad), str(mixed)]).exit_code == 0
    [stored] = audit_events(sessions, "patient=Patient/p1")
    assert (stored["type"]["code"], stored["subtype"][0]["code"], stored["outcome"]) == ("110107", "cli-load", "0")
    user = requestor(stored)
    assert (user["name"], user["network"]) == (getpass.getuser(), {"address": socket.gethostname(), "type": "1"})
    assert audit_events(sessions, "patient=Patient/p2") == [stored]
    [counts] = [e for e in stored["entity"] if e.get("name") == str(good)]
    assert counts["detail"] == [{"type": "Observation", "valueString": "1"}, {"type": "Patient", "valueString": "2"}]
    refused, refused_in_batch = audit_events(sessions, "outcome=4")
    assert "Patient/p3" in references(refused) and "1999-99-99" in refused["outcomeDesc"]
    assert "Patient/p5" in references(refused_in_batch)
    assert [e["outcome"] for e in audit_events(sessions, "patient=Patient/p4")] == ["0"]
    assert len(audit_events(sessions, f"subtype={ACTIVITY}|cli-load&agent-name={getpass.getuser()}")) == 4


def test_transaction_is_audited_naming_the_patient_it_created(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    def transaction(patient: dict[str, object]) -> dict[str, object]:
        return {"resourceType": "Bundle", "type": "transaction", "entry": [
            {"fullUrl": URN, "resource": patient, "request": {"method": "POST", "url": "Patient"}},
            {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                          "subject": {"reference": URN}}, "request": {"method": "POST", "url": "Observation"}},
        ]}  # fmt: skip

    (tmp_path / "t.json").write_bytes(orjson.dumps(transaction({"resourceType": "Patient"})))
    (tmp_path / "u.json").write_bytes(orjson.dumps(transaction({"resourceType": "Patient", "birthDate": "x"})))
    CliRunner().invoke(main, ["load", str(tmp_path / "t.json"), str(tmp_path / "u.json")])
    [stored] = audit_events(sessions, f"patient=Patient/{URN.removeprefix('urn:uuid:')}")
    assert stored["outcomeDesc"] == f"Stored 2 of 2 Bundle entries from {tmp_path / 't.json'}."
    [refused] = audit_events(sessions, "outcome=4")
    assert str(tmp_path / "u.json") in {e.get("name") for e in refused["entity"]}
