"""``fhir-server ml import-physionet`` on records with unusable rows: skip, store the rest, report (both backends)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from fhir_server.db import make_session_factory, unit_of_work
from ml.cli import ml
from ml.store import observations_for_patient, repository

from testdata import count_rows as _count

GOOD = "Time,Parameter,Value\n00:00,RecordID,1\n00:00,Age,60\n00:10,HR,80\n00:40,HR,84\n"
# Rows the challenge's public data really has (an empty parameter name) and other unusable ones.
BAD_ROWS = (
    "Time,Parameter,Value\n"
    "00:00,RecordID,2\n"  # line 2
    "00:00,Age,70\n"  # line 3
    "11:03,,3.2\n"  # line 4: empty parameter name
    "11:05,HR,fast\n"  # line 5: value not a number
    "11:10,Mood,3\n"  # line 6: unknown parameter
    "1x:10,HR,90\n"  # line 7: bad time
    "11:20,,3.4\n"  # line 8: empty parameter name again
    "12:00,HR,95\n"  # line 9: kept
)


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(ml, ["import-physionet", *args])


@pytest.fixture
def folder(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FHIR_SERVER_DATABASE_URL", database_url)
    records = tmp_path / "set-a"
    records.mkdir()
    (records / "000001.txt").write_text(GOOD)
    (records / "000002.txt").write_text(BAD_ROWS)
    (records / "000003.txt").write_text("Time,Param,Value\n00:00,RecordID,3\n")  # no usable header: whole record
    return records


def test_unusable_rows_are_skipped_the_rest_stored_and_reported(
    folder: Path, database_url: str, engine: Engine
) -> None:
    result = _invoke(str(folder))
    assert result.exit_code == 0, result.output
    assert "Stored 9 resources from 2 records" in result.stdout
    bad = folder / "000002.txt"
    assert (
        f"imported 9 resources from 3 files; skipped 6 rows: empty parameter name (2; first: {bad} line 4), "
        f"value not a number (1; first: {bad} line 5), unknown parameter (1; first: {bad} line 6), "
        f"bad time (1; first: {bad} line 7), record not readable (1; first: {folder / '000003.txt'})"
    ) in result.stderr
    assert f"skipped {bad} line 8: Line 8: the parameter name at `11:20` is empty." in result.stderr
    assert f"skipped {folder / '000003.txt'}: " in result.stderr and "expected header" in result.stderr
    sessions = make_session_factory(engine)
    with unit_of_work(sessions, write=False) as session:
        kept = observations_for_patient(session, "physionet2012-2")
        patient = orjson.loads(repository(session).read("Patient", "physionet2012-2").content or b"{}")
    assert sorted(o["id"] for o in kept) == ["physionet2012-2-L3", "physionet2012-2-L9"]
    assert patient["identifier"][0]["value"] == "2"
    assert _count(database_url, "SELECT count(*) FROM resource WHERE resource_type = 'Patient'") == 2


def test_strict_exits_1_and_a_second_run_stores_no_duplicates(folder: Path, database_url: str) -> None:
    strict = _invoke(str(folder), "--strict")
    assert strict.exit_code == 1
    assert "skipped 6 rows" in strict.stderr
    resources = "SELECT count(*) FROM resource"
    versions = "SELECT count(*) FROM resource_history"
    assert (_count(database_url, resources), _count(database_url, versions)) == (9, 9)
    again = _invoke(str(folder), "--batch-size", "1")
    assert again.exit_code == 0, again.output
    assert "imported 9 resources from 3 files; skipped 6 rows" in again.stderr
    # Same ids, same content: no new resources and no new versions either.
    assert (_count(database_url, resources), _count(database_url, versions)) == (9, 9)


def test_a_rerun_after_fixing_the_file_leaves_no_stale_observations(folder: Path, engine: Engine) -> None:
    assert _invoke(str(folder)).exit_code == 0
    fixed = BAD_ROWS.replace("11:03,,3.2\n", "").replace("11:20,,3.4\n", "")  # lines shift up by one and two
    (folder / "000002.txt").write_text(fixed)
    (folder / "000003.txt").unlink()
    result = _invoke(str(folder))
    assert result.exit_code == 0, result.output
    assert "skipped 3 rows" in result.stderr
    with unit_of_work(make_session_factory(engine), write=False) as session:
        kept = observations_for_patient(session, "physionet2012-2")
    # Age (line 3) and the last HR (now line 7); the old L9 is gone, not left behind.
    assert sorted((o["id"], o["code"]["coding"][-1]["code"]) for o in kept) == [
        ("physionet2012-2-L3", "Age"),
        ("physionet2012-2-L7", "HR"),
    ]


def test_a_folder_where_nothing_is_usable_exits_1(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FHIR_SERVER_DATABASE_URL", database_url)
    (tmp_path / "000009.txt").write_text("not a record\n")
    result = _invoke(str(tmp_path))
    assert result.exit_code == 1
    assert (
        f"imported 0 resources from 1 file; skipped 1 row: record not readable (1; first: {tmp_path / '000009.txt'})"
        in result.stderr
    )


def test_training_features_leave_out_the_rows_the_importer_skips(tmp_path: Path) -> None:
    import numpy as np

    from ml.dataset import features_for_file

    path = tmp_path / "000002.txt"
    path.write_text(BAD_ROWS)
    clean = tmp_path / "000003.txt"
    clean.write_text("Time,Parameter,Value\n00:00,RecordID,2\n00:00,Age,70\n12:00,HR,95\n")
    features = features_for_file(path)
    assert features.basis == ("Observation/physionet2012-2-L3", "Observation/physionet2012-2-L9")
    np.testing.assert_array_equal(features.values, features_for_file(clean).values)


def test_impossible_values_are_stored_withheld_and_listed_not_skipped(
    tmp_path: Path, database_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FHIR_SERVER_DATABASE_URL", database_url)
    records = tmp_path / "set-b"
    records.mkdir()
    record = records / "000004.txt"
    record.write_text("Time,Parameter,Value\n00:00,RecordID,4\n00:00,Height,-1\n00:10,HR,0\n00:20,HR,88\n")
    result = _invoke("--strict", str(records))
    assert result.exit_code == 0, result.output  # nothing was skipped: --strict has no complaint
    assert (
        f"imported 4 resources from 1 file; flagged 1 implausible value (stored withheld; first: {record} line 4); "
        "skipped nothing"
    ) in result.stderr
    assert f"flagged {record} line 4: Recorded value 0 /min of HR withheld" in result.stderr
    with unit_of_work(make_session_factory(engine), write=False) as session:
        stored = {o["id"]: o for o in observations_for_patient(session, "physionet2012-4")}
    assert stored["physionet2012-4-L4"]["dataAbsentReason"]["coding"][0]["code"] == "error"
    assert stored["physionet2012-4-L5"]["valueQuantity"]["value"] == 88
    assert "physionet2012-4-L3" not in stored  # -1: not recorded
