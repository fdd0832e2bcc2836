"""Mapping without a database: against ReportStream's expected FHIR output, and unit cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.hl7v2.mapping import MappingError, UnsupportedMessage, to_fhir
from adapters.hl7v2.mapping.datatypes import fhir_datetime, hd_system
from adapters.hl7v2.parse import ParseError, parse_message
from conformance import validate_resource

RS = Path(__file__).parent / "data" / "reportstream"


def load(name: str) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Our resources for ``name.hl7`` and ReportStream's, by type."""
    ours = [m.resource for m in to_fhir((RS / f"{name}.hl7").read_text(encoding="utf-8"))]
    bundle = json.loads((RS / f"{name}.fhir.json").read_text(encoding="utf-8"))
    theirs: dict[str, list[dict[str, Any]]] = {}
    for entry in bundle["entry"]:
        theirs.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    return ours, theirs


def of_type(resources: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["resourceType"] == kind]


def codings(concept: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(c.get("system"), c["code"]) for c in concept.get("coding", [])]


@pytest.mark.parametrize(
    "name",
    [
        "OBX-to-Observation-nm-value",
        "OBX-to-Observation-sn-as-range-value",
        "OBX-to-Observation-cwe-value",
        "OBX-to-Observation-st-value",
    ],
)
def test_observations_match_reportstream(name: str) -> None:
    ours, theirs = load(name)
    [mine], [expected] = of_type(ours, "Observation"), theirs["Observation"]
    assert codings(mine["code"]) == codings(expected["code"])
    value_keys = {k for k in expected if k.startswith("value")}
    assert {k for k in mine if k.startswith("value")} == value_keys
    for key in value_keys:
        if key == "valueQuantity":
            assert (mine[key]["value"], mine[key]["unit"]) == (expected[key]["value"], expected[key]["unit"])
        elif key == "valueRange":
            for bound in ("low", "high"):
                assert mine[key][bound]["value"] == expected[key][bound]["value"]
                assert mine[key][bound]["unit"] == expected[key][bound]["unit"]
        elif key == "valueCodeableConcept":
            assert codings(mine[key]) == codings(expected[key])
        else:
            assert mine[key] == expected[key]
    if "status" in expected:
        assert mine["status"] == expected["status"]
    [report], [expected_report] = of_type(ours, "DiagnosticReport"), theirs["DiagnosticReport"]
    assert codings(report["code"]) == codings(expected_report["code"])
    assert report["status"] == expected_report["status"]
    assert all(not validate_resource(r) for r in ours)


def test_patient_matches_reportstream() -> None:
    ours, theirs = load("pid-to-patient-pid-fully-populated")
    [mine], [expected] = of_type(ours, "Patient"), theirs["Patient"]
    assert [i["value"] for i in mine["identifier"]] == [i["value"] for i in expected["identifier"]]
    assert [i["type"]["coding"][0]["code"] for i in mine["identifier"]] == ["MR", "SS"]
    # We follow the IG: an ISO OID in CX.4.2 becomes the system; ReportStream keeps the namespace.
    assert [i["system"] for i in mine["identifier"]] == [
        "urn:oid:2.16.840.1.113883.3.72.5.30.2",
        "urn:oid:2.16.840.1.113883.4.1",
    ]
    assert [(n["family"], n["given"]) for n in mine["name"]] == [(n["family"], n["given"]) for n in expected["name"]]
    assert (mine["gender"], mine["birthDate"]) == (expected["gender"], expected["birthDate"])
    assert [a["line"] for a in mine["address"]] == [a["line"] for a in expected["address"]]
    emails = [t["value"] for t in mine["telecom"] if t["system"] == "email"]
    assert emails == [t["value"] for t in expected["telecom"] if t["system"] == "email"]
    assert mine["deceasedDateTime"] == expected["deceasedDateTime"]
    # v2-0203 `SS` is the right identifier type, but outside R4's extensible identifier-type
    # value set: a warning, which leaves the Patient valid.
    assert [i for i in validate_resource(mine) if i.is_error] == []


def test_elr_sample_maps_to_valid_resources_with_stable_ids() -> None:
    text = (RS / "CA-20211001-sully.hl7").read_text(encoding="utf-8")
    first, second = to_fhir(text), to_fhir(text)
    assert [m.reference for m in first] == [m.reference for m in second]
    assert len({m.reference for m in first}) == len(first)  # repeated OBX set ids stay apart
    for mapped in first:
        # Warnings (an SSN identifier type outside the extensible value set) leave it valid.
        assert [i for i in validate_resource(mapped.resource) if i.is_error] == [], mapped.reference
    covid = next(m.resource for m in first if m.resource["resourceType"] == "Observation")
    assert codings(covid["valueCodeableConcept"]) == [("http://snomed.info/sct", "260373001")]


