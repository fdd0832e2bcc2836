"""PhysioNet Challenge 2012 records → FHIR R4, on real records and the source's quirks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conformance.validation import validate_resource
from ml.physionet import (
    DEFAULT_ANCHOR,
    Outcome,
    RecordError,
    parse_outcomes,
    parse_record,
    read_record,
    record_to_fhir,
)
from ml.physionet_codes import PARAMETER_SYSTEM, RECORD_ID_SYSTEM

from testdata import PHYSIONET_DIR

DATA = PHYSIONET_DIR
# An ordinary record, one with descriptors only, one with a pH of 735 and one
# with a temperature of -17.8 (0 °F converted): all quirks of PhysioNet's copy.
RECORDS = ["set-a/132539.txt", "set-a/140501.txt", "set-a/140525.txt", "set-a/132895.txt", "set-b/142731.txt"]


@pytest.mark.parametrize("name", RECORDS)
def test_every_resource_of_a_real_record_is_valid_r4(name: str) -> None:
    resources = record_to_fhir(read_record(DATA / name), Outcome(1, True, 3))
    for resource in resources:
        assert validate_resource(resource) == [], resource["id"]
    ids = [r["id"] for r in resources]
    assert len(ids) == len(set(ids))
    assert all(len(i) <= 64 for i in ids)


def test_record_132539_maps_descriptors_and_measurements() -> None:
    record = read_record(DATA / "set-a/132539.txt")
    patient, encounter, *observations = record_to_fhir(record)
    assert patient["id"] == "physionet2012-132539"
    assert patient["identifier"] == [{"system": RECORD_ID_SYSTEM, "value": "132539"}]
    assert patient["gender"] == "female"
    assert encounter["serviceType"]["coding"][0]["code"] == "4"
    assert encounter["status"] == "unknown"
    # Height and Weight are -1 (not recorded): no Observation for them.
    names = [o["code"]["coding"][-1]["code"] for o in observations]
    assert "Height" not in names
    assert names.count("Age") == 1
    first_hr = next(o for o in observations if o["code"]["coding"][-1]["code"] == "HR")
    assert first_hr["code"]["coding"][0] == {"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}
    assert first_hr["valueQuantity"]["code"] == "/min"
    assert first_hr["effectiveDateTime"] == "2012-01-01T00:07:00+00:00"
    assert first_hr["id"] == "physionet2012-132539-L9"
    assert all(o["resourceType"] == "Observation" for o in observations)
    assert all(o["subject"] == {"reference": "Patient/physionet2012-132539"} for o in observations)


def test_descriptor_only_record_gives_only_its_age() -> None:
    resources = record_to_fhir(read_record(DATA / "set-a/140501.txt"))
    assert [r["resourceType"] for r in resources] == ["Patient", "Encounter", "Observation"]
    assert resources[-1]["code"]["coding"][-1]["code"] == "Age"


def test_missing_values_are_dropped_and_impossible_ones_stored_withheld() -> None:
    text = "\n".join(
        [
            "Time,Parameter,Value",
            "00:00,RecordID,1",
            "00:00,Age,70",
            "00:00,Gender,-1",
            "00:00,Height,-1",
            "00:00,ICUType,2",
            "00:00,Weight,0",
            "00:10,HR,0",  # impossible zero
            "00:10,pH,735",  # impossible
            "00:10,Urine,0",  # anuria is real
            "00:10,FiO2,0.35",
            "00:10,NISysABP,120",
            "00:10,NISysABP,122",  # duplicate timestamp: both kept
            "00:10,SysABP,130",
            "00:20,MechVent,1",
            "00:30,Temp,-17.8",
        ]
    )
    resources = record_to_fhir(parse_record(text))
    assert "gender" not in resources[0]
    observations = {r["id"]: r for r in resources if r["resourceType"] == "Observation"}
    measured = [o for o in observations.values() if "dataAbsentReason" not in o]
    codes = [o["code"]["coding"][-1]["code"] for o in measured]
    assert codes == ["Age", "Urine", "FiO2", "NISysABP", "NISysABP", "SysABP", "MechVent"]
    # -1 is the challenge's "not recorded" (Height): no Observation. Impossible values are recording
    # errors: stored, so they can be traced to their row, but with the value only in a note.
    withheld = {o["code"]["coding"][-1]["code"]: o for o in observations.values() if "dataAbsentReason" in o}
    assert sorted(withheld) == ["HR", "Temp", "Weight", "pH"]
    for observation in withheld.values():
        assert not any(key.startswith("value") for key in observation)
        assert observation["dataAbsentReason"]["coding"][0]["code"] == "error"
    assert withheld["HR"]["note"] == [
        {"text": "Recorded value 0 /min of HR withheld: outside 1-300 /min, the possible range for heart rate."}
    ]
    assert withheld["pH"]["id"] == "physionet2012-1-L9"
    fio2 = next(o for o in observations.values() if o["code"]["coding"][-1]["code"] == "FiO2")
    assert fio2["valueQuantity"] == {"value": 35, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}
    invasive = observations["physionet2012-1-L14"]
    assert invasive["method"]["coding"][0]["code"] == "77938009"
    vent = next(o for o in observations.values() if o["code"]["coding"][0]["system"] == PARAMETER_SYSTEM)
    assert vent["valueBoolean"] is True
    for resource in resources:
        assert validate_resource(resource) == []


def test_outcome_sets_disposition_and_date_of_death() -> None:
    record = parse_record("Time,Parameter,Value\n00:00,RecordID,7\n")
    anchor = datetime(2020, 5, 1, 8, 30, tzinfo=UTC)
    patient, encounter = record_to_fhir(record, Outcome(7, True, 3), anchor=anchor)
    assert patient["deceasedDateTime"] == "2020-05-04"
    assert encounter["status"] == "finished"
    assert encounter["hospitalization"]["dischargeDisposition"]["coding"][0]["code"] == "exp"
    assert encounter["period"] == {"start": "2020-05-01T08:30:00+00:00"}


def test_outcomes_file_parses() -> None:
    outcomes = parse_outcomes((DATA / "Outcomes-a.txt").read_text())
    assert len(outcomes) == 4000
    assert outcomes[132539] == Outcome(132539, False, None)
    assert sum(o.in_hospital_death for o in outcomes.values()) == 554


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Time,Param,Value\n", "Line 1: expected header"),
        ("Time,Parameter,Value\n00:00,Age,3\n", "Line 2: `Age` comes before the RecordID."),
        ("Time,Parameter,Value\n00:00,RecordID,1\n0x:00,HR,3\n", "Line 3: time `0x:00` is not HH:MM."),
        ("Time,Parameter,Value\n00:00,RecordID,1\n01:00,HR,fast\n", "Line 3: value `fast` is not a number."),
        ("Time,Parameter,Value\n00:00,RecordID,1\n01:00,Mood,3\n", "Line 3: unknown parameter `Mood` at `01:00`."),
    ],
)
def test_malformed_records_name_the_line(text: str, message: str) -> None:
    with pytest.raises(RecordError, match=message.replace("(", r"\(").replace("`", "`")):
        parse_record(text)


def test_anchor_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="has no time zone"):
        record_to_fhir(parse_record("Time,Parameter,Value\n00:00,RecordID,1\n"), anchor=datetime(2012, 1, 1))
    assert DEFAULT_ANCHOR.utcoffset() is not None
