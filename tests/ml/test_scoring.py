"""The shipped model, scoring, and the ``ml`` commands end to end (both backends).

The only test module that imports TensorFlow (slow to import), so the rest of
the suite stays fast.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from testdata import PHYSIONET_DIR

pytest.importorskip("tensorflow", reason="the ml extra (TensorFlow) is not installed")

from conformance.validation import validate_resource
from fhir_server.db import make_session_factory, unit_of_work
from ml.cli import ml
from ml.dataset import features_for_file
from ml.model import TrainedModel, load_model
from ml.physionet import read_record, record_to_fhir
from ml.scoring import assess
from ml.store import PatientRecord, repository

DATA = PHYSIONET_DIR
RECORDS = ["132539", "132551", "140501"]


@pytest.fixture(scope="module")
def model() -> TrainedModel:
    return load_model()


def _record(record_id: str) -> PatientRecord:
    resources = record_to_fhir(read_record(DATA / "set-a" / f"{record_id}.txt"))
    return PatientRecord(resources[0], resources[1], [r for r in resources if r["resourceType"] == "Observation"])


def test_shipped_artifacts_are_small_and_describe_their_run(model: TrainedModel) -> None:
    artifacts = Path(__file__).resolve().parents[2] / "ml" / "artifacts"
    assert sum(p.stat().st_size for p in artifacts.iterdir()) < 5 * 1024 * 1024
    assert model.metadata["seed"] == 2012
    assert model.metadata["command"].startswith("fhir-server ml train")


def test_model_scores_real_records_deterministically(model: TrainedModel) -> None:
    features = [features_for_file(DATA / "set-a" / f"{r}.txt") for r in RECORDS[:2]]
    first = model.predict(features)
    assert list(model.predict(features[::-1])[::-1]) == list(first)
    # Values of the shipped model; a change means the model or the features changed.
    assert first == pytest.approx([0.00484931, 0.67523913], abs=1e-6)


def test_assess_writes_valid_risk_assessments_with_basis(model: TrainedModel) -> None:
    record = _record("132551")
    score = assess(record, model, threshold=0.5)
    by_type = {r["resourceType"] + "/" + r["id"]: r for r in score.resources}
    assert set(by_type) == {
        "RiskAssessment/physionet2012-132551-news2",
        "RiskAssessment/physionet2012-132551-mortality",
        "Flag/physionet2012-132551-mortality-flag",
    }
    for resource in score.resources:
        assert validate_resource(resource) == []
    mortality = by_type["RiskAssessment/physionet2012-132551-mortality"]
    assert mortality["status"] == "final"
    assert mortality["prediction"][0]["probabilityDecimal"] == pytest.approx(0.6752, abs=1e-4)
    assert mortality["prediction"][0]["qualitativeRisk"]["coding"][0]["code"] == "high"
    assert mortality["encounter"] == {"reference": "Encounter/physionet2012-132551-icu"}
    assert len(mortality["basis"]) == len({o["id"] for o in record.observations})
    # The challenge has no ACVPU, so NEWS2 is withheld and says why.
    news2 = by_type["RiskAssessment/physionet2012-132551-news2"]
    assert news2["status"] == "preliminary"
    assert "consciousness" in news2["note"][0]["text"]


def test_news2_is_scored_when_every_vital_sign_is_there(model: TrainedModel) -> None:
    at = datetime(2024, 1, 1, 12, tzinfo=UTC)

    def vital(oid: str, code: str, **value: Any) -> dict[str, Any]:
        return {
            "resourceType": "Observation", "id": oid, "status": "final", "effectiveDateTime": at.isoformat(),
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]}, **value,
        }  # fmt: skip

    def quantity(number: float, unit: str) -> dict[str, Any]:
        return {"valueQuantity": {"value": number, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}}

    observations = [
        vital("rr", "9279-1", **quantity(26, "/min")),
        vital("spo2", "59408-5", **quantity(96, "%")),
        vital("o2", "3150-0", **quantity(21, "%")),
        vital("bp", "8480-6", **quantity(120, "mm[Hg]")),
        vital("hr", "8867-4", **quantity(80, "/min")),
        vital("temp", "8310-5", **quantity(37, "Cel")),
        vital("avpu", "67775-7", valueCodeableConcept={"coding": [{"system": "http://loinc.org", "code": "LA9340-6"}]}),
    ]
    record = PatientRecord({"resourceType": "Patient", "id": "p1"}, None, observations)
    score = assess(record, model, now=at + timedelta(hours=1))
    news2 = score.resources[0]
    assert validate_resource(news2) == []
    assert news2["status"] == "final"
    assert news2["prediction"][0]["qualitativeRisk"]["text"] == "NEWS2 3 (low-medium clinical risk)"
    assert len(news2["basis"]) == 7
    # One hour of data: the model's estimate is only preliminary.
    assert score.resources[1]["status"] == "preliminary"


def _read(engine: Engine, resource_type: str, resource_id: str) -> dict[str, Any]:
    with unit_of_work(make_session_factory(engine), write=False) as session:
        content = repository(session).read(resource_type, resource_id).content
    return dict(orjson.loads(content or b"{}"))


def test_import_and_score_end_to_end(
    engine: Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FHIR_SERVER_DATABASE_URL", database_url)
    folder = tmp_path / "set"
    folder.mkdir()
    for record_id in RECORDS:
        shutil.copy(DATA / "set-a" / f"{record_id}.txt", folder)
    runner = CliRunner()
    result = runner.invoke(
        ml, ["import-physionet", str(folder), "--outcomes", str(DATA / "Outcomes-a.txt"), "--batch-size", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "from 3 records" in result.output
    assert (
        _read(engine, "Encounter", "physionet2012-132551-icu")["hospitalization"]["dischargeDisposition"]["coding"][0][
            "code"
        ]
        == "exp"
    )

    result = runner.invoke(ml, ["score", "--all", "--threshold", "0.5"])
    assert result.exit_code == 0, result.output
    assert "Scored 3 patients; 1 flagged" in result.output
    assessment = _read(engine, "RiskAssessment", "physionet2012-132551-mortality")
    assert assessment["prediction"][0]["probabilityDecimal"] == pytest.approx(0.6752, abs=1e-4)
    assert _read(engine, "Flag", "physionet2012-132551-mortality-flag")["status"] == "active"

    # A stricter threshold later: the Flag becomes inactive rather than lingering.
    result = runner.invoke(ml, ["score", "--patient", "physionet2012-132551", "--threshold", "0.9"])
    assert result.exit_code == 0, result.output
    flag = _read(engine, "Flag", "physionet2012-132551-mortality-flag")
    assert (flag["status"], flag["meta"]["versionId"]) == ("inactive", "2")


def test_score_command_checks_its_arguments_and_names_missing_patients(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FHIR_SERVER_DATABASE_URL", database_url)
    runner = CliRunner()
    result = runner.invoke(ml, ["score"])
    assert result.exit_code == 2
    assert "Give either --patient ID (one or more) or --all." in result.output
    result = runner.invoke(ml, ["score", "--patient", "ghost"])
    assert result.exit_code == 1
    assert "Resource `Patient/ghost` was not found." in result.output


def test_import_reports_a_broken_row_by_file_and_line(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FHIR_SERVER_DATABASE_URL", database_url)
    (tmp_path / "000001.txt").write_text("Time,Parameter,Value\n00:00,RecordID,1\n00:10,HR,80\n")
    (tmp_path / "000002.txt").write_text("Time,Parameter,Value\n00:00,RecordID,2\n00:10,HR,fast\n")
    result = CliRunner().invoke(ml, ["import-physionet", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "from 2 records" in result.output
    assert f"skipped {tmp_path / '000002.txt'} line 3: Line 3: value `fast` is not a number." in result.stderr
