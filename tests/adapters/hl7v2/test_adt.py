"""ADT over MLLP to the running listener: each trigger family, on v2.3, v2.5.1 and v2.8 messages.

The messages are written here (see ``adt_messages``); the resources are read
back through the repository and the fields that land in them asserted.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from .adt_messages import VERSIONS, encounter_id, message, patient_id, pid, pv1
from .e2e import msa, read, rows, running

FULL = (
    pid()
    + "PD1|||Praxis Nord^^P1|G200^Hausarzt^Hans\r"
    + "NK1|1|Muster^Max|SPO^Spouse^HL70063|Hauptstr. 1^^Berlin||^WPN^PH^^49^30^7654321\r"
    + pv1()
    + "PV2|||CHEST^Chest pain^L\r"
    + "OBX|1|NM|8302-2^Body height^LN||172|cm^cm^UCUM|||||F\r"
    + "AL1|1|DA|70618^Penicillin^RXNORM|SV|Hives\r"
    + "DG1|1||I21.9^Acute myocardial infarction^I10||20240301|A\r"
    + "PR1|1||0BH17EZ^Intubation^ICD10PCS||20240301110000\r"
    + "IN1|1|PLAN7^Basic|AOK01|AOK Nordost||||||||20240101|20241231|||||SEL||||||||||||||||||POL123||||||||||||M4711\r"
    + "IN2|M4711\r"
)


def written(factory: sessionmaker[Session]) -> dict[str, list[dict[str, Any]]]:
    """The resources of the last inbox row, by type."""
    row = rows(factory)[-1]
    found: dict[str, list[dict[str, Any]]] = {}
    for reference in (row.resources or "").split("\n"):
        if reference:
            found.setdefault(reference.split("/")[0], []).append(read(factory, reference))
    return found


def ack_errors(ack: bytes) -> list[str]:
    return [s for s in ack.decode("latin-1").split("\r") if s.startswith("ERR")]


@pytest.mark.parametrize("version", VERSIONS)
def test_a01_with_every_surrounding_segment(factory: sessionmaker[Session], version: str) -> None:
    with running(factory) as client:
        ack = client.call(message("A01", FULL, version).encode())
    assert msa(ack)[1] == "AA" and ack_errors(ack) == []
    found = written(factory)
    [patient], [encounter] = found["Patient"], found["Encounter"]
    assert patient["id"] == patient_id() and patient["birthDate"] == "1964-08-12"
    assert patient["generalPractitioner"][1] == {"identifier": {"value": "G200"}, "display": "Hans Hausarzt"}
    assert encounter["status"] == "in-progress" and encounter["class"]["code"] == "IMP"
    assert encounter["reasonCode"][0]["coding"][0]["code"] == "CHEST"
    assert encounter["participant"][0]["individual"]["display"] == "Dr. Anna Arzt"
    [related] = found["RelatedPerson"]
    assert related["name"][0]["family"] == "Muster" and related["relationship"][0]["coding"][0]["code"] == "SPO"
    assert related["patient"]["reference"] == f"Patient/{patient_id()}"
    [allergy] = found["AllergyIntolerance"]
    assert allergy["code"]["coding"][0]["code"] == "70618" and allergy["category"] == ["medication"]
    assert allergy["reaction"][0] == {"manifestation": [{"text": "Hives"}], "severity": "severe"}
    [condition] = found["Condition"]
    assert condition["code"]["coding"][0] == {
        "system": "http://hl7.org/fhir/sid/icd-10",
        "code": "I21.9",
        "display": "Acute myocardial infarction",
    }
    assert condition["encounter"]["reference"] == f"Encounter/{encounter['id']}"
    assert encounter["diagnosis"][0]["condition"]["reference"] == f"Condition/{condition['id']}"
    [procedure] = found["Procedure"]
    assert procedure["performedDateTime"] == "2024-03-01T11:00:00+01:00" and procedure["status"] == "completed"
    [coverage] = found["Coverage"]
    assert coverage["payor"][0]["display"] == "AOK Nordost" and coverage["subscriberId"] == "M4711"
    assert coverage["identifier"] == [{"value": "POL123"}] and coverage["period"]["end"] == "2024-12-31"
    [height] = found["Observation"]
    assert height["valueQuantity"]["value"] == 172


@pytest.mark.parametrize(
    ("event", "status"),
    [
        ("A01", "in-progress"),
        ("A02", "in-progress"),
        ("A04", "planned"),  # the IG's table 0003 map
        ("A05", "planned"),
        ("A06", "in-progress"),
        ("A07", "in-progress"),
        ("A08", "unknown"),  # not stored before: the IG's `unknown`
        ("A14", "planned"),
        ("A15", "unknown"),
        ("A16", "unknown"),
        ("A54", "unknown"),
    ],
)
@pytest.mark.parametrize("version", VERSIONS)
def test_visit_events_store_patient_and_encounter(
    factory: sessionmaker[Session], event: str, status: str, version: str
) -> None:
    with running(factory) as client:
        ack = client.call(message(event, pid() + pv1(), version).encode())
    assert msa(ack)[1] == "AA"
    assert read(factory, f"Encounter/{encounter_id()}")["status"] == status
    assert read(factory, f"Patient/{patient_id()}")["name"][0]["family"] == "Muster"


def test_discharge_and_a08_after_it(factory: sessionmaker[Session]) -> None:
    with running(factory) as client:
        client.call(message("A01", pid() + pv1(), control="1").encode())
        client.call(message("A03", pid() + pv1(end="20240305120000"), control="2").encode())
        # An update without PV1-45 keeps the stored status.
        client.call(message("A08", pid(name="Muster^Erika Maria") + pv1(), control="3").encode())
    encounter = read(factory, f"Encounter/{encounter_id()}")
    assert encounter["status"] == "finished" and encounter["period"]["end"] == "2024-03-05T12:00:00+01:00"
    assert encounter["statusHistory"] == [
        {"status": "in-progress", "period": {"start": "2024-03-01T10:00:00+01:00", "end": "2024-03-01T10:15:00+01:00"}}
    ]
    assert read(factory, f"Patient/{patient_id()}")["name"][0]["given"] == ["Erika Maria"]


def test_status_class_and_location_history(factory: sessionmaker[Session]) -> None:
    with running(factory) as client:
        client.call(message("A05", pid() + pv1(patient_class="O"), control="1").encode())
        client.call(message("A01", pid() + pv1(patient_class="O"), control="2").encode())
        client.call(message("A06", pid() + pv1(patient_class="I"), control="3").encode())
        moved = pv1(location="STATION2^201^1^GENHOSP").replace("|||||||||||||||||||", "|", 0)
        client.call(message("A02", pid() + moved, control="4").encode())
    encounter = read(factory, f"Encounter/{encounter_id()}")
    assert [h["status"] for h in encounter["statusHistory"]] == ["planned"]
    assert [h["class"]["code"] for h in encounter["classHistory"]] == ["AMB"]
    assert encounter["class"]["code"] == "IMP"
    assert [(loc["location"]["display"], loc["status"]) for loc in encounter["location"]] == [
        ("GENHOSP STATION1 101 2", "completed"),
        ("GENHOSP STATION2 201 1", "active"),
    ]


@pytest.mark.parametrize(
    ("event", "status"),
    [
        ("A11", "cancelled"),
        ("A12", "in-progress"),
        ("A13", "in-progress"),
        ("A21", "onleave"),
        ("A22", "in-progress"),
        ("A23", "entered-in-error"),
        ("A25", "in-progress"),
        ("A26", "in-progress"),
        ("A27", "cancelled"),
        ("A32", "in-progress"),
        ("A33", "in-progress"),
        ("A38", "cancelled"),
        ("A52", "in-progress"),
        ("A53", "onleave"),
    ],
)
def test_cancels_leaves_and_deletes_change_the_stored_encounter(
    factory: sessionmaker[Session], event: str, status: str
) -> None:
    with running(factory) as client:
        client.call(message("A01", pid() + pv1(end="20240305120000" if event == "A13" else ""), control="1").encode())
        ack = client.call(message(event, pid() + pv1(), control="2").encode())
    assert msa(ack)[1] == "AA" and ack_errors(ack) == []
    encounter = read(factory, f"Encounter/{encounter_id()}")
    assert encounter["status"] == status
    if event == "A13":
        assert "end" not in encounter["period"]
    assert encounter["class"]["code"] == "IMP"  # the rest of the stored Encounter is kept


@pytest.mark.parametrize("event", ["A11", "A13", "A23", "A27", "A38"])
@pytest.mark.parametrize("version", VERSIONS)
def test_cancel_of_an_unknown_visit_is_a_warning(factory: sessionmaker[Session], event: str, version: str) -> None:
    with running(factory) as client:
        ack = client.call(message(event, pid() + pv1(), version).encode())
    assert msa(ack)[1] == "AA"
    [err] = ack_errors(ack)
    assert "204" in err and "does not hold" in ack.decode()  # before v2.5 the text is in MSA-3
    if version != "2.3":
        assert err.split("|")[4] == "W"
    assert set(written(factory)) == {"Patient"}  # the patient the message carries, nothing else
    with pytest.raises(Exception, match="was not found"):
        read(factory, f"Encounter/{encounter_id()}")


@pytest.mark.parametrize("event", ["A28", "A31", "A48", "A60"])
def test_person_events_store_the_patient_only(factory: sessionmaker[Session], event: str) -> None:
    allergy = "AL1|1|FA|227493005^Cashew nut^SCT|MO|Swelling\r"
    with running(factory) as client:
        ack = client.call(message(event, pid() + allergy, structure="ADT_A05").encode())
    assert msa(ack)[1] == "AA"
    found = written(factory)
    assert set(found) == {"Patient", "AllergyIntolerance"}
    assert found["AllergyIntolerance"][0]["category"] == ["food"]
    assert found["AllergyIntolerance"][0]["reaction"][0]["severity"] == "moderate"


def test_a17_swaps_two_patients_beds(factory: sessionmaker[Session]) -> None:
    first = pid() + pv1(location="STATION1^102^1^GENHOSP")
    second = pid(mrn="4712", name="Beispiel^Bert") + pv1(visit="V77", location="STATION1^101^2^GENHOSP")
    with running(factory) as client:
        client.call(message("A01", pid() + pv1(), control="1").encode())
        ack = client.call(message("A17", first + second, control="2", structure="ADT_A17").encode())
    assert msa(ack)[1] == "AA"
    mine, theirs = read(factory, f"Encounter/{encounter_id()}"), read(factory, f"Encounter/{encounter_id('V77')}")
    assert mine["location"][-1] == {"location": {"display": "GENHOSP STATION1 102 1"}, "status": "active"}
    assert theirs["location"] == [{"location": {"display": "GENHOSP STATION1 101 2"}, "status": "active"}]
    assert theirs["subject"]["reference"] == f"Patient/{patient_id('4712')}"


def test_a29_retires_a_stored_patient_and_warns_for_an_unknown_one(factory: sessionmaker[Session]) -> None:
    with running(factory) as client:
        unknown = client.call(message("A29", pid(mrn="999"), control="0", structure="ADT_A21").encode())
        client.call(message("A28", pid(), control="1", structure="ADT_A05").encode())
        ack = client.call(message("A29", pid(), control="2", structure="ADT_A21").encode())
    assert msa(unknown)[1] == "AA" and "does not hold" in ack_errors(unknown)[0]
    assert ack_errors(ack) == []
    with pytest.raises(Exception, match="was not found"):
        read(factory, f"Patient/{patient_id('999')}")
    assert msa(ack)[1] == "AA" and read(factory, f"Patient/{patient_id()}")["active"] is False
