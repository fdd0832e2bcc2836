"""The ML module's writes are AuditEvents: PhysioNet imports (110107), automatic and CLI scoring (110100)."""

from __future__ import annotations

import getpass
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from audit_trail import ACTIVITY, audit_events, references, requestor
from click.testing import CliRunner
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from stand_in_model import StandInModel

from fhir_server.db import make_session_factory, unit_of_work
from ml.auto_risk import AutoRiskScorer
from ml.cli import ml
from ml.store import store_resources

from testdata import PHYSIONET_DIR

HEART_RATE = {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}
OBSERVATION = {
    "resourceType": "Observation", "id": "o1", "status": "final", "code": HEART_RATE,
    "subject": {"reference": "Patient/p"}, "effectiveDateTime": "2024-01-01T10:00:00+00:00",
    "valueQuantity": {"value": 80, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
}  # fmt: skip


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def scorer(sessions: sessionmaker[Session]) -> Iterator[AutoRiskScorer]:
    running = AutoRiskScorer(sessions, StandInModel, delay=60, max_delay=60).start()  # type: ignore[arg-type]
    yield running
    running.stop()


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


class BrokenModel(StandInModel):
    """A model that fails as a broken artifact would."""

    def predict(self, features: Any) -> Any:
        raise RuntimeError("the model file is corrupt")


def test_automatic_scoring_that_fails_is_audited_as_server_failure(sessions: sessionmaker[Session]) -> None:
    with unit_of_work(sessions) as session:
        store_resources(session, [{"resourceType": "Patient", "id": "p"}, OBSERVATION])
    scorer = AutoRiskScorer(sessions, BrokenModel, delay=60, max_delay=60).start()  # type: ignore[arg-type]
    try:
        scorer.schedule("p")
        scorer.flush()
        wait_for(lambda: len(audit_events(sessions, "type=110100")) == 1)
    finally:
        scorer.stop()
    [failed] = audit_events(sessions, "patient=Patient/p&outcome=8")
    assert failed["outcomeDesc"] == "Scoring failed on the server." and "RiskAssessment/p-mortality" not in references(
        failed
    )


def test_automatic_scoring_is_audited_as_the_ml_module(sessions: sessionmaker[Session], scorer: AutoRiskScorer) -> None:
    with unit_of_work(sessions) as session:
        store_resources(session, [{"resourceType": "Patient", "id": "p"}, OBSERVATION])
    scorer.schedule("p")
    scorer.schedule("ghost")  # deleted or never stored: refused, and that is recorded too
    scorer.flush()
    wait_for(lambda: scorer.scored == ["p"] and scorer.pending() == [])
    wait_for(lambda: len(audit_events(sessions, "type=110100")) == 2)
    [scored] = audit_events(sessions, "type=110100&patient=Patient/p")
    assert (scored["subtype"][0], scored["action"], scored["outcome"]) == (
        {"system": ACTIVITY, "code": "ml-auto-risk"}, "E", "0",
    )  # fmt: skip
    assert requestor(scored)["name"] == "fhir-server ML automatic risk assessment"
    assert {"who": {"display": "stand-in 0"}, "name": "stand-in 0"}.items() <= scored["agent"][1].items()
    assert "RiskAssessment/p-mortality" in references(scored)
    assert audit_events(sessions, "entity=RiskAssessment/p-mortality") == [scored]
    [refused] = audit_events(sessions, "type=110100&patient=Patient/ghost")
    assert refused["outcome"] == "4" and "Patient/ghost" in refused["outcomeDesc"]


def test_import_physionet_is_audited_per_record(
    sessions: sessionmaker[Session], database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FHIR_SERVER_DATABASE_URL", database_url)
    for record_id in ("132539", "132551"):
        shutil.copy(PHYSIONET_DIR / "set-a" / f"{record_id}.txt", tmp_path)
    result = CliRunner().invoke(ml, ["import-physionet", str(tmp_path), "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    first, second = audit_events(sessions, f"subtype={ACTIVITY}|ml-import-physionet")
    assert (first["type"]["code"], first["outcome"]) == ("110107", "0")
    assert requestor(first)["name"] == getpass.getuser()
    assert [references(e) for e in (first, second)] == [
        {"Patient/physionet2012-132539"},
        {"Patient/physionet2012-132551"},
    ]
    [counts] = [e for e in second["entity"] if e.get("name") == str(tmp_path / "132551.txt")]
    assert {"type": "Encounter", "valueString": "1"} in counts["detail"]
    assert audit_events(sessions, "patient=Patient/physionet2012-132551&type=110107") == [second]
