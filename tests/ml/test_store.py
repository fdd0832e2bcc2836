"""Reading a patient's Observations back through search (both backends)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from fhir_server.db import make_session_factory, unit_of_work
from ml import store
from ml.physionet import parse_record, record_to_fhir
from ml.store import (
    iter_patient_ids,
    load_encounter,
    load_patient,
    observations_for_patient,
    repository,
    store_resources,
)

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


def test_observations_are_found_by_subject_search_and_deleted_ones_are_skipped(engine: Engine) -> None:
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
    # L7 (pH 735) is stored withheld: found, but without a value.
    assert sorted(o["id"] for o in observations) == [
        "physionet2012-41-L3",
        "physionet2012-41-L6",
        "physionet2012-41-L7",
    ]
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


def test_search_follows_the_cursor_across_pages(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    sessions = make_session_factory(engine)
    resources = record_to_fhir(parse_record(RECORD))
    with unit_of_work(sessions) as session:
        store_resources(session, resources)
    monkeypatch.setattr(store, "PAGE_SIZE", 1)
    with unit_of_work(sessions, write=False) as session:
        found = observations_for_patient(session, "physionet2012-41")
    assert sorted(o["id"] for o in found) == [f"physionet2012-41-L{line}" for line in (3, 6, 7, 8)]


def test_encounter_scope_keeps_its_own_and_unattached_observations(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    subject = {"reference": "Patient/p"}
    heart_rate = {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}

    def observation(oid: str, encounter: str | None) -> dict[str, object]:
        resource: dict[str, object] = {
            "resourceType": "Observation",
            "id": oid,
            "status": "final",
            "code": heart_rate,
            "subject": subject,
        }
        if encounter is not None:
            resource["encounter"] = {"reference": f"Encounter/{encounter}"}
        return resource

    with unit_of_work(sessions) as session:
        store_resources(
            session,
            [
                {"resourceType": "Patient", "id": "p"},
                {
                    "resourceType": "Encounter",
                    "id": "old",
                    "status": "finished",
                    "class": {"code": "IMP"},
                    "subject": subject,
                    "period": {"start": "2020-01-01T00:00:00+00:00"},
                },
                {
                    "resourceType": "Encounter",
                    "id": "new",
                    "status": "in-progress",
                    "class": {"code": "IMP"},
                    "subject": subject,
                    "period": {"start": "2021-01-01T00:00:00+00:00"},
                },
                observation("o-old", "old"),
                observation("o-new", "new"),
                observation("o-none", None),
            ],
        )
    with unit_of_work(sessions, write=False) as session:
        latest = load_patient(session, "p")
        old = load_encounter(session, "old")
    assert latest.encounter is not None and latest.encounter["id"] == "new"
    assert sorted(o["id"] for o in latest.observations) == ["o-new", "o-none"]
    assert sorted(o["id"] for o in old.observations) == ["o-none", "o-old"]
    assert old.patient["id"] == "p"
