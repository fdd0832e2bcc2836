"""``fhir-server load`` through the bundle processor, batched and in parallel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from fhir_server.cli import main

from testdata import synthea_files

URN = "urn:uuid:5b0f2a8e-4c1e-4c3a-9d55-0a5e8d1f6b21"


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FHIR_SERVER_DATABASE_URL", database_url)
    return database_url


def scalar(url: str, sql: str) -> Any:
    engine = create_engine(url)
    with engine.connect() as connection:
        value = connection.execute(text(sql)).scalar_one()
    engine.dispose()
    return value


def bundle(kind: str, *entries: dict[str, Any]) -> bytes:
    return orjson.dumps({"resourceType": "Bundle", "type": kind, "entry": list(entries)})


def test_transaction_file_resolves_conditional_references(env: str, tmp_path: Path) -> None:
    org = {"resourceType": "Organization", "identifier": [{"system": "urn:org", "value": "o1"}], "name": "Clinic"}
    (tmp_path / "orgs.json").write_bytes(
        bundle("transaction", {"resource": org, "request": {"method": "POST", "url": "Organization"}})
    )
    patient = {"resourceType": "Patient", "managingOrganization": {"reference": "Organization?identifier=urn:org|o1"}}
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": {"reference": URN}}
    (tmp_path / "patient.json").write_bytes(
        bundle(
            "transaction",
            {"fullUrl": URN, "resource": patient, "request": {"method": "POST", "url": "Patient"}},
            {"resource": obs, "request": {"method": "POST", "url": "Observation"}},
        )
    )
    runner = CliRunner()
    assert runner.invoke(main, ["load", str(tmp_path / "orgs.json")]).exit_code == 0
    result = runner.invoke(main, ["load", str(tmp_path / "patient.json")])
    assert result.exit_code == 0, result.output
    assert "Stored 2 resources" in result.output
    org_id = scalar(env, "SELECT fhir_id FROM resource WHERE resource_type = 'Organization'")
    content = scalar(env, "SELECT content FROM resource WHERE resource_type = 'Patient'")
    stored = orjson.loads(content)
    assert stored["id"] == URN.removeprefix("urn:uuid:")
    assert stored["managingOrganization"]["reference"] == f"Organization/{org_id}"


def test_failed_transaction_file_stores_nothing_and_names_the_entry(env: str, tmp_path: Path) -> None:
    good = {"resourceType": "Patient"}
    bad = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "subject": {"reference": "Patient?identifier=none|0"},
    }
    path = tmp_path / "t.json"
    path.write_bytes(
        bundle(
            "transaction",
            {"resource": good, "request": {"method": "POST", "url": "Patient"}},
            {"resource": bad, "request": {"method": "POST", "url": "Observation"}},
        )
    )
    result = CliRunner().invoke(main, ["load", str(path)])
    assert result.exit_code == 1  # nothing stored
    assert f"transaction failed (1; first: {path} entry 1)" in result.stderr
    assert f"skipped {path} entry 1: Bundle entry 1 (`POST Observation`) failed: The conditional reference" in (
        result.stderr
    )
    assert scalar(env, "SELECT count(*) FROM resource") == 0
    assert scalar(env, "SELECT count(*) FROM spidx_token") == 0


def test_batch_file_keeps_the_good_entries(env: str, tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_bytes(
        bundle(
            "batch",
            {"resource": {"resourceType": "Patient"}, "request": {"method": "POST", "url": "Patient"}},
            {
                "resource": {"resourceType": "Patient", "birthDate": "x"},
                "request": {"method": "POST", "url": "Patient"},
            },
        )
    )
    result = CliRunner().invoke(main, ["load", str(path)])
    assert result.exit_code == 0, result.output
    assert "Stored 1 resources" in result.output and f"skipped {path} entry 1:" in result.stderr
    assert CliRunner().invoke(main, ["load", "--strict", str(path)]).exit_code == 1


def test_ndjson_is_batched_and_a_bad_line_is_isolated(env: str, tmp_path: Path) -> None:
    lines = [orjson.dumps({"resourceType": "Patient", "id": f"p{n}"}) for n in range(1200)]
    lines[700] = b'{"resourceType":"Patient","id":"bad","birthDate":"1999-99-99"}'
    (tmp_path / "many.ndjson").write_bytes(b"\n".join(lines))
    result = CliRunner().invoke(main, ["load", str(tmp_path / "many.ndjson")])
    assert result.exit_code == 0, result.output
    assert "Stored 1199 resources" in result.output
    assert f"invalid resource (1; first: {tmp_path / 'many.ndjson'} line 701)" in result.stderr


def test_parallel_load_of_synthea_is_idempotent(env: str) -> None:
    files = synthea_files()[:3]
    jobs = "1" if env.startswith("sqlite") else "2"
    first = CliRunner().invoke(main, ["load", "--jobs", jobs, *map(str, files)])
    assert first.exit_code == 0, first.output
    total = sum(len(orjson.loads(p.read_bytes())["entry"]) for p in files)
    assert f"Stored {total} resources from 3 files" in first.output
    resources = scalar(env, "SELECT count(*) FROM resource")
    versions = scalar(env, "SELECT count(*) FROM resource_history")
    again = CliRunner().invoke(main, ["load", "--jobs", jobs, *map(str, files)])
    assert again.exit_code == 0, again.output
    assert scalar(env, "SELECT count(*) FROM resource") == resources
    assert scalar(env, "SELECT count(*) FROM resource_history") == versions
