"""End to end over real MLLP sockets, on SQLite and PostgreSQL: inbox, mapping, ACKs, duplicates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from adapters.hl7v2.mapping.datatypes import deterministic_id

from .e2e import err, msa, read, rows, running

ADT = (
    "MSH|^~\\&|ADTAPP|GENHOSP|FHIR|FHIR|20240301101500+0100||ADT^A01^ADT_A01|ADT0001|P|2.5.1\r"
    "EVN|A01|20240301101500\r"
    "PID|1||4711^^^GENHOSP&1.2.3.4&ISO^MR||Muster^Erika^M^^Dr.^^L||19640812|F|||Hauptstr. 1^^Berlin^^10115^DE^H"
    "||^PRN^PH^^49^30^1234567~^NET^Internet^erika@example.org\r"
    "PV1|1|I|STATION1^101^2^GENHOSP||||||||||||||||V99^^^GENHOSP&1.2.3.4&ISO^VN|||||||||||||||||||||||||20240301100000\r"
)
ORU = (
    "MSH|^~\\&|LAB|GENHOSP|FHIR|FHIR|20240302120000+0100||ORU^R01^ORU_R01|LAB0001|P|2.5.1\r"
    "PID|1||4711^^^GENHOSP&1.2.3.4&ISO^MR||Muster^Erika\r"
    "OBR|1|PL1^GENHOSP|FL1^LAB|24323-8^Comprehensive metabolic panel^LN|||20240302090000|||||||||||||||20240302110000|||F\r"
    "OBX|1|NM|2345-7^Glucose^LN||182|mg/dL^mg/dL^UCUM|70-105|H|||F\r"
    "OBX|2|ST|2951-2^Sodium^LN||see note||||||F\r"
    "NTE|1||Haemolysed sample.\r"
)


def adt_patient_id() -> str:
    return deterministic_id("Patient", "urn:oid:1.2.3.4", "4711")


def test_adt_a01_is_stored_mapped_and_acknowledged(factory: sessionmaker[Session]) -> None:
    with running(factory) as client:
        ack = client.call(ADT.encode())
    assert msa(ack)[1:3] == ["AA", "ADT0001"]
    patient = read(factory, f"Patient/{adt_patient_id()}")
    assert patient["identifier"][0] == {
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
        "system": "urn:oid:1.2.3.4",
        "value": "4711",
    }
    assert patient["name"] == [{"use": "official", "family": "Muster", "given": ["Erika", "M"], "prefix": ["Dr."]}]
    assert patient["birthDate"] == "1964-08-12" and patient["gender"] == "female"
    assert patient["address"][0]["city"] == "Berlin"
    assert {"system": "email", "value": "erika@example.org", "use": "home"} in patient["telecom"]
    encounter = read(factory, "Encounter/" + deterministic_id("Encounter", "urn:oid:1.2.3.4", "V99"))
    assert encounter["status"] == "in-progress"
    assert encounter["class"]["code"] == "IMP"
    assert encounter["period"] == {"start": "2024-03-01T10:00:00+01:00"}
    assert encounter["location"][0]["location"]["display"] == "GENHOSP STATION1 101 2"
    [row] = rows(factory)
    assert (row.status, row.sending_application, row.sending_facility, row.control_id) == (
        "done",
        "ADTAPP",
        "GENHOSP",
        "ADT0001",
    )
    assert row.content == ADT.encode() and row.peer.startswith("127.0.0.1:")
    assert row.ack == ack


def test_adt_a03_finishes_the_encounter(factory: sessionmaker[Session]) -> None:
    discharge = ADT.replace("ADT^A01^ADT_A01|ADT0001", "ADT^A03^ADT_A03|ADT0002").replace(
        "20240301100000\r", "20240301100000|20240305120000\r"
    )
    with running(factory) as client:
        assert msa(client.call(ADT.encode()))[1] == "AA"
        assert msa(client.call(discharge.encode()))[1] == "AA"
    encounter = read(factory, "Encounter/" + deterministic_id("Encounter", "urn:oid:1.2.3.4", "V99"))
    assert encounter["status"] == "finished"
    assert encounter["period"]["end"] == "2024-03-05T12:00:00+01:00"
    assert encounter["meta"]["versionId"] == "2"


def test_oru_r01_maps_report_and_observations(factory: sessionmaker[Session]) -> None:
    with running(factory) as client:
        assert msa(client.call(ORU.encode()))[1:3] == ["AA", "LAB0001"]
    [row] = rows(factory)
    references = row.resources.split("\n") if row.resources else []
    report = read(factory, next(r for r in references if r.startswith("DiagnosticReport/")))
    assert report["status"] == "final"
    assert report["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "24323-8",
        "display": "Comprehensive metabolic panel",
    }
    assert report["subject"] == {"reference": f"Patient/{adt_patient_id()}"}
    glucose = read(factory, report["result"][0]["reference"])
    assert glucose["valueQuantity"] == {
        "value": 182,
        "unit": "mg/dL",
        "system": "http://unitsofmeasure.org",
        "code": "mg/dL",
    }
    assert glucose["referenceRange"][0]["low"]["value"] == 70
    assert glucose["interpretation"][0]["coding"][0]["code"] == "H"
    assert glucose["status"] == "final" and glucose["effectiveDateTime"] == "2024-03-02T09:00:00+01:00"
    sodium = read(factory, report["result"][1]["reference"])
    assert sodium["valueString"] == "see note" and sodium["note"] == [{"text": "Haemolysed sample."}]


def test_identical_resend_gets_the_stored_ack_and_is_not_applied_twice(factory: sessionmaker[Session]) -> None:
    with running(factory) as client:
        first = client.call(ORU.encode())
        second = client.call(ORU.encode())
    assert second == first
    [row] = rows(factory)
    assert row.status == "done"
    references = (row.resources or "").split("\n")
    assert all(read(factory, r)["meta"]["versionId"] == "1" for r in references)


def test_same_control_id_with_different_bytes_is_kept_for_review(factory: sessionmaker[Session]) -> None:
    with running(factory) as client:
        client.call(ORU.encode())
        ack = client.call(ORU.replace("182", "183").encode())
    assert msa(ack)[1] == "AE"
    assert err(ack)[2:4] == ["MSH^1^10", "205^Duplicate key identifier^HL70357"]
    first, second = rows(factory)
    assert (first.status, second.status) == ("done", "conflict")
    assert "already received with different content (inbox #" in (second.error or "")


def test_unparseable_message_is_rejected_with_ar(factory: sessionmaker[Session]) -> None:
    broken = ORU.replace("OBX|2|", "this is not a segment|2|")
    with running(factory) as client:
        ack = client.call(broken.encode())
    assert msa(ack)[1] == "AR"
    assert "is not an HL7 v2 segment" in err(ack)[8]
    [row] = rows(factory)
    assert row.status == "rejected"


def test_unsupported_message_type_is_rejected(factory: sessionmaker[Session]) -> None:
    query = ORU.replace("ORU^R01^ORU_R01", "QRY^A19^QRY_A19")
    with running(factory) as client:
        ack = client.call(query.encode())
    assert msa(ack)[1] == "AR"
    assert err(ack)[2:4] == ["MSH^1^9", "200^Unsupported message type^HL70357"]


def test_unmappable_message_gets_ae_naming_segment_and_field(factory: sessionmaker[Session]) -> None:
    with running(factory) as client:
        ack = client.call(ORU.replace("||182|", "||high|").encode())
    assert msa(ack)[1] == "AE"
    fields = err(ack)
    assert fields[2] == "OBX^1^5" and fields[3].startswith("102^")
    assert fields[8] == "OBX-5 value `high` is not a number, as value type `NM` requires."
    [row] = rows(factory)
    assert (row.status, row.error_location) == ("error", "OBX[1]-5")
    with pytest.raises(Exception, match="was not found"):
        read(factory, f"Patient/{adt_patient_id()}")  # nothing of the message was applied


def test_database_failure_never_gets_a_positive_ack(factory: sessionmaker[Session], monkeypatch: Any) -> None:
    engine = factory.kw["bind"]

    def fail_inbox_insert(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO HL7V2_INBOX"):
            raise RuntimeError("disk full")

    event.listen(engine, "before_cursor_execute", fail_inbox_insert)
    try:
        with running(factory) as client:
            ack = client.call(ADT.encode())
    finally:
        event.remove(engine, "before_cursor_execute", fail_inbox_insert)
    assert msa(ack)[1] == "AR"
    assert err(ack)[3].startswith("207^")
    assert rows(factory) == []


def test_enhanced_mode_gets_ca_after_commit_and_the_worker_maps(
    factory: sessionmaker[Session], wait_for: Callable[..., Any]
) -> None:
    enhanced = ADT.replace("|P|2.5.1\r", "|P|2.5.1|||AL|NE\r")
    with running(factory) as client:
        ack = client.call(enhanced.encode())
        assert msa(ack)[1:3] == ["CA", "ADT0001"]
        wait_for(lambda: rows(factory)[0].status == "done")
    assert read(factory, f"Patient/{adt_patient_id()}")["name"][0]["family"] == "Muster"
