"""``ml score`` records what it wrote as DICOM 110100 Application Activity by the OS user, with the model.

Apart from tests/ml/test_audit.py because it loads the shipped model (TensorFlow, slow to import).
"""

from __future__ import annotations

import getpass
import shutil
from pathlib import Path

import pytest
from audit_trail import ACTIVITY, audit_events, references, requestor
from click.testing import CliRunner
from sqlalchemy import Engine

from fhir_server.db import make_session_factory

from testdata import PHYSIONET_DIR

pytest.importorskip("tensorflow", reason="the ml extra (TensorFlow) is not installed")

from ml.cli import ml

PATIENTS = ["physionet2012-132539", "physionet2012-132551"]


def test_score_command_is_audited_as_the_os_user(
    engine: Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FHIR_SERVER_DATABASE_URL", database_url)
    for patient in PATIENTS:
        shutil.copy(PHYSIONET_DIR / "set-a" / f"{patient.removeprefix('physionet2012-')}.txt", tmp_path)
    runner = CliRunner()
    assert runner.invoke(ml, ["import-physionet", str(tmp_path)]).exit_code == 0
    scored = runner.invoke(ml, ["score", "--patient", PATIENTS[0], "--patient", PATIENTS[1], "--threshold", "0.5"])
    assert scored.exit_code == 0, scored.output
    assert runner.invoke(ml, ["score", "--patient", "ghost"]).exit_code == 1
    sessions = make_session_factory(engine)
    [event] = audit_events(sessions, f"type=110100&subtype={ACTIVITY}|ml-score&outcome=0")
    assert requestor(event)["name"] == getpass.getuser()
    assert event["outcomeDesc"] == "Scored 2 patients; 1 flagged."
    assert {f"RiskAssessment/{patient}-mortality" for patient in PATIENTS} <= references(event)
    assert "Flag/physionet2012-132551-mortality-flag" in references(event)
    assert all(audit_events(sessions, f"type=110100&patient=Patient/{patient}") == [event] for patient in PATIENTS)
    [refused] = audit_events(sessions, "type=110100&outcome=4")
    assert "Patient/ghost" in references(refused)