def test_vxu_maps_immunization() -> None:
    text = (
        "MSH|^~\\&|IIS|CLINIC|||20240101120000-0500||VXU^V04^VXU_V04|V1|P|2.5.1\r"
        "PID|1||P1^^^CLINIC^MR||Doe^Jane||20200101|F\r"
        "ORC|RE||197023^CLINIC\r"
        "RXA|0|1|20240101103000|20240101103000|08^Hep B^CVX|0.5|mL^mL^UCUM||00^New record^NIP001||||||L123|20250101|MSD^Merck^MVX|||CP|A\r"
        "RXR|C28161^Intramuscular^NCIT|LA^Left arm^HL70163\r"
    )
    [patient, immunization] = [m.resource for m in to_fhir(text)]
    assert immunization["vaccineCode"]["coding"][0] == {
        "system": "http://hl7.org/fhir/sid/cvx",
        "code": "08",
        "display": "Hep B",
    }
    assert immunization["occurrenceDateTime"] == "2024-01-01T10:30:00-05:00"
    assert (immunization["lotNumber"], immunization["expirationDate"], immunization["status"]) == (
        "L123",
        "2025-01-01",
        "completed",
    )
    assert immunization["patient"] == {"reference": f"Patient/{patient['id']}"}
    assert validate_resource(immunization) == []


def test_orm_maps_service_request() -> None:
    text = (
        "MSH|^~\\&|CPOE|HOSP|||20240101120000||ORM^O01^ORM_O01|O1|P|2.3\r"
        "PID|1||P1^^^HOSP^MR||Doe^Jane\r"
        "ORC|NW|ORD1^HOSP||||||||||123^Smith^John\r"
        "OBR|1|ORD1^HOSP||2345-7^Glucose^LN\r"
    )
    request = to_fhir(text)[1].resource
    assert (request["status"], request["intent"]) == ("active", "order")
    assert request["identifier"][0]["value"] == "ORD1"
    assert request["code"]["coding"][0]["code"] == "2345-7"
    assert validate_resource(request) == []


def test_adt_without_patient_identifier_names_pid_3() -> None:
    with pytest.raises(MappingError, match=r"PID-3 \(patient identifier list\) is empty") as caught:
        to_fhir("MSH|^~\\&|A|B|||20240101||ADT^A28|1|P|2.5\rPID|1||||Doe^Jane\r")
    assert caught.value.where == "PID[1]-3"


def test_unsupported_event_and_type() -> None:
    with pytest.raises(UnsupportedMessage, match="Trigger event `A20`"):
        to_fhir("MSH|^~\\&|A|B|||20240101||ADT^A20|1|P|2.5\rNPU|1|W1\r")
    with pytest.raises(UnsupportedMessage, match="Message type `MDM`"):
        to_fhir("MSH|^~\\&|A|B|||20240101||MDM^T02|1|P|2.5\r")


def test_parse_errors_and_escapes() -> None:
    with pytest.raises(ParseError, match="does not start with an MSH"):
        parse_message("PID|1\r")
    message = parse_message("MSH|^~\\&|A\rNTE|1||a\\F\\b\\S\\c\\.br\\d~second\r")
    nte = message.all("NTE")[0]
    assert nte.get(3) == "a|b^c\nd"
    assert nte.text(3) == "a|b^c\nd\nsecond"


@pytest.mark.parametrize(
    ("value", "tz", "expected"),
    [
        ("2024", "", "2024"),
        ("202403", "", "2024-03"),
        ("20240302", "", "2024-03-02"),
        ("202403021015", "", "2024-03-02T10:15:00Z"),
        ("20240302101530.25-0500", "", "2024-03-02T10:15:30.25-05:00"),
        ("20240302101530", "+0100", "2024-03-02T10:15:30+01:00"),
        ("yesterday", "", None),
    ],
)
def test_fhir_datetime(value: str, tz: str, expected: str | None) -> None:
    assert fhir_datetime(value, tz) == expected


def test_hd_system() -> None:
    assert hd_system("NIST MPI", "2.16.1", "ISO") == "urn:oid:2.16.1"
    assert hd_system("NIST MPI", "", "") == "NIST%20MPI"
    assert hd_system("", "", "") is None
