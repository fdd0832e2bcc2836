"""The ``fhir-server`` command line: db upgrade and load."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from fhir_server.cli import main

from testdata import count_rows as _count
from testdata import synthea_files


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FHIR_SERVER_DATABASE_URL", database_url)
    return database_url


def test_db_upgrade_is_idempotent(env: str) -> None:
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output


def test_load_synthea_bundle_links_references(env: str, tmp_path: Path) -> None:
    bundle_file = synthea_files()[0]
    result = CliRunner().invoke(main, ["load", str(bundle_file)])
    assert result.exit_code == 0, result.output
    entries = orjson.loads(bundle_file.read_bytes())["entry"]
    assert f"Stored {len(entries)} resources" in result.output
    assert _count(env, "SELECT count(*) FROM resource") == len(entries)
    patient_id = _count(env, "SELECT count(*) FROM resource WHERE resource_type = 'Patient'")
    assert patient_id == 1
    encounter = _count(env, "SELECT count(*) FROM resource WHERE resource_type = 'Encounter'")
    assert encounter > 0


def test_load_ndjson_and_folder_report_failures_by_file_and_line(env: str, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.ndjson").write_bytes(
        b'{"resourceType":"Patient","id":"a"}\n{"resourceType":"Patient","id":"b","birthDate":"1999-99-99"}\n'
    )
    (folder / "broken.json").write_bytes(b"{not json")
    result = CliRunner().invoke(main, ["load", str(folder)])
    assert result.exit_code == 0, result.output
    assert "Stored 1 resources" in result.output
    assert f"skipped {folder / 'good.ndjson'} line 2: " in result.stderr
    assert f"skipped {folder / 'broken.json'}: not valid JSON" in result.stderr
    assert _count(env, "SELECT count(*) FROM resource") == 1


def test_load_of_missing_path_names_it(env: str) -> None:
    result = CliRunner().invoke(main, ["load", "/nonexistent/file.json"])
    assert result.exit_code != 0
    assert "/nonexistent/file.json: no such file or directory" in result.output


def test_reindex_rebuilds_index_rows(env: str) -> None:
    from fhir_server.db import make_engine

    runner = CliRunner()
    ndjson = b'{"resourceType":"Patient","id":"r1","name":[{"family":"Reindexed"}]}\n'
    path = (
        Path(env.split("///")[-1]).parent / "r.ndjson" if env.startswith("sqlite") else Path("/tmp/reindex-test.ndjson")
    )
    path.write_bytes(ndjson)
    assert runner.invoke(main, ["load", str(path)]).exit_code == 0
    indexed = _count(env, "SELECT count(*) FROM spidx_string WHERE normalized = 'reindexed'")
    assert indexed >= 2  # name and family at least
    engine = make_engine(env)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM spidx_string"))
    engine.dispose()
    assert _count(env, "SELECT count(*) FROM spidx_string WHERE normalized = 'reindexed'") == 0
    result = runner.invoke(main, ["reindex", "Patient"])
    assert result.exit_code == 0, result.output
    assert "Reindexed 1 resources of type Patient." in result.output
    assert _count(env, "SELECT count(*) FROM spidx_string WHERE normalized = 'reindexed'") == indexed
    assert runner.invoke(main, ["reindex", "Spaceship"]).exit_code != 0


def test_reindex_indexes_stored_resources_for_a_loaded_search_parameter(env: str, tmp_path: Path) -> None:
    """`load` (one process) stores a SearchParameter; `reindex` (another) indexes the patients stored before it."""
    runner = CliRunner()
    married = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "code": "M"}]}
    patients = tmp_path / "patients.ndjson"
    patients.write_bytes(b"".join(
        orjson.dumps({"resourceType": "Patient", "id": f"m{n}", "maritalStatus": married}) + b"\n" for n in range(3)
    ))  # fmt: skip
    search_parameter = tmp_path / "marital.json"
    search_parameter.write_bytes(orjson.dumps({
        "resourceType": "SearchParameter", "id": "marital", "url": "http://example.org/SearchParameter/marital",
        "name": "Marital", "status": "active", "description": "Marital status.", "code": "marital",
        "base": ["Patient"], "type": "token", "expression": "Patient.maritalStatus",
    }))  # fmt: skip
    assert runner.invoke(main, ["load", str(patients)]).exit_code == 0
    assert runner.invoke(main, ["load", str(search_parameter)]).exit_code == 0
    marital_rows = "SELECT count(*) FROM spidx_token WHERE param = 'marital'"
    assert _count(env, marital_rows) == 0
    result = runner.invoke(main, ["reindex", "Patient"])
    assert result.exit_code == 0, result.output
    assert "Reindexing" in result.output and "3/3" in result.output  # the progress bar
    assert "Reindexed 3 resources of type Patient." in result.output
    assert _count(env, marital_rows) == 3


def test_reindex_rebuilds_composite_rows(env: str, tmp_path: Path) -> None:
    from fhir_server.db import make_engine

    component = {
        "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
        "valueQuantity": {"value": 120},
    }
    observation = {
        "resourceType": "Observation",
        "id": "bp",
        "status": "final",
        "code": {"text": "BP"},
        "component": [component],
    }
    path = tmp_path / "bp.ndjson"
    path.write_bytes(orjson.dumps(observation) + b"\n")
    runner = CliRunner()
    assert runner.invoke(main, ["load", str(path)]).exit_code == 0
    query = (
        "SELECT count(*) FROM spidx_composite WHERE param = 'component-code-value-quantity' AND token1_code = '8480-6'"
    )
    assert _count(env, query) == 1
    engine = make_engine(env)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM spidx_composite"))
    engine.dispose()
    result = runner.invoke(main, ["reindex", "Observation"])
    assert result.exit_code == 0, result.output
    assert _count(env, query) == 1
    assert _count(env, "SELECT count(*) FROM spidx_composite WHERE param = 'combo-code-value-quantity'") == 1
