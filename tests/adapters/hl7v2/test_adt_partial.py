"""Partial data over MLLP: what can be mapped is stored, what cannot is named in an ERR of severity W."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from .adt_messages import VERSIONS, message, patient_id, pid, pv1
from .e2e import msa, read, rows, running

ALLERGY = "AL1|1|DA|70618^Penicillin^RXNORM|SV|Hives\r"


def stored_types(factory: sessionmaker[Session]) -> set[str]:
    return {r.split("/")[0] for r in (rows(factory)[-1].resources or "").split("\n") if r}


@pytest.mark.parametrize("version", VERSIONS)
def test_unidentifiable_visit_keeps_patient_and_other_segments(factory: sessionmaker[Session], version: str) -> None:
    with running(factory) as client:
        ack = client.call(message("A01", pid() + pv1(visit="") + ALLERGY, version).encode())
    assert msa(ack)[1] == "AA"
    assert b"PV1-19 (visit number) and PV1-44 (admit time) are both empty" in ack
    assert b"PV1^1^19" in ack
    if version != "2.3":
        assert b"|W|" in ack
    assert stored_types(factory) == {"Patient", "AllergyIntolerance"}


@pytest.mark.parametrize(
    ("segment", "text", "kept"),
    [
        ("AL1|1|DA||SV|Hives\r", b"AL1-3 (allergen code) is empty", {"Patient", "Encounter"}),
        ("DG1|1||||yesterday\r", b"DG1-3 (diagnosis code)", {"Patient", "Encounter"}),
        ("PR1|1||0BH17EZ^Intubation^ICD10PCS||not-a-time\r", b"PR1-5", {"Patient", "Encounter"}),
        ("IN1|1|PLAN7\r", b"IN1-3 (insurance company id)", {"Patient", "Encounter"}),
        ("NK1|1|Muster^Max|SPO|||||tomorrow\r", b"NK1-8", {"Patient", "Encounter"}),
        ("OBX|1|NM|8302-2^Body height^LN||tall|cm|||||F\r", b"OBX-5 value `tall`", {"Patient", "Encounter"}),
    ],
)
def test_a_segment_that_cannot_be_mapped_is_skipped(
    factory: sessionmaker[Session], segment: str, text: bytes, kept: set[str]
) -> None:
    with running(factory) as client:
        ack = client.call(message("A01", pid() + pv1() + segment).encode())
    assert msa(ack)[1] == "AA" and text in ack and b"|W|" in ack
    assert stored_types(factory) == kept


def test_bad_birth_date_is_left_out(factory: sessionmaker[Session]) -> None:
    with running(factory) as client:
        ack = client.call(message("A28", pid(birth="1964-08-12")).encode())
    assert msa(ack)[1] == "AA" and b"PID^1^7" in ack
    assert "birthDate" not in read(factory, f"Patient/{patient_id()}")


def test_visit_event_without_pv1_keeps_the_patient(factory: sessionmaker[Session]) -> None:
    with running(factory) as client:
        ack = client.call(message("A01", pid()).encode())
    assert msa(ack)[1] == "AA" and b"no PV1 segment" in ack
    assert stored_types(factory) == {"Patient"}


def test_nothing_usable_is_ae(factory: sessionmaker[Session]) -> None:
    with running(factory) as client:
        ack = client.call(message("A01", "PID|1||||Doe^Jane\r" + pv1()).encode())
    assert msa(ack)[1] == "AE" and b"PID-3" in ack
    assert rows(factory)[-1].status == "error"
