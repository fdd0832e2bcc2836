"""Reading a patient's Observations back through the repository (both backends)."""

from __future__ import annotations

from sqlalchemy import Engine

from fhir_server.db import make_session_factory, unit_of_work
from ml.physionet import parse_record, record_to_fhir
from ml.store import iter_patient_ids, load_patient, observations_for_patient, repository, store_resources

RECORD = "\n".join(
    [
        "Time,Parameter,Value",
        "00:00,RecordID,41",
        "00:00,Age,50",
        "00:00,Gender,1",
        "00:00,ICUType,3",
        "00:05,HR,88",
        "00:05,pH,735",
        "01:05,HR,92",
    ]
)


def test_observations_come_back_in_index_order_and_deleted_ones_are_skipped(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    resources = record_to_fhir(parse_record(RECORD))
    with unit_of_work(sessions) as session:
        assert store_resources(session, resources) == len(resources)
    with unit_of_work(sessions) as session:
        # Importing twice writes new versions, never duplicates.
        store_resources(session, resources)
        repository(session).delete("Observation", "physionet2012-41-L8")
    with unit_of_work(sessions, write=False) as session:
        observations = observations_for_patient(session, "physionet2012-41")
        record = load_patient(session, "physionet2012-41")
        assert observations_for_patient(session, "nobody") == []
        assert list(iter_patient_ids(session, page_size=1)) == ["physionet2012-41"]
    assert [o["id"] for o in observations] == ["physionet2012-41-L3", "physionet2012-41-L6"]
    assert all(o["meta"]["versionId"] == "2" for o in observations)
    assert record.patient["gender"] == "male"
    assert record.encounter is not None and record.encounter["id"] == "physionet2012-41-icu"


def test_iter_patient_ids_skips_deleted_patients(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    with unit_of_work(sessions) as session:
        for pid in ("a", "b", "c"):
            repository(session).update("Patient", pid, {"resourceType": "Patient", "id": pid})
        repository(session).delete("Patient", "b")
    with unit_of_work(sessions, write=False) as session:
        assert sorted(iter_patient_ids(session, page_size=2)) == ["a", "c"]
